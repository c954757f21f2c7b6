"""Typed ``sync`` requests (engine/sync/requests.py): the Cloud Sync page builds the requests the CLI parses;
every field round-trips; the parsers' options are the requests' fields; the shown shell command is the request's."""
import shlex

import pytest

from config.errors import BadInput
from engine.sync import requests as R
from tests.request_checks import check_contract, round_trip

HUB = {"repo_id": "me/data", "repo_type": "model", "revision": "dev", "endpoint": "http://127.0.0.1:1", "token_file": "tok.txt"}
SEL = {"group": "training", "ids": ["features-1", "analysis-2"], "symbols": ["BTCUSDT"], "timeframes": ["15m", "1h"],
       "no_scalers": True, "ticks_dir": "/ticks", "dry_run": True, "commit_message": "hello"}
CONN = {"host": "gpu", "port": 2222, "user": "me", "key_file": "~/.ssh/id"}
ARCH = {"ids": ["features-1"], "include_ticks": True, "no_ask_ticks": True, "include_cache": True, "compression": 6}
CASES = [
    (R.HubTestRequest, ("sync", "hub", "test"), HUB),
    (R.HubUploadRequest, ("sync", "hub", "upload"), HUB | SEL | {"prune": True, "private": True}),
    (R.HubDownloadRequest, ("sync", "hub", "download"), HUB | SEL | {"local_dir": "/t", "replace": True}),
    (R.HubDeleteRequest, ("sync", "hub", "delete"), HUB | SEL),
    (R.HubDeleteAllRequest, ("sync", "hub", "delete-all"), HUB | {"dry_run": True, "commit_message": "bye", "confirm": "me/data"}),
    (R.SshTestRequest, ("sync", "ssh", "test"), CONN),
    (R.SshTrustRequest, ("sync", "ssh", "trust"), CONN | {"fingerprint": "SHA256:abc"}),
    (R.SshListRequest, ("sync", "ssh", "list"), CONN | {"path": "/storage/"}),
    (R.SshDownloadRequest, ("sync", "ssh", "download"), CONN | {"path": "r.tar.gz", "local_path": "/tmp", "no_import": True,
                                                                "replace": True, "sha256": "ab" * 32}),
    (R.SshUploadRequest, ("sync", "ssh", "upload"), CONN | ARCH | {"path": "/storage/", "archive": "archive-1", "file": "x.bin"}),
    (R.ArchiveTrainingRequest, ("sync", "ssh", "archive-training"), ARCH | {"output": "a.tar.gz"}),
    (R.ArchiveResultsRequest, ("sync", "ssh", "archive-results"), {"ids": ["model-1"], "kinds": ["model", "stage2"],
                                                                   "output": "r.tar.gz", "compression": 9}),
]


@pytest.mark.parametrize("cls,command,fields", CASES)
def test_every_field_round_trips_and_the_cli_options_are_the_fields(cls, command, fields):
    assert cls.command == command
    check_contract(cls, [fields])


def test_the_hub_ops_are_the_cli_ops():
    assert set(R.HUB_OPS) == {"upload", "download", "delete", "delete-all"}


def test_the_page_requests_are_the_commands_the_cli_accepts():
    # what pages/cloud_sync.py builds: the fields of the form, the symbols as typed; a plan is the same request dry
    req = R.HUB_OPS["upload"].build(repo_id="me/data", repo_type="dataset", endpoint="https://huggingface.co", group="training",
                                    ids=[], symbols="BTCUSDT, ETHUSDT", timeframes="", no_scalers=False, prune=False,
                                    private=True, commit_message=None)
    assert round_trip(req) == ["sync", "hub", "upload", "--repo-id", "me/data", "--endpoint", "https://huggingface.co",
                               "--group", "training", "--symbols", "BTCUSDT,ETHUSDT", "--private"]
    dry = round_trip(req.with_fields(dry_run=True))
    assert "--dry-run" in dry and [w for w in dry if w != "--dry-run"] == req.argv()
    assert round_trip(R.ArchiveTrainingRequest.build(no_ask_ticks=True, ids=[], include_ticks=False, include_cache=True)) == \
        ["sync", "ssh", "archive-training", "--no-ask-ticks", "--include-cache"]


def test_the_shown_command_is_the_requests_argv():
    from pages.cloud_sync_widgets import command_line

    req = R.SshListRequest.build(host="my host", path="/a b/")
    assert shlex.split(command_line(req)) == ["python", "-m", "engine", *req.argv()]


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="repo_id must be"):
        R.HubTestRequest.build(repo_id="")
    with pytest.raises(BadInput, match="compression must be an integer in \\[0, 9\\], got 10"):
        R.ArchiveResultsRequest.build(compression=10)
    with pytest.raises(BadInput, match="repo_type must be one of dataset, model"):
        R.HUB_OPS["delete"].build(repo_id="me/x", group="training", repo_type="space")
