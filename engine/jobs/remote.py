"""Hooks the job layer offers to the areas that run jobs elsewhere (dependency-free).

A job whose ``host`` is not ``"local"`` is followed by a local process but runs on another
machine; cancelling it needs that area's code (``engine.sync.remote_jobs``).  Rather than
the runner importing sync (an import cycle: sync imports the job layer), sync REGISTERS its
canceller here when it is imported (``engine/sync/__init__.py``).  Every entry point that
can cancel has sync loaded: the CLI loads every command group (``engine.sync.cli`` among
them) before running ``jobs cancel``, and ``pages/ui.py`` imports ``engine.sync``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

# canceller(ws, job_state) -> the job's new state
RemoteCanceller = Callable[[Any, Any], Any]

_canceller: RemoteCanceller | None = None


def register_remote_canceller(fn: RemoteCanceller | None) -> RemoteCanceller | None:
    """Set the function that cancels a job running on another host; returns the previous one."""
    global _canceller
    old, _canceller = _canceller, fn
    return old


def remote_canceller() -> RemoteCanceller | None:
    return _canceller
