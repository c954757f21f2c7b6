"""Inside a job process: where progress goes.

A job is a CLI run with ``KLINELAB_JOB_ID`` set.  :func:`engine.progress.progress` prints one
line to stderr (the CLI's progress channel); importing this module registers the sink that,
inside a job, records the fraction and message in the job's state file (throttled).
``engine.cli.main`` imports it first thing, so every job process has it."""
from __future__ import annotations

import time
from dataclasses import dataclass

from config import settings
from engine.progress import progress, set_quiet, set_sink  # noqa: F401 - re-exported (older import sites)
from storage.workspace import Workspace


@dataclass
class JobContext:
    ws: Workspace
    job_id: str
    _last: float = 0.0

    def update(self, **changes) -> None:
        from engine.jobs.state import update

        update(self.ws, self.job_id, **changes)


_current: JobContext | None = None


def current_job() -> JobContext | None:
    global _current
    jid = settings.job_id()
    if not jid:
        return None
    if _current is None or _current.job_id != jid:
        _current = JobContext(Workspace.open(), jid)
    return _current


def record_progress(frac: float | None, message: str, force: bool = False) -> None:
    """The progress sink: inside a job, the fraction and message go to its state file
    (at most every 0.25 s unless forced or complete)."""
    job = current_job()
    if job is None:
        return
    now = time.monotonic()
    if not force and now - job._last < 0.25 and (frac is None or frac < 1.0):
        return
    job._last = now
    changes = {"message": message}
    if frac is not None:
        changes["progress"] = frac
    job.update(**changes)


set_sink(record_progress)
