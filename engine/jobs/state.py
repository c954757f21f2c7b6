"""Job state files: ``state.json`` updated under an exclusive file lock (``filelock`` on
``.lock``; parent, child and cancel may all write it), plus ``log.txt`` and, once the job has ended, ``manifest.json``
(kind ``job``) so the catalog lists it with its lineage to the artifacts it produced."""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock

from config import settings
from config.errors import NotFound
from config.secrets import mask_args
from storage.manifest import Manifest, utc_now_iso, write_json_atomic
from storage.workspace import Workspace, check_id

FINAL = ("succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")


@dataclass
class JobState:
    id: str
    command: list[str]
    name: str = ""
    status: str = "queued"
    pid: int | None = None
    proc_start: str | None = None  # the process's start time (proc_start_time), to tell a reused pid apart
    host: str = "local"
    created_at: str = field(default_factory=utc_now_iso)
    started_at: str | None = None
    ended_at: str | None = None
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    returncode: int | None = None
    result: dict[str, Any] | None = None
    artifacts: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def to_dict(self) -> dict[str, Any]:
        """What state.json holds: the command with the password of any URL in it masked (a command a user typed
        with one; the pages pass secrets in the job's environment, never on its command line)."""
        return asdict(self) | {"command": mask_args(self.command)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobState:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def job_dir(ws: Workspace, job_id: str) -> Path:
    return ws.jobs_dir / check_id(job_id)


@contextmanager
def locked(ws: Workspace, job_id: str) -> Iterator[Path]:
    d = job_dir(ws, job_id)
    d.mkdir(parents=True, exist_ok=True)
    with FileLock(d / ".lock"):  # flock on Unix; the file stays so that waiters share its inode
        yield d


def read_state(ws: Workspace, job_id: str) -> JobState:
    p = job_dir(ws, job_id) / "state.json"
    try:
        return JobState.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise NotFound(f"no job {job_id!r} in {ws.jobs_dir}", hint="see `python -m engine jobs list`") from None


def write_state(ws: Workspace, st: JobState) -> None:
    write_json_atomic(job_dir(ws, st.id) / "state.json", st.to_dict())


def update(ws: Workspace, job_id: str, **changes: Any) -> JobState:
    """Read-modify-write under the job's lock.  A final status is never overwritten by a
    non-final one (a late progress update cannot resurrect a cancelled job)."""
    with locked(ws, job_id):
        st = read_state(ws, job_id)
        if st.status in FINAL and changes.get("status", st.status) not in FINAL:
            return st
        if st.status in FINAL and "status" in changes and changes["status"] != st.status:
            # first final status wins (cancelled stays cancelled)
            changes = {k: v for k, v in changes.items() if k not in ("status", "error")}
        for k, v in changes.items():
            setattr(st, k, v)
        write_state(ws, st)
        if st.status in FINAL:
            write_job_manifest(ws, st)
        return st


def write_job_manifest(ws: Workspace, st: JobState) -> None:
    d = job_dir(ws, st.id)
    m = Manifest(id=st.id, kind="job", name=st.name or " ".join(st.command[:2]), created_at=st.created_at,
                 params={"command": mask_args(st.command), "host": st.host}, parents=list(st.parents) + list(st.artifacts),
                 metrics={"progress": st.progress}, extra={"status": st.status, "error": st.error,
                                                           "started_at": st.started_at, "ended_at": st.ended_at,
                                                           "artifacts": st.artifacts, "returncode": st.returncode})
    if st.started_at and st.ended_at:
        import pandas as pd

        m.metrics["duration_s"] = (pd.Timestamp(st.ended_at) - pd.Timestamp(st.started_at)).total_seconds()
    m.symbols = list(st.extra.get("symbols") or [])
    m.timeframe = st.extra.get("timeframe")
    m.write(d)
    from storage.catalog import index_quietly

    index_quietly(ws, timeout=1.0)


# clock ticks per second of /proc/<pid>/stat's start time (the unit state files have always used)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _start_token(proc: psutil.Process) -> str:
    # psutil gives boot time + ticks / CLK_TCK; turned back into the tick count so that state files and
    # training runs written before psutil (the raw /proc field) still compare equal
    return str(round((proc.create_time() - psutil.boot_time()) * _CLK_TCK))


def proc_start_time(pid: int) -> str | None:
    """An opaque token of when the process started (None if it is gone), to tell a reused pid apart."""
    try:
        return _start_token(psutil.Process(pid))
    except (psutil.Error, ValueError, OSError):
        return None


def pid_alive(pid: int | None, start: str | None = None) -> bool:
    """Whether ``pid`` is a live (not zombie) process - the same one that had start token ``start`` if given."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return False
        if start is not None and _start_token(proc) != start:
            return False  # pid reused by another process
    except psutil.NoSuchProcess:
        return False
    except (psutil.AccessDenied, OSError):
        return True  # it exists; we may not look at it
    except ValueError:  # a negative pid
        return False
    return True


# how long a stopped job's processes get between SIGTERM and SIGKILL: the one grace period of every stop
# (cancel of a local job, engine.jobs.runner; of the local follower of a remote job, engine.sync.remote_jobs)
STOP_GRACE_S = 5.0


def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True
    except (psutil.AccessDenied, OSError):
        return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone (or was never ours)


def _job_id_of(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get(settings.JOB_ID.name)
    except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
        return None


def _job_tree(leader: psutil.Process) -> list[psutil.Process]:
    """``leader`` and its descendants, less any other job started from inside it (``jobs.submit`` starts
    a job in a session of its own with its own job id) and that job's descendants: they are not ours."""
    mine, out, todo = _job_id_of(leader), [leader], [leader]
    while todo:
        try:
            children = todo.pop().children()
        except psutil.NoSuchProcess:
            continue
        for c in children:
            other = _job_id_of(c)
            if other is not None and other != mine:
                continue
            out.append(c)
            todo.append(c)
    return out


def _signal_each(procs: list[psutil.Process], kill: bool) -> None:
    for p in procs:
        try:
            p.kill() if kill else p.terminate()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass  # gone, or not ours to signal


def stop_process_group(pid: int | None, start: str | None = None, grace_s: float = STOP_GRACE_S) -> bool:
    """Stop a job's processes: SIGTERM to the process group ``pid`` leads (a job is started in its own
    session) and to its process tree (other jobs started from inside it excepted), wait up to ``grace_s``
    for all of them to end, then SIGKILL the group and whatever of the tree is left (looked at again:
    a child started during the grace period is included).  ``start`` (the token of
    :func:`proc_start_time`) guards against a reused pid: a process that is not the job's is never
    signalled.  True if something had to be killed."""
    if not pid_alive(pid, start):
        return False
    try:
        leader = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    procs = _job_tree(leader)
    _signal_group(pid, signal.SIGTERM)
    _signal_each(procs[1:], kill=False)  # a descendant that left the group (its own session) is asked too
    deadline = time.monotonic() + grace_s
    alive = procs
    while alive and time.monotonic() < deadline:  # zombies count as ended: their parent reaps them
        _, alive = psutil.wait_procs(alive, timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        alive = [p for p in alive if not _gone(p)]
    if not alive:
        return False
    alive = list({p.pid: p for p in [*alive, *(_job_tree(leader) if not _gone(leader) else [])]}.values())
    _signal_group(pid, signal.SIGKILL)
    _signal_each(alive, kill=True)
    psutil.wait_procs(alive, timeout=2.0)
    return True
