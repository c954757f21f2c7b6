"""Background jobs (SPEC 10): long work runs as ``python -m engine <command>`` in its own
process group; its state lives in ``<workspace>/jobs/<id>/`` so it survives page reloads
and app restarts.

Public API: :func:`submit`, :func:`get`, :func:`list_jobs`, :func:`cancel`, :func:`log_tail`,
and for code running inside a job :func:`progress` (a no-op outside jobs, except for the
stderr line).
"""
from engine.jobs.runner import JobState, cancel, get, list_jobs, log_tail, submit, wait  # noqa: F401
from engine.jobs.context import current_job, progress  # noqa: F401
