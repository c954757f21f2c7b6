"""Timeframes: canonical names, parsing of the spellings found in the wild, bar arithmetic."""
from __future__ import annotations

import re

import numpy as np

from config.errors import BadInput
from config.settings import YEAR_SECONDS

TIMEFRAMES: dict[str, int] = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800,
    "1h": 3600, "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200,
    "1d": 86400, "1w": 604800,
}
_BY_SECONDS = {v: k for k, v in TIMEFRAMES.items()}

_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "t": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_timeframe(value: str) -> str:
    """'15m', '15min', '15T', 'M15', 'H1', '60m', '1H', 'D1', '4hour' ... -> canonical ('15m', '1h', ...)."""
    if isinstance(value, str) and value in TIMEFRAMES:  # already canonical (manifests, parsed options): no regex
        return value
    if value is None:
        raise BadInput("no timeframe given", hint=f"use one of {', '.join(TIMEFRAMES)}")
    s = str(value).strip().lower()
    m = re.fullmatch(r"(\d+)\s*(s|sec|m|min|mins|minute|minutes|t|h|hr|hour|hours|d|day|days|w|wk|week|weeks)", s)
    if not m:
        m2 = re.fullmatch(r"(m|h|d|w)(\d+)", s)  # MetaTrader style: M15, H1, D1, W1
        if m2:
            m = re.fullmatch(r"(\d+)(m|h|d|w)", m2.group(2) + m2.group(1))
    if not m:
        raise BadInput(f"unknown timeframe {value!r}", hint=f"use one of {', '.join(TIMEFRAMES)}")
    n, unit = int(m.group(1)), m.group(2)
    unit = {"sec": "s", "mins": "min", "minute": "min", "minutes": "min", "hr": "h", "hour": "h", "hours": "h",
            "day": "d", "days": "d", "wk": "w", "week": "w", "weeks": "w"}.get(unit, unit)
    seconds = n * _UNIT_SECONDS[unit]
    if seconds not in _BY_SECONDS:
        raise BadInput(f"unsupported timeframe {value!r} ({seconds} s)", hint=f"use one of {', '.join(TIMEFRAMES)}")
    return _BY_SECONDS[seconds]


def tf_seconds(tf: str) -> int:
    return TIMEFRAMES[tf] if tf in TIMEFRAMES else TIMEFRAMES[parse_timeframe(tf)]


def tf_timedelta(tf: str):
    import pandas as pd

    return pd.Timedelta(seconds=tf_seconds(tf))


def bars_per_year(tf: str) -> int:
    """Annualisation: 35,040 bars a year for 15m, 8,760 for 1h (crypto trades 24/7/365)."""
    return YEAR_SECONDS // tf_seconds(tf)


def bars_for(duration: str, tf: str) -> int:
    """How many bars of ``tf`` make ``duration`` (e.g. '4h' at '15m' -> 16); at least 1."""
    return max(1, tf_seconds(duration) // tf_seconds(tf))


def infer_timeframe(timestamps_ns: np.ndarray) -> str | None:
    """The most common spacing of sorted epoch-ns timestamps, if it is a known timeframe."""
    if len(timestamps_ns) < 2:
        return None
    d = np.diff(np.asarray(timestamps_ns, dtype="int64"))
    d = d[d > 0]
    if len(d) == 0:
        return None
    vals, counts = np.unique(d, return_counts=True)
    step = int(vals[np.argmax(counts)]) // 1_000_000_000
    return _BY_SECONDS.get(step)
