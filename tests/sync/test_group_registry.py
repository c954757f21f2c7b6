"""Hub groups are a registry of strategy objects: a group registered from this test file (an
artifact group for archives, under ``archives/<id>/``) is offered by the CLI and round-trips through
the real huggingface_hub client and the Hub-compatible test server with no other code; a subclass
overriding one step changes only that step.  The sync targets are a registry too."""
from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import main_json, snapshot

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

REPO = "klinelab/registry-test"


@pytest.fixture
def archives_group(monkeypatch):
    from engine.sync import groups

    monkeypatch.setattr(groups, "GROUPS", dict(groups.GROUPS))
    monkeypatch.setattr(groups, "ALIASES", dict(groups.ALIASES))
    return groups.register_group(groups.Group("archives", "archives/", ("archive",), "Archives (toy group of a test)",
                                              "Upload archives", "Delete archives"), "tarballs")


def _archive(ws):
    from engine.sync.archives import create

    return create(ws, "results", kinds=["stage2"])["archive_id"]


def _hub(server, token):
    from engine.hub import Hub

    return Hub(server.url, token, backoff_s=0.01)


def test_a_group_registered_from_a_test_round_trips(archives_group, artifacts, sample_ws, hub_server, tmp_path, capsys):
    from engine.sync import hub_sync
    from storage.artifacts import read_manifest
    from storage.workspace import Workspace

    assert {"group": "archives", "remote": "archives/", "kinds": ["archive"], "title": "Archives (toy group of a test)"} \
        in main_json(capsys, "sync", "hub", "groups")["groups"]
    aid = _archive(sample_ws)
    res = hub_sync.run(sample_ws, "upload", REPO, group="tarballs", hub=_hub(hub_server, hub_server.token))
    assert res["status"] == "succeeded" and res["plan"]["group"] == "archives"
    files = hub_server.files(REPO)
    assert f"archives/{aid}/manifest.json" in files and len(hub_server.commits(REPO)) == 2

    other = Workspace.open(tmp_path / "other")
    res = hub_sync.run(other, "download", REPO, group="archives", hub=_hub(hub_server, None))
    assert [a["id"] for a in res["artifacts"]] == [aid] and res["artifacts"][0]["status"] == "created"
    assert snapshot(other.artifact_dir("archive", aid)).keys() == snapshot(sample_ws.artifact_dir("archive", aid)).keys()
    assert read_manifest(other, aid).origin == f"huggingface:{REPO}"

    res = hub_sync.run(sample_ws, "delete", REPO, group="archives", hub=_hub(hub_server, hub_server.token))
    assert res["files"] == len(files) - 1 and not any(p.startswith("archives/") for p in hub_server.files(REPO))


def test_a_subclass_overrides_only_its_step(archives_group, artifacts, sample_ws, hub_server):
    """A group whose remote files named *.log are always kept: upload, prune and delete leave them alone."""
    from engine.sync import groups, hub_sync

    @dataclasses.dataclass(frozen=True)
    class KeepLogs(groups.Group):
        def kept_note(self, path, sel):
            return "logs stay" if path.endswith(".log") else ""

    groups.GROUPS["archives"] = KeepLogs(**{f.name: getattr(archives_group, f.name)
                                            for f in dataclasses.fields(archives_group)})
    hub_server.seed(REPO, {"archives/old.log": b"kept\n", "archives/stray/x.bin": b"\0" * 8})
    _archive(sample_ws)
    res = hub_sync.run(sample_ws, "upload", REPO, group="archives", prune=True, hub=_hub(hub_server, hub_server.token))
    status = {i["path"]: (i["status"], i["note"]) for i in res["plan"]["items"]}
    assert status["archives/old.log"] == ("kept", "logs stay") and status["archives/stray/x.bin"][0] == "removed"
    res = hub_sync.run(sample_ws, "delete", REPO, group="archives", hub=_hub(hub_server, hub_server.token))
    assert "archives/old.log" in hub_server.files(REPO)
    assert [p for p in hub_server.files(REPO) if p.startswith("archives/")] == ["archives/old.log"]


def test_registries_refuse_a_second_entry_of_the_same_name(ws, capsys):
    from engine.sync import groups, targets

    with pytest.raises(ValueError, match="registered already"):
        groups.register_group(groups.GROUPS["models"])
    with pytest.raises(ValueError, match="registered already"):
        targets.register_target(targets.TARGETS["hub"])
    assert list(targets.TARGETS) == ["hub", "ssh"]
    assert main_json(capsys, "sync", "history")["history"] == []
