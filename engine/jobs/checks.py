"""The job layer's hook for checking a command before a job is created (dependency-free).

``engine.jobs.submit`` refuses a command that would only fail in its own process (``jobs start --
frobnicate``, a bad option or value) before any job folder exists. Checking needs the CLI's parser,
and the CLI imports the job layer, so rather than the runner importing ``engine.cli`` (an import
cycle), ``engine.cli`` REGISTERS its check here when it is imported; ``pages/ui.py`` imports
``engine.cli`` for the pages. Without a registered check a bad command fails in its job, as a job.
"""
from __future__ import annotations

from collections.abc import Callable

CommandChecker = Callable[[list[str]], None]  # raises config.errors.BadInput for a command that cannot run

_checker: CommandChecker | None = None


def register_command_checker(fn: CommandChecker | None) -> CommandChecker | None:
    """Set the function that checks a job's command; returns the previous one."""
    global _checker
    old, _checker = _checker, fn
    return old


def check_command(args: list[str]) -> None:
    if _checker is not None:
        _checker(args)
