"""Starting, listing and cancelling jobs from a page, the CLI or a test."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from config import settings
from config.errors import BadInput, Refused
from config.version import ROOT
from engine.jobs.checks import check_command
from engine.jobs.remote import remote_canceller
from engine.jobs.state import (
    ACTIVE,
    FINAL,
    STOP_GRACE_S,
    JobState,
    job_dir,
    locked,
    pid_alive,
    proc_start_time,
    read_state,
    stop_process_group,
    update,
    write_state,
)
from storage.manifest import utc_now_iso
from storage.workspace import Workspace, new_id

DIED_MESSAGE = "the job's process died without reporting (killed or crashed); its partial output was not indexed"


def _reap(proc: subprocess.Popen) -> None:
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()


def submit(ws: Workspace, args: list[str], *, name: str = "", parents: list[str] | None = None,
           extra: dict | None = None, env: dict[str, str] | None = None) -> JobState:
    """Start ``python -m engine <args> --json`` as a background job in its own process group."""
    if not args or not all(isinstance(a, str) for a in args):
        raise BadInput("a job needs a command, e.g. ['features', 'build', ...]")
    check_command(args)  # `jobs start -- frobnicate` or a bad option: refused before any job folder exists
    ws.ensure()
    job_id = new_id("job", args[0] + ("-" + args[1] if len(args) > 1 and not args[1].startswith("-") else ""))
    command = [*args, "--json"] if "--json" not in args else list(args)
    st = JobState(id=job_id, command=command, name=name or " ".join(args[:2]), parents=list(parents or []),
                  extra=dict(extra or {}))
    d = job_dir(ws, job_id)
    d.mkdir(parents=True)
    write_state(ws, st)
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env.update({settings.HOME.name: str(ws.root), settings.JOB_ID.name: job_id, "PYTHONUNBUFFERED": "1"})
    pypath = child_env.get("PYTHONPATH", "")
    child_env["PYTHONPATH"] = str(ROOT) + (os.pathsep + pypath if pypath else "")
    with locked(ws, job_id):
        with open(d / "log.txt", "ab") as log:  # the child holds its own copy of the descriptor
            proc = subprocess.Popen([sys.executable, "-m", "engine", *command], cwd=str(ROOT), env=child_env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        st = read_state(ws, job_id)
        st.pid = proc.pid
        st.proc_start = proc_start_time(proc.pid)
        if st.status == "queued":
            st.started_at = st.started_at or utc_now_iso()
        write_state(ws, st)
    _reap(proc)
    return st


def _check_alive(ws: Workspace, st: JobState) -> JobState:
    # every job has a local process (for a remote job: the one that follows it over SSH)
    if st.status in ACTIVE:
        if st.pid is None:
            # queued but never got a pid: the submitting process died between the two writes
            age = time.time() - (job_dir(ws, st.id) / "state.json").stat().st_mtime
            if age < 30:
                return st
        elif pid_alive(st.pid, st.proc_start):
            return st
        st = update(ws, st.id, status="failed", error=DIED_MESSAGE, ended_at=utc_now_iso())
    return st


def get(ws: Workspace, job_id: str) -> JobState:
    """The job's state; a job whose process is gone while marked active is recorded as failed."""
    return _check_alive(ws, read_state(ws, job_id))


def list_jobs(ws: Workspace, *, status: str | None = None, limit: int | None = None) -> list[JobState]:
    if not ws.jobs_dir.is_dir():
        return []
    out = []
    for d in sorted(ws.jobs_dir.iterdir(), reverse=True):
        if not (d / "state.json").is_file():
            continue
        try:
            st = get(ws, d.name)
        except Exception:  # noqa: BLE001, S112 - a broken state file is skipped, not fatal for the listing
            continue
        if status and st.status != status:
            continue
        out.append(st)
        if limit and len(out) >= limit:
            break
    return out


def cancel(ws: Workspace, job_id: str, *, grace_s: float = STOP_GRACE_S) -> JobState:
    """Stop the job's processes (:func:`engine.jobs.state.stop_process_group`: SIGTERM, SIGKILL after
    ``grace_s``); record ``cancelled``."""
    st = get(ws, job_id)
    if st.status in FINAL:
        raise Refused(f"job {job_id} has already ended ({st.status})")
    if st.host != "local":
        cancel_remote = remote_canceller()  # registered by engine.sync (Cloud Sync) when it is imported
        if cancel_remote is None:
            raise Refused(f"job {job_id} runs on {st.host}; remote jobs are not available in this build",
                          hint="cancel it from the CLI (`python -m engine jobs cancel ID`) or the app, which load Cloud Sync")
        return cancel_remote(ws, st)
    stop_process_group(st.pid, st.proc_start, grace_s)
    return update(ws, job_id, status="cancelled", error="cancelled by the user", ended_at=utc_now_iso())


def wait(ws: Workspace, job_id: str, timeout: float = 600.0, poll: float = 0.1) -> JobState:
    deadline = time.monotonic() + timeout
    while True:
        st = get(ws, job_id)
        if st.status in FINAL:
            return st
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {st.status} after {timeout} s")
        time.sleep(poll)


def log_tail(ws: Workspace, job_id: str, max_bytes: int = 20000) -> str:
    p: Path = job_dir(ws, job_id) / "log.txt"
    if not p.is_file():
        return ""
    with open(p, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        return f.read().decode("utf-8", errors="replace")
