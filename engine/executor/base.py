"""The executor interface (``Executor``, ``ItemResult``) and the helpers its implementations share;
see ``engine/executor/__init__.py`` for how a fan-out job uses it."""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

from config import settings
from config.errors import BadInput

EXECUTORS = ("local", "ray")
ENV_EXECUTOR = settings.EXECUTOR.name


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

    def slots(self) -> int:
        """How many items can run at once (to size the chunks of a job that splits its work)."""
        return 1

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


def resolve_executor(executor: str | None = None, *, workers: int | None = None,
                     ray_address: str | None = None) -> dict | None:
    """THE rule of every command that fans out (``train``, ``backtest sweep``, ``stage2 batch``, ``tune run``):
    an explicit ``--executor`` wins; otherwise ``KLINELAB_EXECUTOR``; otherwise ``--workers`` alone means
    local, and ``--ray-address`` (with or without ``--workers``) Ray; otherwise None (everything in the
    command's own process).  ``--ray-address`` with the local executor is the one contradiction (one
    BadInput).  ``--workers`` is the local processes at once; under Ray only ``tune run`` uses it (its
    trials at once), the others size their work to the cluster.  Returns ``{"executor", "workers",
    "ray_address"}`` or None."""
    env = (settings.EXECUTOR.get() or "").strip().lower() or None
    name, source = (executor, "--executor") if executor else (env, ENV_EXECUTOR) if env else (None, None)
    if name is None:
        if workers is None and not ray_address:
            return None
        name, source = ("ray" if ray_address else "local"), None
    if name not in EXECUTORS:
        raise BadInput(f"unknown executor {name!r}", hint=f"use one of {', '.join(EXECUTORS)} (--executor or {ENV_EXECUTOR})")
    if workers is not None and workers < 1:
        raise BadInput(f"--workers must be at least 1, not {workers}")
    chosen = f" (the executor is {name}, from {source})" if source else ""
    if name == "local" and ray_address:
        raise BadInput(f"--ray-address is for --executor ray{chosen}")
    return {"executor": name, "workers": workers, "ray_address": ray_address or None}
