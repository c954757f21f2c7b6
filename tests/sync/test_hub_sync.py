"""Hub groups through the real huggingface_hub client against the Hub-compatible test server:
plans (dry runs), each operation exactly ONE commit, round trips byte for byte, downloads
indexed with origin huggingface:<repo>, retries, resume, typed delete-all, and the token
never written anywhere."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli, snapshot
from tests.fixtures.hub_server import HubError

# the client's own LFS upload passes a file object as data=, which httpx2 deprecates (not ours to change)
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

REPO = "klinelab/sync-test"


def cli(*args, token=None, home=None, **kw):
    env = {"KLINELAB_HUB_BACKOFF_S": "0.01"}
    if token:
        env["HF_TOKEN"] = token
    if home:
        env["KLINELAB_HOME"] = str(home)
    return run_cli("sync", "hub", *args, env=env, **kw)


def ok(r) -> dict:
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout) if r.stdout.lstrip().startswith("{") else {"text": r.stdout}


def data_files(ws, kind, aid) -> dict[str, str]:
    d = ws.artifact_dir(kind, aid)
    return {k: v for k, v in snapshot(d).items() if k != "manifest.json"}


def test_round_trip_every_group_one_commit_each(artifacts, sample_ws, hub_server, tmp_path):
    """upload all groups -> delete one group -> download into a fresh workspace -> identical files."""
    from engine.hub import Hub
    from engine.sync import hub_sync
    from engine.sync.groups import Selection
    from storage.workspace import Workspace

    tok = hub_server.token
    hub = Hub(hub_server.url, tok, backoff_s=0.01)
    doc = ok(cli("upload", "--repo-id", REPO, "--group", "training", "--json", token=tok))  # as a user runs it
    assert doc["status"] == "succeeded" and doc["commit"] and len(hub_server.commits(REPO)) == 2
    for i, g in enumerate(["analysis", "models", "stage1", "stage2"]):
        res = hub_sync.run(sample_ws, "upload", REPO, group=g, hub=hub)
        assert res["status"] == "succeeded" and res["plan"]["summary"]["new"]["files"] >= 2
        assert len(hub_server.commits(REPO)) == 3 + i  # initial commit + exactly one per upload
    res = hub_sync.run(sample_ws, "upload", REPO, group="klines", selection=Selection(symbols=["BTCUSDT", "ETHUSDT"]), hub=hub)
    assert sorted(i["path"] for i in res["plan"]["items"]) == ["klines/BTCUSDT/BTC_15m.parquet", "klines/ETHUSDT/ETH_15m.parquet"]
    n = len(hub_server.commits(REPO))
    assert n == 7
    remote = hub_server.files(REPO)
    fs, an, mo, s1, s2 = (artifacts[k] for k in ("features", "analysis", "model", "stage1", "stage2"))
    assert f"training/{fs}/features.parquet" in remote and f"training/{fs}/excluded_features.txt" in remote
    assert f"training/{fs}/scalers/{mo}.json" in remote and f"training/{fs}/scalers/{s2}.json" in remote
    assert "v1_model/BTCUSDT/15m/classification.h5" in remote and f"models/{mo}/checkpoints/best.pt" in remote
    assert remote[f"analysis/{an}/feature_analysis_report.html"] == \
        (sample_ws.artifact_dir("analysis", an) / "feature_analysis_report.html").read_bytes()

    # a second upload of the same group is a plan of "unchanged" files and makes no commit
    res = hub_sync.run(sample_ws, "upload", REPO, group="models", hub=hub)
    assert set(res["plan"]["summary"]) == {"unchanged"} and res["commit"] is None
    assert len(hub_server.commits(REPO)) == n

    # delete one group: one commit, the other groups stay
    doc = ok(cli("delete", "--repo-id", REPO, "--group", "models", "--json", token=tok))
    assert doc["status"] == "succeeded" and len(hub_server.commits(REPO)) == n + 1
    assert not any(p.startswith("models/") for p in hub_server.files(REPO))
    assert f"stage2/{s2}/model.txt" in hub_server.files(REPO)

    # download everything into a fresh workspace: byte-identical data files, indexed, origin huggingface:<repo>
    other = Workspace.open(tmp_path / "other")
    doc = ok(cli("download", "--repo-id", REPO, "--group", "training", "--json", home=other.root))
    assert [a["id"] for a in doc["artifacts"]] == [fs]
    for g in ["analysis", "stage1", "stage2", "klines", "models"]:
        res = hub_sync.run(other, "download", REPO, group=g, hub=Hub(hub_server.url, None))
        if g == "models":
            assert res["files"] == 0  # deleted above
    assert len(hub_server.commits(REPO)) == n + 1  # downloads commit nothing
    from storage.catalog import Catalog

    cat = Catalog(other)
    for kind, aid in [("features", fs), ("analysis", an), ("stage2", s2)]:
        mine, theirs = data_files(sample_ws, kind, aid), data_files(other, kind, aid)
        assert {k: theirs.get(k) for k in mine} == mine  # byte for byte (the feature set also got its extras)
        assert kind == "features" or theirs == mine
        row = cat.get(aid)
        assert row["origin"] == f"huggingface:{REPO}" and row["kind"] == kind
    from storage.artifacts import read_manifest

    m = read_manifest(other, fs)
    assert m.parents == ["ohlcv-BTCUSDT-15m"] and m.extra["hub"]["repo_id"] == REPO
    assert sorted(m.extra["hub"]["extras"]) == sorted(["excluded_features.txt", "included_features.txt",
                                                       f"scalers/{mo}.json", f"scalers/{s2}.json"])
    s1_local = cat.query(kind="stage1").to_dict("records")
    assert len(s1_local) == 1 and s1_local[0]["origin"] == f"huggingface:{REPO}"
    for fn in ("classification.h5", "params.json"):
        assert (other.artifact_dir("stage1", s1_local[0]["id"]) / f"v1_model/BTCUSDT/15m/{fn}").read_bytes() == \
            (sample_ws.artifact_dir("stage1", s1) / f"v1_model/BTCUSDT/15m/{fn}").read_bytes()
    assert read_manifest(other, s1_local[0]["id"]).metrics == {"accuracy": 0.71, "f1": 0.4}
    from engine.data.store import load_candles

    for sym in ("BTCUSDT", "ETHUSDT"):
        assert load_candles(sample_ws, sym, "15m").equals(load_candles(other, sym, "15m"))
    # downloading again: everything unchanged, nothing rewritten; the origin workspace sees its own stage 1 model
    before = snapshot(other.artifacts_dir)
    for g in ("analysis", "klines"):
        res = hub_sync.run(other, "download", REPO, group=g, hub=hub)
        assert set(res["plan"]["summary"]) == {"unchanged"} and res["files"] == 0
    assert snapshot(other.artifacts_dir) == before
    res = hub_sync.run(sample_ws, "download", REPO, group="stage1", dry_run=True, hub=hub)
    assert {i["status"] for i in res["plan"]["items"]} == {"unchanged"}
    assert {i["artifact_id"] for i in res["plan"]["items"]} == {s1}
    hist = [json.loads(x) for x in (sample_ws.sync_history_path).read_text().splitlines()]
    assert [h["op"] for h in hist].count("upload") == 7 and hist[-1]["op"] == "delete"
    assert all(h["status"] in ("succeeded", "nothing to do") for h in hist)


def _hub(server, token="write"):
    from engine.hub import Hub

    return Hub(server.url, server.token if token == "write" else token, backoff_s=0.01)


def test_plan_statuses_dry_run_and_prune(artifacts, sample_ws, hub_server):
    from engine.sync import hub_sync
    from engine.sync.groups import Selection

    hub = _hub(hub_server)
    before = snapshot(sample_ws.root)
    doc = ok(cli("upload", "--repo-id", REPO, "--group", "analysis", "--dry-run", "--json", token=hub_server.token))
    assert doc["dry_run"] and doc["plan"]["head"] is None and set(doc["plan"]["summary"]) == {"new"}
    assert doc["plan"]["to_do"]["bytes"] > 0
    with pytest.raises(HubError, match="Repository not found"):
        hub_server.commits(REPO)  # a dry run creates nothing on the Hub...
    assert snapshot(sample_ws.root) == before  # ...nor in the workspace
    hub_sync.run(sample_ws, "upload", REPO, group="analysis", hub=hub)
    # another report appears locally; one only on the Hub
    from tests.fixtures.sync_artifacts import _analysis

    new_id = _analysis(sample_ws, artifacts["features"])
    hub_server.seed(REPO, {"analysis/someone-else/manifest.json": b"{}"})
    res = hub_sync.run(sample_ws, "upload", REPO, group="analysis", dry_run=True, hub=hub)
    by = {i["path"]: i["status"] for i in res["plan"]["items"]}
    assert by[f"analysis/{new_id}/excluded_features.txt"] == "new"
    assert by[f"analysis/{artifacts['analysis']}/excluded_features.txt"] == "unchanged"
    assert by["analysis/someone-else/manifest.json"] == "kept"
    res = hub_sync.run(sample_ws, "upload", REPO, group="analysis", prune=True, hub=hub)
    assert {i["path"]: i["status"] for i in res["plan"]["items"]}["analysis/someone-else/manifest.json"] == "removed"
    assert "analysis/someone-else/manifest.json" not in hub_server.files(REPO)
    # a download skips a Hub folder that is not a KlineLab artifact, with the reason
    hub_server.seed(REPO, {"analysis/loose-folder/report.csv": b"a,b\n"})
    res = hub_sync.run(sample_ws, "download", REPO, group="analysis", dry_run=True, hub=hub)
    skipped = [i for i in res["plan"]["items"] if i["status"] == "skipped"]
    assert [i["path"] for i in skipped] == ["analysis/loose-folder/report.csv"]
    # the text rendering of a plan names the statuses and sizes
    res = hub_sync.run(sample_ws, "delete", REPO, group="analysis", selection=Selection(ids=[new_id]), dry_run=True, hub=hub)
    assert "removed" in res["_text"] and "kept" in res["_text"] and "dry run" in res["_text"]
    assert {i["artifact_id"] for i in res["plan"]["items"] if i["status"] == "removed"} == {new_id}


def test_delete_all_needs_the_repo_id_typed_back(artifacts, sample_ws, hub_server):
    from config.errors import Refused
    from engine.sync import hub_sync

    hub = _hub(hub_server)
    ws = sample_ws
    hub_sync.run(ws, "upload", REPO, group="stage2", hub=hub)
    hub_sync.run(ws, "upload", REPO, group="stage1", hub=hub)
    n = len(hub_server.commits(REPO))
    r = cli("delete-all", "--repo-id", REPO, token=hub_server.token)
    assert r.returncode == 2 and "type the repository id back" in r.stderr
    with pytest.raises(Refused):
        hub_sync.run(ws, "delete-all", REPO, confirm="klinelab/other", hub=hub)
    res = hub_sync.run(ws, "delete-all", REPO, dry_run=True, hub=hub)
    listed = {i["path"]: i["status"] for i in res["plan"]["items"]}
    assert listed[".gitattributes"] == "kept" and set(listed) == set(hub_server.files(REPO))
    assert len(hub_server.commits(REPO)) == n
    res = hub_sync.run(ws, "delete-all", REPO, confirm=REPO, hub=hub)
    assert res["files"] == len(listed) - 1
    assert set(hub_server.files(REPO)) == {".gitattributes"} and len(hub_server.commits(REPO)) == n + 1
    assert hub_server.commits(REPO)[0].title == "Delete all dataset data"


def test_transient_errors_are_retried_and_an_interrupted_upload_resumes(artifacts, sample_ws, hub_server):
    from engine.sync import hub_sync

    tok = hub_server.token
    hub_server.fail_next(503, times=2, match=r"POST /api/datasets/.*/commit/")
    hub_server.fail_next(429, times=1, match=rf"GET /api/datasets/{REPO}/revision/", retry_after=0)
    res = hub_sync.run(sample_ws, "upload", REPO, group="models", hub=_hub(hub_server))
    assert res["status"] == "succeeded" and len(hub_server.commits(REPO)) == 2
    assert [s for _, _, s in hub_server.requests("POST", "/commit/")] == [503, 503, 200]
    assert [s for _, p, s in hub_server.requests("GET") if "/revision/" in p][:2] == [429, 404]  # then: no repo yet
    # the commit keeps failing: the upload fails (exit 2, recorded), the content already sent stays on the Hub...
    hub_server.fail_next(500, times=10, match=r"POST /api/datasets/.*/commit/")
    r = cli("upload", "--repo-id", REPO, "--group", "stage2", token=tok)
    assert r.returncode == 2 and "HTTP 500" in r.stderr
    assert len(hub_server.commits(REPO)) == 2
    puts = len(hub_server.requests("PUT", "/_lfs/"))
    hub_server.clear_failures()
    # ...so running it again sends no content twice and commits once
    res = hub_sync.run(sample_ws, "upload", REPO, group="stage2", hub=_hub(hub_server))
    assert res["status"] == "succeeded" and len(hub_server.commits(REPO)) == 3
    assert len(hub_server.requests("PUT", "/_lfs/")) == puts
    hist = [json.loads(x) for x in sample_ws.sync_history_path.read_text().splitlines()]
    assert [h["status"] for h in hist] == ["succeeded", "failed", "succeeded"] and "HTTP 500" in hist[1]["error"]


def test_repo_moved_since_the_plan_is_refused(artifacts, sample_ws, hub_server, monkeypatch):
    from config.errors import Conflict
    from engine.hub import Hub
    from engine.sync import hub_sync

    hub = Hub(hub_server.url, hub_server.token, backoff_s=0.01)
    hub_sync.run(sample_ws, "upload", REPO, group="stage2", hub=hub)
    real = hub_sync.plan_upload

    def plan_then_someone_commits(*a, **kw):
        real(*a, **kw)
        hub_server.seed(REPO, {"other.txt": b"meanwhile"})

    monkeypatch.setattr(hub_sync, "plan_upload", plan_then_someone_commits)
    with pytest.raises(Conflict, match="changed since the plan"):
        hub_sync.run(sample_ws, "upload", REPO, group="analysis", hub=hub)
    assert not any(p.startswith("analysis/") for p in hub_server.files(REPO))


def test_auth_errors_and_bad_input_exit_2_without_changes(artifacts, sample_ws, hub_server):
    from engine.sync.groups import Selection

    before = snapshot(sample_ws.artifacts_dir)
    r = cli("upload", "--repo-id", REPO, "--group", "models")  # no token anywhere
    assert r.returncode == 2 and "needs a Hugging Face token" in r.stderr
    r = cli("upload", "--repo-id", REPO, "--group", "models", token=hub_server.read_token)
    assert r.returncode == 2 and "refused the token" in r.stderr, r.stderr
    r = cli("upload", "--repo-id", "not a repo", "--group", "models", token=hub_server.token)
    assert r.returncode == 2 and "invalid repo id" in r.stderr
    from config.errors import BadInput, NotFound
    from engine.sync import hub_sync

    with pytest.raises(BadInput, match="unknown group"):
        hub_sync.run(sample_ws, "upload", REPO, group="nonsense", hub=_hub(hub_server))
    with pytest.raises(NotFound, match="not found"):
        hub_sync.run(sample_ws, "download", "klinelab/absent", group="models", hub=_hub(hub_server, None))
    with pytest.raises(BadInput, match="model-nope"):
        hub_sync.run(sample_ws, "upload", REPO, group="models", selection=Selection(ids=["model-nope"]), hub=_hub(hub_server))
    assert snapshot(sample_ws.artifacts_dir) == before
    with pytest.raises(HubError, match="Repository not found"):
        hub_server.commits(REPO)


def test_download_conflict_needs_replace(artifacts, sample_ws, hub_server, tmp_path):
    """A local artifact with the same id but other content is never silently overwritten."""
    from engine.hub import Hub
    from engine.sync import hub_sync
    from storage.artifacts import read_manifest

    hub = Hub(hub_server.url, hub_server.token, backoff_s=0.01)
    an = artifacts["analysis"]
    hub_sync.run(sample_ws, "upload", REPO, group="analysis", hub=hub)
    # the Hub copy changes (someone re-uploads the report with another exclusion list)
    m = read_manifest(sample_ws, an)
    new_txt = b"# leakage\nret_1\n"
    import hashlib

    for f in m.files:
        if f.path == "excluded_features.txt":
            f.sha256, f.size = hashlib.sha256(new_txt).hexdigest(), len(new_txt)
    hub_server.seed(REPO, {f"analysis/{an}/excluded_features.txt": new_txt,
                           f"analysis/{an}/manifest.json": json.dumps(m.to_dict()).encode()})
    res = hub_sync.run(sample_ws, "download", REPO, group="analysis", hub=hub)
    assert {i["status"] for i in res["plan"]["items"]} == {"conflict"} and res["files"] == 0
    assert (sample_ws.artifact_dir("analysis", an) / "excluded_features.txt").read_text().startswith("# high")
    res = hub_sync.run(sample_ws, "download", REPO, group="analysis", replace=True, hub=hub)
    assert res["files"] > 0
    assert (sample_ws.artifact_dir("analysis", an) / "excluded_features.txt").read_bytes() == new_txt
    assert read_manifest(sample_ws, an).origin == f"huggingface:{REPO}"


def test_ticks_group_and_training_without_scalers(artifacts, sample_ws, hub_server, tmp_path):
    from engine.hub import Hub
    from engine.sync import hub_sync
    from engine.sync.groups import Selection

    hub = Hub(hub_server.url, hub_server.token, backoff_s=0.01)
    ticks = sample_ws.root / "raw" / "ticks"
    (ticks / "ETHUSDT").mkdir(parents=True)
    (ticks / "ETHUSDT" / "2025-01.csv").write_text("id,price,qty,time\n1,3000.1,0.5,1735689600000\n")
    (ticks / "notes.txt").write_text("tick dumps\n")
    res = hub_sync.run(sample_ws, "upload", REPO, group="ticks", hub=hub)
    assert res["files"] == 2 and hub_server.files(REPO)["ticks/ETHUSDT/2025-01.csv"].startswith(b"id,price")
    out = tmp_path / "ticks-elsewhere"
    res = hub_sync.run(sample_ws, "download", REPO, group="ticks", selection=Selection(ticks_dir=out), hub=hub)
    assert snapshot(out) == snapshot(ticks)
    # training: deleting with --no-scalers keeps the scalers
    hub_sync.run(sample_ws, "upload", REPO, group="training", hub=hub)
    res = hub_sync.run(sample_ws, "delete", REPO, group="training", selection=Selection(scalers=False), hub=hub)
    left = [p for p in hub_server.files(REPO) if p.startswith("training/")]
    assert left and all("/scalers/" in p for p in left) and res["files"] > 0
    # uploading training data without scalers leaves them out of the plan
    res = hub_sync.run(sample_ws, "upload", REPO, group="training", selection=Selection(scalers=False), dry_run=True, hub=hub)
    assert not any("/scalers/" in i["path"] and i["status"] != "kept" for i in res["plan"]["items"])


def test_token_is_never_written(artifacts, sample_ws, hub_server, tmp_path):
    """Upload / download / delete through background jobs and the CLI; then grep the workspace,
    job logs and the HF home for the token."""
    from engine import jobs

    tok = hub_server.token
    env = {"HF_TOKEN": tok, "KLINELAB_HUB_BACKOFF_S": "0.01"}
    for args in (["sync", "hub", "upload", "--repo-id", REPO, "--group", "analysis"],
                 ["sync", "hub", "download", "--repo-id", REPO, "--group", "analysis", "--replace"],
                 ["sync", "hub", "test", "--repo-id", REPO],
                 ["sync", "hub", "delete", "--repo-id", REPO, "--group", "analysis"],
                 ["sync", "hub", "upload", "--repo-id", REPO, "--group", "nonsense"]):
        st = jobs.submit(sample_ws, args, env=env)
        st = jobs.wait(sample_ws, st.id, timeout=120)
        assert st.status == ("failed" if "nonsense" in args else "succeeded"), jobs.log_tail(sample_ws, st.id)
    tf = tmp_path / "tokfile"
    tf.write_text(tok + "\n")
    ok(cli("upload", "--repo-id", REPO, "--group", "stage2", "--token-file", str(tf), "--json"))
    needle = tok.encode()
    leaks = [p for p in sample_ws.root.rglob("*") if p.is_file() and needle in p.read_bytes()]
    hf_home = Path(os.environ["HF_HOME"])
    leaks += [p for p in hf_home.rglob("*") if p.is_file() and needle in p.read_bytes()] if hf_home.exists() else []
    assert leaks == []
    assert len(list(sample_ws.jobs_dir.iterdir())) == 5


def test_unsafe_remote_paths_are_ignored(sample_ws, hub_server, tmp_path):
    """A Hub (or a mirror) that lists ``..`` paths cannot make a download write outside its folder."""
    from engine.sync import hub_sync
    from engine.sync.groups import Selection

    hub_server.seed(REPO, {"ticks/ok.csv": b"a,b\n", "ticks/../../escape.txt": b"owned"})
    out = tmp_path / "deep" / "ticks"
    res = hub_sync.run(sample_ws, "download", REPO, group="ticks", selection=Selection(ticks_dir=out), hub=_hub(hub_server))
    assert [i["path"] for i in res["plan"]["items"]] == ["ticks/ok.csv"] and "unsafe path" in " ".join(res["plan"]["notes"])
    assert (out / "ok.csv").read_bytes() == b"a,b\n" and not list(tmp_path.rglob("escape.txt"))


def test_an_artifact_damaged_on_disk_is_neither_uploaded_nor_archived(artifacts, sample_ws, hub_server):
    """A file changed after its manifest was written: the Hub upload and the SSH archive refuse
    it by name (exit 2) and write nothing, here or on the Hub."""
    s2 = artifacts["stage2"]
    victim = next(p for p in sample_ws.artifact_dir("stage2", s2).iterdir() if p.name != "manifest.json")
    victim.write_bytes(victim.read_bytes() + b"\n# edited by hand")
    before = snapshot(sample_ws.root)
    r = cli("upload", "--repo-id", REPO, "--group", "stage2", "--json", token=hub_server.token)
    assert r.returncode == 2 and f"artifact {s2} does not match its manifest" in r.stderr
    assert "before uploading" in r.stderr
    from tests.fixtures.hub_server import HubError

    with pytest.raises(HubError, match="Repository not found"):
        hub_server.commits(REPO)  # the repository was never created
    r = run_cli("sync", "ssh", "archive-results", "--ids", s2, "--json")
    assert r.returncode == 2 and f"artifact {s2} does not match its manifest" in r.stderr
    assert "before archiving" in r.stderr
    assert snapshot(sample_ws.root) == before
