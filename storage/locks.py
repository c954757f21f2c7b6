"""Per-series / per-artifact locks (``<workspace>/locks/<id>.lock``) around read-merge-write.

``filelock`` (flock on Linux): the kernel releases a lock when its process dies, so a crash
never leaves a series locked.  Locks are re-entrant inside one process and thread (the
same id may be taken again by a nested writer).  A writer that cannot get a lock within
the timeout (``KLINELAB_LOCK_TIMEOUT`` seconds, default 300) is refused with ``Busy``:
two imports into one series therefore both land (one after the other), or one is refused
with a clear message - never a silent loss.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

import filelock

from config import settings
from config.errors import Busy
from storage.workspace import Workspace, check_id

DEFAULT_TIMEOUT_S = 300.0


def lock_timeout() -> float:
    return settings.LOCK_TIMEOUT.get()


@contextmanager
def artifact_lock(ws: Workspace, name: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of artifact id (or series id) ``name``."""
    ws.locks_dir.mkdir(parents=True, exist_ok=True)
    t = lock_timeout() if timeout is None else timeout
    lock = filelock.FileLock(ws.locks_dir / f"{check_id(name)}.lock", is_singleton=True, preserve_lock_file=True)
    try:
        lock.acquire(timeout=t)
    except filelock.Timeout:
        raise Busy(f"{name} is being written by another process (waited {t:g} s)",
                   hint="try again when the other import / download has finished") from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def artifact_locks(ws: Workspace, names: Iterable[str], *, timeout: float | None = None) -> Iterator[None]:
    """Hold several locks, taken in sorted order (no deadlock between two writers)."""
    with ExitStack() as stack:
        for n in sorted(set(names)):
            stack.enter_context(artifact_lock(ws, n, timeout=timeout))
        yield
