"""Fractal / statistical: Hurst exponent (DFA-1 and corrected R/S, on log returns), Higuchi
and Katz fractal dimension (on closes), Kaufman's efficiency ratio, permutation entropy
(Bandt & Pompe 2002), return autocorrelations, Lo-MacKinlay variance ratios, skewness,
kurtosis and a price z-score.  Rolling windows end at the current bar.

No library offers rolling versions of these, so the kernels are hand-written in numba
(engine/features/kernels.py) or vectorised numpy over window views."""
from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import talib

from engine.features.context import Bars
from engine.features.kernels import (
    rolling_dfa,
    rolling_higuchi,
    rolling_mean,
    rolling_pattern_entropy,
    rolling_rs,
    rolling_skew_kurt,
    rolling_sum,
    safe_div,
    shift,
    windows,
    zscore,
)
from engine.features.registry import Family

HURST_W = 256
HIGUCHI_W, HIGUCHI_KMAX = 128, 8
KATZ_W = 64


def rolling_katz(x: np.ndarray, w: int) -> np.ndarray:
    """Katz fractal dimension of each window of ``w`` points (as kernels.katz_fd), vectorised:
    L = sum of |steps|, a = L / (w - 1), d = max |x_i - x_first|."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < w:
        return np.full(n, np.nan)
    steps = rolling_sum(np.abs(x - shift(x, 1)), w - 1)  # the w-1 steps inside the window
    first = shift(x, w - 1)
    d = np.maximum(talib.MAX(x, w) - first, first - talib.MIN(x, w))
    ln = np.log10(w - 1.0)  # log10(L / a)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ln / (np.log10(d / steps) + ln)
    out[~np.isfinite(out)] = np.nan
    return out


def _pattern_codes(x: np.ndarray, m: int) -> np.ndarray:
    """Index (0 .. m!-1) of the ordinal pattern of x[t-m+1 .. t]; -1 for the first m-1 rows."""
    n = len(x)
    codes = np.full(n, -1, dtype=np.int64)
    if n < m:
        return codes
    order = np.argsort(windows(x, m), axis=1, kind="stable")
    key = (order * (m ** np.arange(m))).sum(axis=1)
    lut = np.full(m ** m, -1, dtype=np.int64)
    for i, p in enumerate(permutations(range(m))):
        lut[sum(v * m ** j for j, v in enumerate(p))] = i
    codes[m - 1:] = lut[key]
    return codes


def permutation_entropy(x: np.ndarray, m: int, w: int) -> np.ndarray:
    """Normalised permutation entropy (0 .. 1) of the ordinal patterns of order m among the
    last w patterns."""
    return rolling_pattern_entropy(_pattern_codes(x, m), math.factorial(m), w, m - 1 + w - 1)


def variance_ratio(r: np.ndarray, q: int, w: int) -> np.ndarray:
    """Lo-MacKinlay VR(q): variance of overlapping q-bar returns / (q x variance of 1-bar
    returns), both over the last w bars."""
    rq = rolling_sum(r, q)
    m1 = rolling_mean(r, w)
    v1 = np.maximum(rolling_mean(r * r, w) - m1 * m1, 0.0)
    mq = rolling_mean(rq, w)
    vq = np.maximum(rolling_mean(rq * rq, w) - mq * mq, 0.0)
    return safe_div(vq, q * v1)


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    c = b.close
    r = b.logret
    lc = np.log(c)
    out: dict[str, np.ndarray] = {}
    out[f"hurst_dfa_{HURST_W}"] = rolling_dfa(r, HURST_W)
    out[f"hurst_rs_{HURST_W}"] = rolling_rs(r, HURST_W)
    out[f"higuchi_fd_{HIGUCHI_W}"] = rolling_higuchi(lc, HIGUCHI_W, HIGUCHI_KMAX)
    out[f"katz_fd_{KATZ_W}"] = rolling_katz(c, KATZ_W)
    for n in (10, 30):
        out[f"efficiency_ratio_{n}"] = safe_div(np.abs(c - shift(c, n)), rolling_sum(np.abs(c - shift(c, 1)), n))
    out["perm_entropy_3_64"] = permutation_entropy(c, 3, 64)
    out["perm_entropy_4_128"] = permutation_entropy(c, 4, 128)
    for k in (1, 2, 5):
        out[f"acf{k}_64"] = talib.CORREL(r, shift(r, k), 64 - k)
    out["acf1_256"] = talib.CORREL(r, shift(r, 1), 255)
    out["variance_ratio_4_128"] = variance_ratio(r, 4, 128)
    out["variance_ratio_16_256"] = variance_ratio(r, 16, 256)
    sk, ku = rolling_skew_kurt(r, 64)
    out["skew_64"], out["kurt_64"] = sk, ku
    out["price_z_64"] = zscore(c, 64)
    return out


FAMILY = Family("fractal", "Fractal / statistical", compute).declare([
    (f"hurst_dfa_{HURST_W}", HURST_W, "close", f"Hurst exponent of log returns by DFA-1 over {HURST_W} bars (scales 8-64)"),
    (f"hurst_rs_{HURST_W}", HURST_W, "close", f"Hurst exponent by Anis-Lloyd corrected R/S over {HURST_W} bars (blocks 16-128)"),
    (f"higuchi_fd_{HIGUCHI_W}", HIGUCHI_W - 1, "close", f"Higuchi fractal dimension of log close over {HIGUCHI_W} bars (kmax {HIGUCHI_KMAX})"),
    (f"katz_fd_{KATZ_W}", KATZ_W - 1, "close", f"Katz fractal dimension of close over {KATZ_W} bars"),
    ("efficiency_ratio_10", 10, "close", "Kaufman efficiency ratio |net move| / path length over 10 bars"),
    ("efficiency_ratio_30", 30, "close", "Kaufman efficiency ratio over 30 bars"),
    ("perm_entropy_3_64", 2 + 63, "close", "normalised permutation entropy, order 3, last 64 patterns"),
    ("perm_entropy_4_128", 3 + 127, "close", "normalised permutation entropy, order 4, last 128 patterns"),
    ("acf1_64", 64, "close", "lag-1 autocorrelation of one-bar returns over 64 bars"),
    ("acf2_64", 64, "close", "lag-2 autocorrelation of one-bar returns over 64 bars"),
    ("acf5_64", 64, "close", "lag-5 autocorrelation of one-bar returns over 64 bars"),
    ("acf1_256", 256, "close", "lag-1 autocorrelation of one-bar returns over 256 bars"),
    ("variance_ratio_4_128", 4 + 127, "close", "Lo-MacKinlay variance ratio VR(4) over 128 bars"),
    ("variance_ratio_16_256", 16 + 255, "close", "Lo-MacKinlay variance ratio VR(16) over 256 bars"),
    ("skew_64", 64, "close", "skewness of one-bar log returns over 64 bars"),
    ("kurt_64", 64, "close", "excess kurtosis of one-bar log returns over 64 bars"),
    ("price_z_64", 63, "close", "z-score of close over 64 bars"),
])
