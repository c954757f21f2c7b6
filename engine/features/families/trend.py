"""Trend: moving-average ratios and crosses, MACD, ADX/DI, Aroon, Parabolic SAR, Ichimoku
(only the causal lines: the lagging Chikou span looks into the future and is left out),
regression slope / R^2 and KAMA.  Standard indicators are TA-Lib's (the C reference)."""
from __future__ import annotations

import numpy as np
import talib

from engine.features.context import Bars
from engine.features.kernels import safe_div, shift
from engine.features.registry import Family

SMA_N = (10, 20, 50, 100, 200)
EMA_N = (9, 21, 55, 144)


def _mid(h, l, n):
    return (talib.MAX(h, n) + talib.MIN(l, n)) / 2.0


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    h, l, c = b.high, b.low, b.close
    out: dict[str, np.ndarray] = {}
    sma = {n: talib.SMA(c, n) for n in SMA_N}
    ema = {n: talib.EMA(c, n) for n in EMA_N}
    for n in SMA_N:
        out[f"sma_ratio_{n}"] = safe_div(c, sma[n]) - 1.0
    for n in EMA_N:
        out[f"ema_ratio_{n}"] = safe_div(c, ema[n]) - 1.0
    out["ema_cross_9_21"] = safe_div(ema[9], ema[21]) - 1.0
    out["ema_cross_21_55"] = safe_div(ema[21], ema[55]) - 1.0
    out["sma_cross_50_200"] = safe_div(sma[50], sma[200]) - 1.0
    macd, sig, hist = talib.MACD(c, 12, 26, 9)
    out["macd_pct"] = safe_div(macd, c)
    out["macd_signal_pct"] = safe_div(sig, c)
    out["macd_hist_pct"] = safe_div(hist, c)
    out["adx_14"] = talib.ADX(h, l, c, 14)
    out["adxr_14"] = talib.ADXR(h, l, c, 14)
    pdi, mdi = talib.PLUS_DI(h, l, c, 14), talib.MINUS_DI(h, l, c, 14)
    out["plus_di_14"] = pdi
    out["minus_di_14"] = mdi
    out["di_diff_14"] = pdi - mdi
    down, up = talib.AROON(h, l, 25)
    out["aroon_up_25"] = up
    out["aroon_down_25"] = down
    out["aroon_osc_25"] = talib.AROONOSC(h, l, 25)
    sar = talib.SAR(h, l, 0.02, 0.2)
    out["psar_dist"] = safe_div(c - sar, c)
    out["psar_trend"] = np.where(np.isnan(sar), np.nan, np.sign(c - sar))
    tenkan, kijun = _mid(h, l, 9), _mid(h, l, 26)
    span_a = shift((tenkan + kijun) / 2.0, 26)  # plotted 26 bars ahead = computed 26 bars ago
    span_b = shift(_mid(h, l, 52), 26)
    out["ichimoku_tenkan_dist"] = safe_div(c, tenkan) - 1.0
    out["ichimoku_kijun_dist"] = safe_div(c, kijun) - 1.0
    out["ichimoku_span_a_dist"] = safe_div(c, span_a) - 1.0
    out["ichimoku_span_b_dist"] = safe_div(c, span_b) - 1.0
    out["ichimoku_cloud_width"] = safe_div(span_a - span_b, c)
    for n in (14, 50):
        out[f"linreg_slope_{n}"] = safe_div(talib.LINEARREG_SLOPE(c, n), c)
    slope50 = talib.LINEARREG_SLOPE(c, 50)
    var_t = (50 * 50 - 1) / 12.0  # population variance of t = 0..49
    out["linreg_r2_50"] = np.clip(safe_div(slope50 ** 2 * var_t, talib.VAR(c, 50)), 0.0, 1.0)
    out["kama_ratio_30"] = safe_div(c, talib.KAMA(c, 30)) - 1.0
    return out


FAMILY = Family("trend", "Trend", compute).declare(
    [(f"sma_ratio_{n}", n - 1, "close", f"close / SMA({n}) - 1 (TA-Lib SMA)") for n in SMA_N]
    + [(f"ema_ratio_{n}", n - 1, "close", f"close / EMA({n}) - 1 (TA-Lib EMA)") for n in EMA_N]
    + [
        ("ema_cross_9_21", 20, "close", "EMA(9) / EMA(21) - 1"),
        ("ema_cross_21_55", 54, "close", "EMA(21) / EMA(55) - 1"),
        ("sma_cross_50_200", 199, "close", "SMA(50) / SMA(200) - 1 (golden / death cross distance)"),
        ("macd_pct", 33, "close", "MACD(12, 26, 9) line / close (TA-Lib MACD)"),
        ("macd_signal_pct", 33, "close", "MACD signal line / close"),
        ("macd_hist_pct", 33, "close", "MACD histogram / close"),
        ("adx_14", 27, "high low close", "ADX(14) (TA-Lib)"),
        ("adxr_14", 40, "high low close", "ADXR(14) (TA-Lib)"),
        ("plus_di_14", 14, "high low close", "+DI(14) (TA-Lib)"),
        ("minus_di_14", 14, "high low close", "-DI(14) (TA-Lib)"),
        ("di_diff_14", 14, "high low close", "+DI(14) - -DI(14)"),
        ("aroon_up_25", 25, "high low", "Aroon up (25) (TA-Lib)"),
        ("aroon_down_25", 25, "high low", "Aroon down (25) (TA-Lib)"),
        ("aroon_osc_25", 25, "high low", "Aroon oscillator (25) (TA-Lib)"),
        ("psar_dist", 1, "high low close", "(close - Parabolic SAR(0.02, 0.2)) / close (TA-Lib SAR)"),
        ("psar_trend", 1, "high low close", "+1 when close is above the SAR, -1 below"),
        ("ichimoku_tenkan_dist", 8, "high low close", "close / Tenkan-sen(9) - 1"),
        ("ichimoku_kijun_dist", 25, "high low close", "close / Kijun-sen(26) - 1"),
        ("ichimoku_span_a_dist", 51, "high low close", "close / Senkou span A (as plotted at t, computed at t-26) - 1"),
        ("ichimoku_span_b_dist", 77, "high low close", "close / Senkou span B (52, as plotted at t, computed at t-26) - 1"),
        ("ichimoku_cloud_width", 77, "high low close", "(span A - span B) / close at t"),
        ("linreg_slope_14", 13, "close", "linear-regression slope of close over 14 bars / close (TA-Lib)"),
        ("linreg_slope_50", 49, "close", "linear-regression slope of close over 50 bars / close (TA-Lib)"),
        ("linreg_r2_50", 49, "close", "R^2 of the 50-bar linear regression of close on time"),
        ("kama_ratio_30", 30, "close", "close / KAMA(30) - 1 (TA-Lib)"),
    ])
