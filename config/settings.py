"""One place for the ``KLINELAB_*`` environment variables and the constants several areas share.

Environment variables are read when asked (``settings.LOCK_TIMEOUT.get()``), never at import, so a
test or a job that sets one sees it.  A value that is set but unusable is one ``BadInput`` line naming
the variable and what it accepts (``KLINELAB_LOCK_TIMEOUT must be a number >= 0, got 'abc'``); an
empty value counts as unset.  ``ENV`` lists them all (the names, defaults and meanings are in
``docs/ARCHITECTURE.md``, "Configuration and requests").

Shared constants: the prediction ``HORIZONS`` (targets, direction models, the backtest's horizon
choice), the length of a year (crypto trades 24/7/365: ``YEAR_DAYS``, ``YEAR_SECONDS``; bars per year
are ``engine.data.timeframes.bars_per_year``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types as at  # constraints pydantic reads; pydantic itself is imported only when a value is checked

# -- shared constants ------------------------------------------------------------------------------
HORIZONS: tuple[str, ...] = ("15m", "1h", "4h", "12h")
"""Prediction horizons of the targets (``future_return_<h>``, ``direction_<h>``) and the direction models."""
YEAR_DAYS = 365
YEAR_SECONDS = YEAR_DAYS * 86_400


# -- environment variables -------------------------------------------------------------------------
@dataclass(frozen=True)
class EnvVar:
    name: str
    type: Any
    default: Any
    doc: str

    def raw(self) -> str | None:
        v = os.environ.get(self.name)
        return v if v is not None and v.strip() != "" else None

    def get(self) -> Any:
        """The checked value, or the default when unset (BadInput naming the variable when unusable)."""
        v = self.raw()
        if v is None:
            return self.default
        from config.typed import check_value

        return check_value(self.type, v.strip(), self.name)


Positive = Annotated[float, at.Gt(0)]
NonNegative = Annotated[float, at.Ge(0)]

HOME = EnvVar("KLINELAB_HOME", str, None, "workspace root (default ./workspace); --home wins")
JOB_ID = EnvVar("KLINELAB_JOB_ID", str, None, "set by the job runner in a job's process: progress goes to its state.json")
COSTS_FILE = EnvVar("KLINELAB_COSTS_FILE", str, None, "another costs.yaml for every consumer (tests, what-if studies)")
EXECUTOR = EnvVar("KLINELAB_EXECUTOR", str, None, "default executor of fan-out jobs (--executor wins)")
SHARED_DISK = EnvVar("KLINELAB_SHARED_DISK", Literal["0", "1"], None,
                     "1: every Ray worker sees the workspace at the same path (inputs not shipped); 0: always shipped")
TF_THREADS = EnvVar("KLINELAB_TF_THREADS", Annotated[int, at.Ge(1), at.Le(1024)], None,
                    "TensorFlow threads of Stage 1 (default min(2, CPUs))")
LGB_THREADS = EnvVar("KLINELAB_LGB_THREADS", Annotated[int, at.Ge(1), at.Le(1024)], 1, "LightGBM threads of Stage 2")
LOCK_TIMEOUT = EnvVar("KLINELAB_LOCK_TIMEOUT", NonNegative, 300.0,
                      "seconds to wait for an artifact / series lock before Busy")
REMOTE_POLL_S = EnvVar("KLINELAB_REMOTE_POLL_S", Positive, 1.0, "seconds between polls of a remote job")
HUB_BACKOFF_S = EnvVar("KLINELAB_HUB_BACKOFF_S", NonNegative, 1.0, "first back-off of Hub retries (seconds)")
SSH_PASSWORD = EnvVar("KLINELAB_SSH_PASSWORD", str, None, "SSH password for one run (never stored)")
SQL_URL = EnvVar("KLINELAB_SQL_URL", str, None,
                  "database URL of `data import-sql` when --url is absent (how the Data page passes it; never stored)")
TUNE_STORAGE = EnvVar("KLINELAB_TUNE_STORAGE", str, None,
                      "Optuna storage URL of `tune run` when --storage is absent (how the Tuning tab passes it)")
SSH_KEY_PASSPHRASE = EnvVar("KLINELAB_SSH_KEY_PASSPHRASE", str, None, "passphrase of an encrypted SSH key file")
ARCHIVE_MAX_BYTES = EnvVar("KLINELAB_ARCHIVE_MAX_BYTES", Positive, float(64 << 30), "cap on an archive's unpacked size")
ARCHIVE_MAX_MEMBER_BYTES = EnvVar("KLINELAB_ARCHIVE_MAX_MEMBER_BYTES", Positive, float(16 << 30),
                                  "cap on one archive member's size")
ARCHIVE_MAX_MEMBERS = EnvVar("KLINELAB_ARCHIVE_MAX_MEMBERS", Positive, 200_000.0, "cap on an archive's member count")
ARCHIVE_MAX_RATIO = EnvVar("KLINELAB_ARCHIVE_MAX_RATIO", Positive, 200.0, "cap on an archive's expansion factor")
NO_SAMPLE = EnvVar("KLINELAB_NO_SAMPLE", str, None, "1: the app does not import the bundled sample on first start")
ALLOWED_HOSTS = EnvVar("KLINELAB_ALLOWED_HOSTS", str, None, "extra Host headers the app server accepts (comma separated)")
BUILD_MEMORY_MB = EnvVar("KLINELAB_BUILD_MEMORY_MB", Positive, 1500.0,
                         "memory (MB) the symbols a features build has in flight may hold")
WINDOWS_MEMORY_MB = EnvVar("KLINELAB_WINDOWS_MEMORY_MB", Positive, None,
                           "memory (MB) of one column group / row block while training windows are built (default 256)")

ENV: tuple[EnvVar, ...] = (HOME, JOB_ID, COSTS_FILE, EXECUTOR, SHARED_DISK, TF_THREADS, LGB_THREADS, LOCK_TIMEOUT,
                           REMOTE_POLL_S, HUB_BACKOFF_S, SSH_PASSWORD, SQL_URL, TUNE_STORAGE, SSH_KEY_PASSPHRASE,
                           ARCHIVE_MAX_BYTES, ARCHIVE_MAX_MEMBER_BYTES, ARCHIVE_MAX_MEMBERS, ARCHIVE_MAX_RATIO, NO_SAMPLE, ALLOWED_HOSTS,
                           BUILD_MEMORY_MB, WINDOWS_MEMORY_MB)


def home() -> Path:
    """The workspace root: ``$KLINELAB_HOME`` or ``./workspace``, resolved."""
    return Path(HOME.get() or "workspace").expanduser().resolve()


def job_id() -> str | None:
    return JOB_ID.get()
