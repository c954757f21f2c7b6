"""Time: hour of day and weekday as sine/cosine pairs, trading sessions (UTC), weekend, and
minutes from the bar's close to the next perpetual funding time (00:00, 08:00, 16:00 UTC)."""
from __future__ import annotations

import numpy as np

from engine.features.context import NS, Bars
from engine.features.registry import Family

DAY = 86_400 * NS
FUNDING_EVERY_MIN = 480  # Binance USDT-M perpetuals settle every 8 h


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    ts = b.ts
    sec_of_day = (ts % DAY) / NS
    hour = sec_of_day / 3600.0
    days = ts // DAY
    dow = (days + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    out = {
        "hour_sin": np.sin(2 * np.pi * hour / 24.0),
        "hour_cos": np.cos(2 * np.pi * hour / 24.0),
        "dow_sin": np.sin(2 * np.pi * dow / 7.0),
        "dow_cos": np.cos(2 * np.pi * dow / 7.0),
        "session_asia": ((hour >= 0) & (hour < 8)).astype(np.float64),
        "session_europe": ((hour >= 7) & (hour < 16)).astype(np.float64),
        "session_us": ((hour >= 13) & (hour < 21)).astype(np.float64),
        "is_weekend": (dow >= 5).astype(np.float64),
    }
    close_min = (sec_of_day + b.step_ns / NS) / 60.0
    out["minutes_to_funding"] = (FUNDING_EVERY_MIN - close_min % FUNDING_EVERY_MIN) % FUNDING_EVERY_MIN
    return out


FAMILY = Family("time", "Time", compute).declare([
    ("hour_sin", 0, "timestamp", "sine of the hour of day (bar open, UTC)"),
    ("hour_cos", 0, "timestamp", "cosine of the hour of day"),
    ("dow_sin", 0, "timestamp", "sine of the weekday (Monday 0)"),
    ("dow_cos", 0, "timestamp", "cosine of the weekday"),
    ("session_asia", 0, "timestamp", "1 during 00:00-08:00 UTC"),
    ("session_europe", 0, "timestamp", "1 during 07:00-16:00 UTC"),
    ("session_us", 0, "timestamp", "1 during 13:00-21:00 UTC"),
    ("is_weekend", 0, "timestamp", "1 on Saturday and Sunday (UTC)"),
    ("minutes_to_funding", 0, "timestamp", "minutes from the bar's close to the next 8-hourly funding time"),
])
