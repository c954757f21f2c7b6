"""Task functions of the executor tests (module level: they travel to Ray workers by name)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from config.errors import BadInput


def square_or_raise(x: int) -> int:
    if x == 2:
        raise BadInput("item 2 is bad on purpose")
    if x == 3:
        raise ZeroDivisionError("division by zero")
    return x * x


def die_once(marker: str) -> int:
    """Kills its own process the first time (no marker yet), then succeeds: a worker that dies."""
    p = Path(marker)
    if not p.exists():
        p.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def always_die(_: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def slow_mark(args: tuple[str, float]) -> str:
    path, seconds = args
    time.sleep(seconds)
    Path(path).write_text("finished")
    return path


def die_or_echo(x: str) -> str:
    """``"die"``: kills its own process at once; anything else: returns it after a second (still running
    when the other item's death breaks a shared pool)."""
    if x == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(1.0)
    return x
