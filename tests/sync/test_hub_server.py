"""The Hub-compatible test server behaves as the real huggingface_hub client expects:
repos, commits (regular, LFS single-part and multipart, deletes), tree / paths-info,
downloads with ranges, auth, 404s and injected 429 / 5xx."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub import errors as hfe

# the client's own LFS upload passes a file object as data=, which httpx2 deprecates (not ours to change)
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

REPO = "klinelab/test-data"


def api(server, token=None):
    return HfApi(endpoint=server.url, token=token if token is not None else server.token)


def test_commit_tree_download_round_trip(hub_server, tmp_path):
    hub_server.multipart_threshold = 300_000  # exercise the multipart LFS transfer with a small file
    hub_server.multipart_chunk = 128 * 1024
    a = api(hub_server)
    a.create_repo(REPO, repo_type="dataset")
    big = os.urandom(700_000)
    ops = [CommitOperationAdd("notes/readme.txt", b"hello\n"),
           CommitOperationAdd("klines/BTCUSDT/BTC_15m.parquet", b"PAR1" + os.urandom(5000)),
           CommitOperationAdd("models/big.bin", big)]
    info = a.create_commit(REPO, ops, commit_message="add files", repo_type="dataset")
    assert len(info.oid) == 40
    tree = {f.path: f for f in a.list_repo_tree(REPO, repo_type="dataset", recursive=True)}
    assert set(tree) == {".gitattributes", "notes", "notes/readme.txt", "klines", "klines/BTCUSDT",
                         "klines/BTCUSDT/BTC_15m.parquet", "models", "models/big.bin"}
    assert tree["models/big.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert tree["notes/readme.txt"].lfs is None and tree["notes/readme.txt"].size == 6
    top = [f.path for f in a.list_repo_tree(REPO, repo_type="dataset")]
    assert top == ["klines", "models", "notes", ".gitattributes"]
    assert [f.path for f in a.list_repo_tree(REPO, "klines", repo_type="dataset")] == ["klines/BTCUSDT"]
    pi = a.get_paths_info(REPO, ["models/big.bin", "klines", "missing.txt"], repo_type="dataset")
    assert [p.path for p in pi] == ["models/big.bin", "klines"]
    got = hf_hub_download(REPO, "models/big.bin", repo_type="dataset", local_dir=tmp_path / "dl", endpoint=hub_server.url)
    assert Path(got).read_bytes() == big
    got = hf_hub_download(REPO, "notes/readme.txt", repo_type="dataset", local_dir=tmp_path / "dl", endpoint=hub_server.url)
    assert Path(got).read_bytes() == b"hello\n"
    assert hub_server.requests("PUT", "/_lfs/part/")  # multipart really used
    # delete a folder and a file in one commit
    a.create_commit(REPO, [CommitOperationDelete("models/"), CommitOperationDelete("notes/readme.txt")],
                    commit_message="delete", repo_type="dataset")
    assert set(hub_server.files(REPO)) == {".gitattributes", "klines/BTCUSDT/BTC_15m.parquet"}
    commits = a.list_repo_commits(REPO, repo_type="dataset")
    assert [c.title for c in commits] == ["delete", "add files", "initial commit"]
    # unchanged files are not committed again: the client skips them (remote oid from preupload)
    same = a.create_commit(REPO, [CommitOperationAdd("klines/BTCUSDT/BTC_15m.parquet",
                                                     hub_server.files(REPO)["klines/BTCUSDT/BTC_15m.parquet"])],
                           commit_message="noop", repo_type="dataset")
    assert same.oid == commits[0].commit_id
    assert len(hub_server.commits(REPO)) == 3


def test_lfs_objects_already_uploaded_are_not_sent_again(hub_server):
    a = api(hub_server)
    a.create_repo(REPO, repo_type="dataset")
    data = os.urandom(50_000)
    a.preupload_lfs_files(REPO, [CommitOperationAdd("a.bin", data)], repo_type="dataset")
    assert len(hub_server.requests("PUT", "/_lfs/upload/")) == 1
    a.create_commit(REPO, [CommitOperationAdd("a.bin", data)], commit_message="a", repo_type="dataset")
    assert len(hub_server.requests("PUT", "/_lfs/upload/")) == 1  # the batch API said: already there
    assert hub_server.files(REPO)["a.bin"] == data


def test_auth_and_not_found(hub_server, tmp_path):
    anon, reader = api(hub_server, token=False), api(hub_server, token=hub_server.read_token)
    with pytest.raises(hfe.HfHubHTTPError) as e:
        anon.create_repo(REPO, repo_type="dataset")
    assert e.value.response.status_code == 401
    api(hub_server).create_repo(REPO, repo_type="dataset")
    with pytest.raises(hfe.HfHubHTTPError) as e:
        reader.create_commit(REPO, [CommitOperationAdd("x.txt", b"x")], commit_message="x", repo_type="dataset")
    assert e.value.response.status_code == 403
    with pytest.raises(hfe.HfHubHTTPError) as e:
        api(hub_server, token="hf_not_a_token").dataset_info(REPO)
    assert e.value.response.status_code == 401
    with pytest.raises(hfe.RepositoryNotFoundError):
        anon.dataset_info("klinelab/nope")
    with pytest.raises(hfe.RepositoryNotFoundError):
        hf_hub_download("klinelab/nope", "a.txt", repo_type="dataset", local_dir=tmp_path, endpoint=hub_server.url)
    with pytest.raises(hfe.EntryNotFoundError):
        hf_hub_download(REPO, "a.txt", repo_type="dataset", local_dir=tmp_path, endpoint=hub_server.url)
    with pytest.raises(hfe.RevisionNotFoundError):
        anon.dataset_info(REPO, revision="nobranch")
    with pytest.raises(hfe.EntryNotFoundError):
        api(hub_server).create_commit(REPO, [CommitOperationDelete("nothing.txt")], commit_message="d", repo_type="dataset")
    # private repos are invisible without a token
    api(hub_server).create_repo("klinelab/private", repo_type="dataset", private=True)
    with pytest.raises(hfe.RepositoryNotFoundError):
        anon.dataset_info("klinelab/private")
    assert reader.dataset_info("klinelab/private").private is True
    assert api(hub_server).whoami()["name"] == hub_server.user


def test_injected_429_is_retried_by_the_client(hub_server):
    a = api(hub_server)
    a.create_repo(REPO, repo_type="dataset")
    hub_server.fail_next(429, match=r"POST .*/preupload/", retry_after=0)
    a.create_commit(REPO, [CommitOperationAdd("x.txt", b"x")], commit_message="x", repo_type="dataset")
    statuses = [s for m, p, s in hub_server.requests("POST", "/preupload/")]
    assert statuses == [429, 200]
    hub_server.fail_next(503, match=r"GET /api/datasets/")
    with pytest.raises(hfe.HfHubHTTPError) as e:
        a.dataset_info(REPO)  # repo info is not retried by the client: our wrapper does it
    assert e.value.response.status_code == 503


def test_parent_commit_guard_and_range_requests(hub_server):
    a = api(hub_server)
    a.create_repo(REPO, repo_type="dataset")
    head = a.dataset_info(REPO).sha
    a.create_commit(REPO, [CommitOperationAdd("x.txt", b"0123456789")], commit_message="x", repo_type="dataset",
                    parent_commit=head)
    with pytest.raises(hfe.HfHubHTTPError) as e:
        a.create_commit(REPO, [CommitOperationAdd("y.txt", b"y")], commit_message="y", repo_type="dataset",
                        parent_commit=head)
    assert e.value.response.status_code == 412
    import httpx2

    r = httpx2.get(f"{hub_server.url}/datasets/{REPO}/resolve/main/x.txt", headers={"Range": "bytes=4-"})
    assert r.status_code == 206 and r.content == b"456789" and r.headers["Content-Range"] == "bytes 4-9/10"
