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
