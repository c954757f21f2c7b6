"""Where the items of a fan-out job run: local processes (the default) or a Ray cluster.

``Executor.map(fn, items, on_progress=..., cancel=...)`` runs ``fn(item)`` for every item and
returns one :class:`ItemResult` per item, in the items' order.  A failing item is reported as
its own result (``ok=False`` and a one-line ``error``), never swallowed and never stopping the
others.  ``on_progress(done, total, result)`` is called on the driver as each item finishes (so
the caller can save what finished before a cancel); ``cancel`` (a callable returning True, or a
``threading.Event``) stops the run: the running tasks are cancelled (Ray: ``ray.cancel``) and
:class:`config.errors.Cancelled` is raised.  A SIGTERM (a job's cancel) raises ``Cancelled`` in the
driver while it waits, with the same effect.

``fn`` must be a module-level function and items and results picklable: with processes or
Ray they cross a process (or machine) boundary.  Tasks never touch the workspace by
themselves unless the caller's ``fn`` does; see engine/stage2/batch.py for the Stage 2 pattern
(compute in a scratch workspace, ship the staged artifacts back, the driver adopts them).

Choice: ``get_executor(name, address=, workers=)``; ``name`` defaults to ``KLINELAB_EXECUTOR``
(``local`` or ``ray``), the Ray address to ``--ray-address`` / ``RAY_ADDRESS`` (none: a local
Ray is started by ``ray.init()``).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

from config.errors import BadInput

EXECUTORS = ("local", "ray")
ENV_EXECUTOR = "KLINELAB_EXECUTOR"


@dataclass
class ItemResult:
    """What one item gave: its value, or its error (``error_type`` is the exception's class name)."""

    index: int
    ok: bool
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 1
    where: str | None = None  # the worker that ran it (host:pid), when known


ProgressFn = Callable[[int, int, ItemResult], None]


class Executor:
    name = "?"
    # do the tasks see the driver's disk?  None: find out per input (same path, same manifest hash);
    # False: never use the driver's paths, always ship (what a worker without the disk gets)
    shared_disk: bool | None = None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, on_progress: ProgressFn | None = None,
            cancel: Any = None) -> list[ItemResult]:
        raise NotImplementedError

    def put(self, value: Any) -> Any:
        """A handle to a (large) value shared by many items; the task gets it back with :func:`fetch`.
        Local: the value itself; Ray: an object reference stored once in the cluster."""
        return value

    @property
    def ships_inputs(self) -> bool:
        """True when the tasks may run on machines that do not see the driver's disk."""
        return False

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name}

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fetch(handle: Any) -> Any:
    """Inside a task: the value behind a handle from :meth:`Executor.put`."""
    if type(handle).__name__ == "ObjectRef":
        import ray

        return ray.get(handle)
    return handle


def is_cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


@contextlib.contextmanager
def sigterm_flag() -> Iterator[threading.Event]:
    """While the driver waits for its tasks, a SIGTERM (a job's cancel) only sets the yielded flag; the
    wait loop raises ``Cancelled`` itself.  (Raised from the handler it could surface inside a
    library's C++ wait as a SystemError - Ray's does - instead of as ``Cancelled``.)"""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    old = signal.signal(signal.SIGTERM, lambda *_: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


def describe_error(e: BaseException) -> tuple[str, str]:
    """(one-line message, class name) the way the CLI words failures: a KlineLab error by its message,
    anything else as 'unexpected failure: Type: message'."""
    from config.errors import KlineLabError

    if isinstance(e, KlineLabError):
        return str(e), type(e).__name__
    return f"unexpected failure: {type(e).__name__}: {e}", type(e).__name__


def get_executor(name: str | None = None, *, address: str | None = None, workers: int | None = None,
                 max_retries: int = 2) -> Executor:
    name = (name or os.environ.get(ENV_EXECUTOR) or "local").strip().lower()
    if name not in EXECUTORS:
        raise BadInput(f"unknown executor {name!r}", hint=f"use one of {', '.join(EXECUTORS)} (--executor or {ENV_EXECUTOR})")
    if workers is not None and workers < 1:
        raise BadInput(f"--workers must be at least 1, not {workers}")
    if name == "ray":
        from engine.executor.ray_exec import RayExecutor

        return RayExecutor(address=address, max_retries=max_retries)
    if address:
        raise BadInput("--ray-address is for --executor ray")
    from engine.executor.local import LocalExecutor

    return LocalExecutor(workers=workers or 1, max_retries=max_retries)


def add_cli_options(p) -> None:
    """``--executor`` / ``--ray-address`` / ``--workers`` for a command that fans out."""
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help=f"where the items run: local processes (default) or a Ray cluster (default from {ENV_EXECUTOR})")
    p.add_argument("--ray-address", default=None,
                   help="host:port of an existing Ray cluster (default RAY_ADDRESS; none: a local Ray is started)")
    p.add_argument("--workers", type=int, default=None,
                   help="local executor: processes at once (default 1: one item after another, in this process)")


def executor_from_args(args) -> Executor:
    return get_executor(getattr(args, "executor", None), address=getattr(args, "ray_address", None),
                        workers=getattr(args, "workers", None))
