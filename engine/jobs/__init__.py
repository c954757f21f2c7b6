"""Background jobs (SPEC 10): long work runs as ``python -m engine <command>`` in its own
process group; its state lives in ``<workspace>/jobs/<id>/`` so it survives page reloads
and app restarts.

Public API: :func:`submit`, :func:`get`, :func:`list_jobs`, :func:`cancel`, :func:`log_tail`,
:func:`wait`, and for code running inside a job :func:`progress` (from the dependency-free
``engine.progress``; a no-op outside jobs, except for the stderr line).

The runner is loaded on first use of its names (PEP 562 module ``__getattr__``): a module
that only wants ``progress`` does not load it (better still, it imports ``engine.progress``).
"""
from __future__ import annotations

from typing import Any

from engine.progress import progress

_RUNNER = ("cancel", "get", "list_jobs", "log_tail", "submit", "wait")
__all__ = ["JobState", "cancel", "current_job", "get", "list_jobs", "log_tail", "progress", "submit", "wait"]


def __getattr__(name: str) -> Any:
    if name in _RUNNER:
        from engine.jobs import runner

        return getattr(runner, name)
    if name == "JobState":
        from engine.jobs.state import JobState

        return JobState
    if name == "current_job":
        from engine.jobs.context import current_job

        return current_job
    raise AttributeError(f"module 'engine.jobs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
