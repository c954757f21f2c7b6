"""Volatility: ATR, true range, Bollinger, Keltner, Donchian, realized volatility and the
range-based estimators of Parkinson (1980), Garman-Klass (1980), Rogers-Satchell (1991) and
Yang-Zhang (2000), ratios and a volatility-regime percentile computed from past data only.

Estimators are per bar (not annualised): sigma over the last n bars."""
from __future__ import annotations

import math

import numpy as np
import talib

from engine.features.context import Bars
from engine.features.kernels import log_ratio, rolling_mean, rolling_rank_pct, safe_div, shift, zscore
from engine.features.registry import Family

EST_N = (16, 96)
RV_N = (16, 32, 96)
REGIME_W = 960


def realized_vol(r: np.ndarray, n: int) -> np.ndarray:
    """sqrt(mean of squared log returns over n bars) (Andersen-Bollerslev realized volatility)."""
    return np.sqrt(rolling_mean(r * r, n))


def parkinson(h, l, n):
    """sqrt( 1/(4 ln 2) * mean( ln(H/L)^2 ) )  (Parkinson 1980)."""
    hl = log_ratio(h, l)
    return np.sqrt(rolling_mean(hl * hl, n) / (4.0 * math.log(2.0)))


def garman_klass(o, h, l, c, n):
    """sqrt( mean( 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2 ) )  (Garman & Klass 1980)."""
    hl, co = log_ratio(h, l), log_ratio(c, o)
    term = 0.5 * hl * hl - (2.0 * math.log(2.0) - 1.0) * co * co
    return np.sqrt(np.maximum(rolling_mean(term, n), 0.0))


def rogers_satchell(o, h, l, c, n):
    """sqrt( mean( ln(H/C) ln(H/O) + ln(L/C) ln(L/O) ) )  (Rogers & Satchell 1991)."""
    term = log_ratio(h, c) * log_ratio(h, o) + log_ratio(l, c) * log_ratio(l, o)
    return np.sqrt(np.maximum(rolling_mean(term, n), 0.0))


def _sample_var(x, n):
    m = rolling_mean(x, n)
    return np.maximum(rolling_mean(x * x, n) - m * m, 0.0) * n / (n - 1)


def yang_zhang(o, h, l, c, n):
    """sqrt( s_o^2 + k s_c^2 + (1 - k) s_rs^2 ), k = 0.34 / (1.34 + (n + 1) / (n - 1)), with
    s_o^2 the sample variance of ln(O_t / C_t-1), s_c^2 that of ln(C_t / O_t) and s_rs^2 the
    Rogers-Satchell variance (Yang & Zhang 2000)."""
    ov = log_ratio(o, shift(c, 1))
    oc = log_ratio(c, o)
    rs = log_ratio(h, c) * log_ratio(h, o) + log_ratio(l, c) * log_ratio(l, o)
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    var = _sample_var(ov, n) + k * _sample_var(oc, n) + (1 - k) * rolling_mean(rs, n)
    return np.sqrt(np.maximum(var, 0.0))


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    o, h, l, c = b.open, b.high, b.low, b.close
    r = b.logret
    out: dict[str, np.ndarray] = {}
    atr = {n: talib.ATR(h, l, c, n) for n in (7, 10, 14, 28, 100)}
    for n in (7, 14, 28):
        out[f"atr_pct_{n}"] = safe_div(atr[n], c)
    out["atr_ratio_14_100"] = safe_div(atr[14], atr[100])
    out["trange_pct"] = safe_div(talib.TRANGE(h, l, c), c)
    for n in (20, 50):
        up, mid, lo = talib.BBANDS(c, n, 2.0, 2.0, 0)
        out[f"bb_width_{n}"] = safe_div(up - lo, mid)
        if n == 20:
            out["bb_pctb_20"] = safe_div(c - lo, up - lo)
            bb_up, bb_lo = up, lo
    ema20 = talib.EMA(c, 20)
    kc_up, kc_lo = ema20 + 2.0 * atr[10], ema20 - 2.0 * atr[10]
    out["kc_width_20"] = safe_div(kc_up - kc_lo, ema20)
    out["kc_pos_20"] = safe_div(c - kc_lo, kc_up - kc_lo)
    sq = (bb_up < kc_up) & (bb_lo > kc_lo)
    out["squeeze_20"] = np.where(np.isnan(bb_up) | np.isnan(kc_up), np.nan, sq.astype(np.float64))
    for n in (20, 55):
        hi, lo = talib.MAX(h, n), talib.MIN(l, n)
        out[f"dc_pos_{n}"] = np.where(hi > lo, safe_div(c - lo, hi - lo), 0.5)
        out[f"dc_pos_{n}"][np.isnan(hi)] = np.nan
        out[f"dc_width_{n}"] = safe_div(hi - lo, c)
    rv = {n: realized_vol(r, n) for n in RV_N}
    for n in RV_N:
        out[f"rv_{n}"] = rv[n]
    for n in EST_N:
        out[f"parkinson_{n}"] = parkinson(h, l, n)
        out[f"garman_klass_{n}"] = garman_klass(o, h, l, c, n)
        out[f"rogers_satchell_{n}"] = rogers_satchell(o, h, l, c, n)
        out[f"yang_zhang_{n}"] = yang_zhang(o, h, l, c, n)
    out["rv_ratio_16_96"] = safe_div(rv[16], rv[96])
    out["vol_regime_pct_960"] = rolling_rank_pct(rv[32], REGIME_W)
    out["range_z_96"] = zscore(safe_div(h - l, c), 96)
    return out


FAMILY = Family("volatility", "Volatility", compute).declare(
    [(f"atr_pct_{n}", n, "high low close", f"ATR({n}) / close (TA-Lib ATR)") for n in (7, 14, 28)]
    + [
        ("atr_ratio_14_100", 100, "high low close", "ATR(14) / ATR(100)"),
        ("trange_pct", 1, "high low close", "true range / close (TA-Lib TRANGE)"),
        ("bb_width_20", 19, "close", "Bollinger(20, 2) width / middle band (TA-Lib BBANDS)"),
        ("bb_width_50", 49, "close", "Bollinger(50, 2) width / middle band (TA-Lib BBANDS)"),
        ("bb_pctb_20", 19, "close", "Bollinger(20, 2) %B"),
        ("kc_width_20", 19, "high low close", "Keltner channel (EMA 20 +- 2 ATR 10) width / EMA"),
        ("kc_pos_20", 19, "high low close", "position of close in the Keltner channel (0 lower .. 1 upper)"),
        ("squeeze_20", 19, "high low close", "1 when the Bollinger bands lie inside the Keltner channel"),
        ("dc_pos_20", 19, "high low close", "position of close in the 20-bar Donchian channel"),
        ("dc_width_20", 19, "high low close", "20-bar Donchian channel width / close"),
        ("dc_pos_55", 54, "high low close", "position of close in the 55-bar Donchian channel"),
        ("dc_width_55", 54, "high low close", "55-bar Donchian channel width / close"),
    ]
    + [(f"rv_{n}", n, "close", f"realized volatility: RMS of the last {n} one-bar log returns") for n in RV_N]
    + [row for n in EST_N for row in (
        (f"parkinson_{n}", n - 1, "high low", f"Parkinson (1980) high-low volatility over {n} bars"),
        (f"garman_klass_{n}", n - 1, "open high low close", f"Garman-Klass (1980) OHLC volatility over {n} bars"),
        (f"rogers_satchell_{n}", n - 1, "open high low close", f"Rogers-Satchell (1991) drift-free volatility over {n} bars"),
        (f"yang_zhang_{n}", n, "open high low close", f"Yang-Zhang (2000) volatility over {n} bars"),
    )]
    + [
        ("rv_ratio_16_96", 96, "close", "realized volatility 16 bars / 96 bars"),
        ("vol_regime_pct_960", 32 + REGIME_W - 1, "close",
         f"percentile of rv_32 among its last {REGIME_W} values (past data only)"),
        ("range_z_96", 95, "high low close", "z-score of (high - low) / close over 96 bars"),
    ])
