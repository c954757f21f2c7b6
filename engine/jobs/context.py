"""Inside a job process: where progress goes.

A job is a CLI run with ``KLINELAB_JOB_ID`` set.  :func:`progress` prints one line to
stderr (the CLI's progress channel) and, inside a job, records the fraction and message
in the job's state file (throttled)."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

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
_quiet = False


def current_job() -> JobContext | None:
    global _current
    jid = os.environ.get("KLINELAB_JOB_ID")
    if not jid:
        return None
    if _current is None or _current.job_id != jid:
        _current = JobContext(Workspace.open(), jid)
    return _current


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def progress(fraction: float | None, message: str = "", *, force: bool = False) -> None:
    """Report progress (0..1, or None for 'unknown') with a short message."""
    frac = None if fraction is None else max(0.0, min(1.0, float(fraction)))
    if not _quiet:
        pct = "   ?" if frac is None else f"{frac * 100:3.0f}%"
        print(f"[{pct}] {message}", file=sys.stderr, flush=True)
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
