"""One error family for the whole project.

Every error a user can cause (bad file, bad form value, bad config, refused request,
remote failure) is a ``KlineLabError`` whose message can be shown as is, on a page or
as the ``error: ...`` line of the CLI.  Like huggingface_hub's errors, the subclasses
also derive from the matching built-in type so callers may catch either.

``exit_code`` is the CLI status: 2 for bad input / refused requests, 1 for unexpected
failures (the CLI maps any other exception to 1 as well).
"""
from __future__ import annotations


class KlineLabError(Exception):
    """Base class: a problem with a message meant for the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, data: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # optional JSON document of a refusal that still has something to show (e.g. the host key
        # fingerprint of `sync ssh test`): printed with --json and kept as the failed job's result
        self.data = data

    def __str__(self) -> str:  # message plus what to do, on one line
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BadInput(KlineLabError, ValueError):
    """A file, form value, option or config that cannot be used."""


class NotFound(KlineLabError, FileNotFoundError):
    """An artifact, file, symbol, repo or remote path that does not exist."""


class Refused(KlineLabError, PermissionError):
    """A request that is understood but not allowed (in-sample backtest, unknown host key...)."""


class Conflict(KlineLabError):
    """The request clashes with what is already in the workspace."""


class RemoteError(KlineLabError, ConnectionError):
    """A remote (Hub, SSH host, database) failed or refused; the message says which and why."""


class Busy(KlineLabError):
    """A shared resource (the catalog file) is held by another process for too long."""

    exit_code = 1


class Cancelled(KlineLabError):
    """A job was cancelled by the user."""

    exit_code = 1
