"""The job layer without import cycles: progress from a dependency-free module (its sink set by
engine.jobs.context), the runner loaded only when used, remote-job cancellation registered by sync."""
import subprocess
import sys

import pytest

from config.errors import Refused
from engine.jobs import remote
from engine.jobs.state import JobState, read_state, write_state
from tests.conftest import ROOT, run_cli


def _fresh_python(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_importing_the_data_importer_does_not_load_the_job_runner():
    out = _fresh_python("import sys, engine.data.importer, engine.features.pipeline, engine.sync.hub_client\n"
                        "print(sorted(m for m in sys.modules if m.startswith('engine.jobs')))")
    assert "engine.jobs.runner" not in out, out
    # `engine.jobs` still offers progress and (loaded on first use) the runner's API
    out = _fresh_python("import sys\nfrom engine import jobs\nprint('engine.jobs.runner' in sys.modules)\n"
                        "from engine.jobs import progress, submit\nimport engine.progress\n"
                        "print(progress is engine.progress.progress, 'engine.jobs.runner' in sys.modules)")
    assert out.splitlines() == ["False", "True True"]


def test_progress_without_a_sink_only_prints(capsys, monkeypatch):
    import engine.progress as p

    monkeypatch.setattr(p, "_sink", None)
    monkeypatch.setattr(p, "_quiet", False)  # an earlier in-process CLI run with --quiet may have set it
    p.progress(0.5, "half way")
    p.progress(None, "thinking")
    assert capsys.readouterr().err.splitlines() == ["[ 50%] half way", "[   ?] thinking"]
    got = []
    monkeypatch.setattr(p, "_sink", lambda f, m, force: got.append((f, m, force)))
    p.set_quiet(True)
    try:
        p.progress(1.7, "over", force=True)
    finally:
        p.set_quiet(False)
    assert got == [(1.0, "over", True)] and capsys.readouterr().err == ""  # clipped to 0..1, quiet = no line


def test_inside_a_job_progress_lands_in_the_state_file(ws, monkeypatch):
    from engine.jobs import context
    from engine.progress import progress

    write_state(ws, JobState(id="job-x-20260101-000000-abcdef", command=["jobs", "sleep"]))
    monkeypatch.setenv("KLINELAB_JOB_ID", "job-x-20260101-000000-abcdef")
    monkeypatch.setattr(context, "_current", None)
    progress(0.25, "a quarter", force=True)
    st = read_state(ws, "job-x-20260101-000000-abcdef")
    assert (st.progress, st.message) == (0.25, "a quarter")
    progress(0.3, "too soon")  # throttled: within 0.25 s of the last write
    assert read_state(ws, "job-x-20260101-000000-abcdef").message == "a quarter"
    monkeypatch.delenv("KLINELAB_JOB_ID")
    progress(0.9, "not a job any more", force=True)
    assert read_state(ws, "job-x-20260101-000000-abcdef").message == "a quarter"


def _remote_job(ws, job_id="job-train-20260101-000000-abcdef"):
    write_state(ws, JobState(id=job_id, command=["sync", "ssh", "run", "--host", "gpu1"], host="gpu1",
                             extra={"remote": {"host": "gpu1"}}))
    return job_id


def test_remote_cancel_uses_the_registered_canceller_and_refuses_without_one(ws, monkeypatch):
    from engine import jobs

    job_id = _remote_job(ws)
    monkeypatch.setattr(remote, "_canceller", None)
    with pytest.raises(Refused, match="runs on gpu1; remote jobs are not available"):
        jobs.cancel(ws, job_id)
    assert read_state(ws, job_id).status == "queued"
    seen = []
    monkeypatch.setattr(remote, "_canceller", lambda w, st: seen.append((w, st.id)) or "done")
    assert jobs.cancel(ws, job_id) == "done" and seen == [(ws, job_id)]


def test_sync_registers_its_canceller_when_imported():
    out = _fresh_python("from engine.jobs import remote\nprint(remote.remote_canceller())\nimport engine.sync\n"
                        "print(remote.remote_canceller().__module__)")
    assert out.splitlines() == ["None", "engine.sync"]


def test_cli_jobs_cancel_has_sync_loaded_for_a_remote_job(ws):
    job_id = _remote_job(ws)
    r = run_cli("jobs", "cancel", job_id, "--json")
    assert r.returncode == 0, r.stderr
    st = read_state(ws, job_id)
    assert st.status == "cancelled" and st.error == "cancelled by the user"


def test_the_app_pages_load_sync_for_their_cancel_buttons():
    out = _fresh_python("import pages.ui\nfrom engine.jobs import remote\nprint(remote.remote_canceller() is not None)")
    assert out == "True"
