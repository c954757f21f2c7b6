"""Remote jobs against the loopback OpenSSH server: the "host" runs this checkout with its own
KLINELAB_HOME.  The command's inputs are sent as an archive, the command runs detached as a
job of the host's KlineLab, its log and progress are followed, its results come back as an
archive and are indexed here with origin ssh:<host>; failures and cancel reach both sides."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.fixtures.sshd import sshd  # noqa: F401 - fixture


@pytest.fixture
def host(sshd, ws, tmp_path, monkeypatch):
    """Host profile 'gpu': the loopback sshd, this checkout and python, its own KLINELAB_HOME."""
    from engine.sync.ssh import HostProfile, save_profile, trust

    monkeypatch.setenv("KLINELAB_REMOTE_POLL_S", "0.3")
    p = save_profile(ws, HostProfile(name="gpu", host=sshd.host, port=sshd.port, user=sshd.user,
                                            key_file=str(sshd.client_key), remote_dir=str(tmp_path / "storage") + "/",
                                            project_dir=str(ROOT), python=sys.executable,
                                            remote_home=str(tmp_path / "remote-ws"), agent=False, look_for_keys=False))
    trust(ws, p, sshd.host_key_fingerprint())
    return p


def test_remote_run_sends_inputs_follows_and_indexes_results(host, sample_ws, tmp_path):
    from engine import jobs
    from engine.sync.remote_jobs import submit_remote
    from storage.artifacts import read_manifest
    from storage.catalog import Catalog
    from storage.workspace import Workspace

    res = submit_remote(sample_ws, "gpu", ["data", "resample", "BTCUSDT", "--from", "15m", "--to", "1h"],
                        send=["ohlcv-BTCUSDT-15m"])
    st = jobs.get(sample_ws, res["job_id"])
    assert st.host == "gpu"
    st = jobs.wait(sample_ws, res["job_id"], timeout=300, poll=0.2)
    log = jobs.log_tail(sample_ws, st.id, 50_000)
    assert st.status == "succeeded", log
    remote = st.extra["remote"]
    assert remote["host"] == "gpu" and remote["job_id"].startswith("job-")
    assert [a["id"] for a in st.result["artifacts"]] == ["ohlcv-BTCUSDT-1h"]
    assert "ohlcv-BTCUSDT-1h" in st.artifacts  # lineage of the local job
    assert f"remote job {remote['job_id']} started" in log and '"rows": 8760' in log  # the host's log, followed
    # the host ran it in its own workspace, on the candles we sent
    there = Workspace.open(tmp_path / "remote-ws")
    assert read_manifest(there, "ohlcv-BTCUSDT-15m").origin.startswith("ssh:")
    r_state = json.loads((there.jobs_dir / remote["job_id"] / "state.json").read_text())
    assert r_state["status"] == "succeeded" and r_state["pid"] != st.pid
    # here: indexed with origin ssh:<host>, identical to the host's copy
    m = read_manifest(sample_ws, "ohlcv-BTCUSDT-1h")
    assert m.origin == f"ssh:{host.host}" and Catalog(sample_ws).get("ohlcv-BTCUSDT-1h")["origin"] == f"ssh:{host.host}"
    assert (sample_ws.artifact_dir("ohlcv", m.id) / "ohlcv.parquet").read_bytes() == \
        (there.artifact_dir("ohlcv", m.id) / "ohlcv.parquet").read_bytes()
    import pandas as pd

    from engine.data.resample import resample

    want, _ = resample(pd.read_parquet(sample_ws.artifact_dir("ohlcv", "ohlcv-BTCUSDT-15m") / "ohlcv.parquet"), "15m", "1h")
    got = pd.read_parquet(sample_ws.artifact_dir("ohlcv", m.id) / "ohlcv.parquet")
    assert len(got) == len(want) == 8760 and got.close.tolist() == want.close.tolist()
    hist = [json.loads(x) for x in sample_ws.sync_history_path.read_text().splitlines()]
    assert hist[-1]["op"] == "remote-run" and hist[-1]["status"] == "succeeded"


def test_remote_failure_is_reported_and_cancel_reaches_the_host(host, sample_ws, tmp_path):
    from engine import jobs
    from engine.sync.remote_jobs import submit_remote
    from storage.workspace import Workspace

    bad = submit_remote(sample_ws, "gpu", ["data", "show", "NOPEUSDT", "15m"])
    long = submit_remote(sample_ws, "gpu", ["jobs", "sleep", "--seconds", "120", "--steps", "240"])
    st = jobs.wait(sample_ws, bad["job_id"], timeout=300, poll=0.2)
    assert st.status == "failed" and "remote job" in st.error and "NOPEUSDT" in st.error
    # the long one: wait until it runs on the host, then cancel it from here
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = jobs.get(sample_ws, long["job_id"])
        if (st.extra.get("remote") or {}).get("job_id") and st.progress > 0.15:
            break
        time.sleep(0.2)
    remote_id = st.extra["remote"]["job_id"]
    st = jobs.cancel(sample_ws, long["job_id"])
    assert st.status == "cancelled"
    there = Workspace.open(tmp_path / "remote-ws")
    r_state = json.loads((there.jobs_dir / remote_id / "state.json").read_text())
    assert r_state["status"] == "cancelled", r_state
    from engine.jobs.state import pid_alive

    for _ in range(100):
        if not pid_alive(r_state["pid"]):
            break
        time.sleep(0.1)
    assert not pid_alive(r_state["pid"])


def test_run_cli_errors(host, sample_ws):
    r = run_cli("sync", "ssh", "run", "--host", "gpu")
    assert r.returncode == 2 and "no command" in r.stderr
    from engine.sync.ssh import HostProfile, save_profile

    save_profile(sample_ws, HostProfile(name="bare", host="127.0.0.1"))
    r = run_cli("sync", "ssh", "run", "--host", "bare", "--", "jobs", "list")
    assert r.returncode == 2 and "no KlineLab checkout" in r.stderr
    assert not list(Path(sample_ws.jobs_dir).glob("*")) if sample_ws.jobs_dir.exists() else True


def test_remote_training_run_completes_and_is_indexed(host, feature_ws, ws, tmp_path):
    """`train direction ... --remote gpu`: the feature set goes to the host, the training runs there
    (the training area's CLI), the model comes back and is indexed here with its lineage."""
    from engine import jobs
    from storage.artifacts import read_manifest

    r = run_cli("train", "direction", "--config", "test", "--featureset", feature_ws, "--remote", "gpu", "--json")
    assert r.returncode == 0, r.stderr
    job_id = json.loads(r.stdout)["job_id"]
    st = jobs.wait(ws, job_id, timeout=600, poll=0.5)
    assert st.status == "succeeded", jobs.log_tail(ws, job_id, 8000)
    models = [a for a in st.result["artifacts"] if a["kind"] == "model"]
    assert len(models) == 1 and models[0]["status"] == "created"
    m = read_manifest(ws, models[0]["id"])
    assert m.origin == f"ssh:{host.host}" and feature_ws in m.parents and m.params["model"] == "direction"
    import torch

    state = torch.load(ws.artifact_dir("model", m.id) / "checkpoints" / "best.pt", weights_only=True)
    assert state
    from storage.workspace import Workspace

    there = Workspace.open(tmp_path / "remote-ws")
    assert read_manifest(there, feature_ws).origin.startswith("ssh:")  # the feature set was sent
    assert (there.artifact_dir("model", m.id) / "manifest.json").is_file()  # trained there
