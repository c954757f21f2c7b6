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


def die_or_echo_counted(args: tuple[str, str]) -> str:
    """``die_or_echo`` that first appends a line to ``<dir>/<x>.runs``: how often each item really ran."""
    x, folder = args
    with open(Path(folder) / f"{x}.runs", "a") as f:
        f.write("run\n")
    return die_or_echo(x)


def die_once_or_wait(args: tuple[str, str]) -> str:
    """``"die"``: kills its process the first time (breaks a shared pool), returns at once after that;
    anything else: appends a line to ``<dir>/<x>.runs`` (whether "die" had died by then), then sleeps a minute (its rerun alone is still
    running when the test cancels)."""
    x, folder = args
    if x == "die":
        return str(die_once(str(Path(folder) / "died")))
    with open(Path(folder) / f"{x}.runs", "a") as f:
        f.write("after the death\n" if (Path(folder) / "died").exists() else "before\n")
    time.sleep(60.0)
    return x
