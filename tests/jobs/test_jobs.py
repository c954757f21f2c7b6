"""Background jobs as real processes: state files, progress, result, failure, cancel,
died-process detection, survival across an app restart (a fresh process reads the state)."""
import json
import os
import signal
import time

import pytest

from config.errors import Refused
from engine import jobs
from engine.jobs.runner import DIED_MESSAGE
from storage.catalog import Catalog
from tests.conftest import run_cli


def wait_for(pred, timeout=60.0):
    t = time.time() + timeout
    while time.time() < t:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_job_runs_reports_progress_and_result(ws):
    st = jobs.submit(ws, ["data", "import-sample"])
    assert st.pid and (ws.jobs_dir / st.id / "state.json").is_file()
    done = jobs.wait(ws, st.id, timeout=120)
    assert done.status == "succeeded" and done.progress == 1.0 and done.returncode == 0
    assert "ohlcv-BTCUSDT-15m" in done.artifacts
    assert done.result["imported"][0]["id"].startswith("ohlcv-")
    log = jobs.log_tail(ws, st.id)
    assert "storing BTCUSDT 15m" in log  # progress lines land in the job's log
    Catalog(ws).refresh()  # as pages and `catalog query` do (the job's own indexing may meet a busy catalog)
    jobrow = Catalog(ws).query(kind="job")
    assert st.id in set(jobrow["id"])  # the ended job is indexed, with lineage to its artifacts
    assert "ohlcv-BTCUSDT-15m" in set(Catalog(ws).lineage(st.id)["ancestors"]["id"])


def test_failed_job_keeps_the_error_line(ws, tmp_path):
    bad = tmp_path / "BTCUSDT_15m.csv"
    bad.write_text("time,open,high,low,close,volume\n")
    st = jobs.wait(ws, jobs.submit(ws, ["data", "import", str(bad)]).id, timeout=60)
    assert st.status == "failed" and st.returncode == 2 and "no rows" in st.error
    assert not any(ws.artifacts_dir.glob("ohlcv/*"))


def test_progress_is_visible_while_running_and_cancel_stops_the_process_group(ws):
    st = jobs.submit(ws, ["jobs", "sleep", "--seconds", "30", "--steps", "60"])
    running = wait_for(lambda: (s := jobs.get(ws, st.id)).progress > 0 and s)
    assert running.status == "running" and running.message.startswith("step ")
    c = jobs.cancel(ws, st.id, grace_s=5)
    assert c.status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.killpg(st.pid, 0)
    assert jobs.get(ws, st.id).status == "cancelled"  # a late update cannot resurrect it
    with pytest.raises(Refused):
        jobs.cancel(ws, st.id)


def test_a_killed_process_is_detected_and_its_partial_artifact_never_indexed(ws):
    st = jobs.submit(ws, ["jobs", "sleep", "--seconds", "30", "--steps", "60", "--artifact"])
    wait_for(lambda: jobs.get(ws, st.id).progress > 0.05)
    assert list(ws.tmp_dir.glob("*.partial"))  # the artifact is being written in staging
    os.killpg(st.pid, signal.SIGKILL)
    dead = wait_for(lambda: (s := jobs.get(ws, st.id)).status != "running" and s, timeout=20)
    assert dead.status == "failed" and dead.error == DIED_MESSAGE
    assert not list(ws.artifacts_dir.glob("archive/*"))
    assert "archive" not in set(Catalog(ws).query()["kind"])
    from storage.cleanup import clean_stale_staging

    assert clean_stale_staging(ws, older_than_s=0) >= 1


def test_jobs_survive_an_app_restart(ws):
    """The submitting process is gone (here: a CLI process that exits at once); another process sees the job."""
    r = run_cli("jobs", "start", "--", "jobs", "sleep", "--seconds", "3", "--steps", "6", "--json")
    assert r.returncode == 0, r.stderr
    jid = json.loads(r.stdout)["id"]
    listed = json.loads(run_cli("jobs", "list", "--json").stdout)["jobs"]
    assert [j["id"] for j in listed] == [jid] and listed[0]["status"] in ("queued", "running")
    done = jobs.wait(ws, jid, timeout=60)
    assert done.status == "succeeded"
    shown = json.loads(run_cli("jobs", "show", jid, "--json").stdout)
    assert shown["status"] == "succeeded" and "step 6 of 6" in shown["log_tail"]


def test_cli_cancel_and_unknown_job(ws):
    r = run_cli("jobs", "cancel", "job-nope-20260101-000000-abcdef")
    assert r.returncode == 2 and "no job" in r.stderr


def test_a_typed_password_is_masked_in_everything_the_job_records(ws):
    """`jobs start -- data import-sql --url URL-with-password`: the process gets the real URL (it tries to
    connect), but state.json, the job manifest, the catalog and the log only ever hold it masked."""
    url = "postgresql+psycopg://alice:Pw0rd-xyz@127.0.0.1:1/db"
    st = jobs.submit(ws, ["data", "import-sql", "--url", url, "--table", "t", "--symbol", "BTCUSDT"])
    assert "Pw0rd" not in " ".join(st.command)  # even the state submit hands back was read from state.json
    done = jobs.wait(ws, st.id, timeout=120)
    assert done.status == "failed" and "cannot reach the database" in done.error
    masked = "postgresql+psycopg://alice:***@127.0.0.1:1/db"
    assert masked in done.error and done.command[done.command.index("--url") + 1] == masked
    manifest = json.loads((ws.jobs_dir / st.id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["command"] == done.command
    Catalog(ws).refresh()
    assert st.id in set(Catalog(ws).query(kind="job")["id"])
    leaked = [p for p in ws.root.rglob("*") if p.is_file() and b"Pw0rd" in p.read_bytes()]
    assert leaked == []
