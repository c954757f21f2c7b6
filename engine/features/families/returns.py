"""Returns and candle shape: log returns over several horizons, lagged returns, the bar's
body / wicks / range / location, the opening gap, the up-bar ratio and a return z-score."""
from __future__ import annotations

import numpy as np

from engine.features.context import Bars
from engine.features.kernels import log_ratio, rolling_mean, safe_div, shift
from engine.features.registry import Family

RET_K = (1, 2, 4, 8, 16, 32, 96)


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    o, h, l, c = b.open, b.high, b.low, b.close
    out = {f"logret_{k}": (b.logret if k == 1 else log_ratio(c, shift(c, k))) for k in RET_K}
    for k in (1, 2, 3):
        out[f"logret_1_lag{k}"] = shift(b.logret, k)
    out["high_ret_1"] = log_ratio(h, shift(c, 1))
    out["low_ret_1"] = log_ratio(l, shift(c, 1))
    out["body_pct"] = safe_div(c - o, o)
    out["upper_wick_pct"] = safe_div(h - np.maximum(o, c), c)
    out["lower_wick_pct"] = safe_div(np.minimum(o, c) - l, c)
    out["range_pct"] = safe_div(h - l, c)
    rng = h - l
    out["close_location"] = np.where(rng > 0, safe_div(c - l, rng), 0.5)
    out["gap_pct"] = safe_div(o, shift(c, 1)) - 1.0
    up = np.where(np.isnan(b.logret), np.nan, (b.logret > 0).astype(np.float64))
    out["up_ratio_16"] = rolling_mean(up, 16)
    sd = np.sqrt(np.maximum(rolling_mean(b.logret ** 2, 32) - rolling_mean(b.logret, 32) ** 2, 0.0))
    out["ret_z_32"] = safe_div(b.logret, sd)
    return out


FAMILY = Family("returns", "Returns and candle shape", compute).declare(
    [(f"logret_{k}", k, "close", f"log return over the last {k} bar{'s' if k > 1 else ''}: ln(close_t / close_t-{k})")
     for k in RET_K]
    + [(f"logret_1_lag{k}", k + 1, "close", f"one-bar log return {k} bar{'s' if k > 1 else ''} ago") for k in (1, 2, 3)]
    + [
        ("high_ret_1", 1, "high close", "ln(high_t / close_t-1): how far the bar reached up"),
        ("low_ret_1", 1, "low close", "ln(low_t / close_t-1): how far the bar reached down"),
        ("body_pct", 0, "open close", "(close - open) / open"),
        ("upper_wick_pct", 0, "open high close", "(high - max(open, close)) / close"),
        ("lower_wick_pct", 0, "open low close", "(min(open, close) - low) / close"),
        ("range_pct", 0, "high low close", "(high - low) / close"),
        ("close_location", 0, "high low close", "(close - low) / (high - low); 0.5 for a zero-range bar"),
        ("gap_pct", 1, "open close", "open_t / close_t-1 - 1"),
        ("up_ratio_16", 16, "close", "share of up bars among the last 16"),
        ("ret_z_32", 32, "close", "one-bar log return over the RMS-centred std of the last 32 returns"),
    ])
