"""Progress of nested steps: a Stage 2 run reports 0..1 for itself, and inside a batch the
same run is one slice of the batch's 0..1 (``scoped``), so the job's bar never jumps back."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.progress import progress as _job_progress

_scope: tuple[float, float, str] = (0.0, 1.0, "")


def progress(fraction: float | None, message: str = "") -> None:
    start, end, prefix = _scope
    frac = None if fraction is None else start + (end - start) * max(0.0, min(1.0, float(fraction)))
    _job_progress(frac, prefix + message)


@contextmanager
def scoped(start: float, end: float, prefix: str = "") -> Iterator[None]:
    """Map the progress reported inside the block onto [start, end] of the current scope."""
    global _scope
    old = _scope
    s0, e0, p0 = old
    _scope = (s0 + (e0 - s0) * start, s0 + (e0 - s0) * end, p0 + prefix)
    try:
        yield
    finally:
        _scope = old
