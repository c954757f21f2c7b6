"""Progress reporting for long work: the one function every area calls, dependency-free.

This module imports nothing from KlineLab, so any module (the data importer, a feature
kernel, the Hub client) can report progress without loading the job machinery.

:func:`progress` prints one line to stderr (the CLI's progress channel) unless quiet, then
hands the fraction to the registered *sink*.  The job layer (``engine.jobs.context``)
registers the sink that records progress in the running job's state file; outside a job
the sink does nothing, and with no sink registered (nothing imported the job layer) the
stderr line is all there is.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

# sink(fraction or None, message, force) -> None
Sink = Callable[[float | None, str, bool], None]

_sink: Sink | None = None
_quiet = False


def set_quiet(quiet: bool) -> None:
    """No stderr lines (``--quiet``); the sink still receives every report."""
    global _quiet
    _quiet = bool(quiet)


def set_sink(sink: Sink | None) -> Sink | None:
    """Register where reports go besides stderr; returns the previous sink."""
    global _sink
    old, _sink = _sink, sink
    return old


def progress(fraction: float | None, message: str = "", *, force: bool = False) -> None:
    """Report progress (0..1, or None for 'unknown') with a short message."""
    frac = None if fraction is None else max(0.0, min(1.0, float(fraction)))
    if not _quiet:
        pct = "   ?" if frac is None else f"{frac * 100:3.0f}%"
        print(f"[{pct}] {message}", file=sys.stderr, flush=True)
    sink = _sink
    if sink is not None:
        sink(frac, message, force)
