"""Volume: ratios to moving averages, z-scores, OBV and accumulation/distribution slopes,
Chaikin money flow and oscillator, rolling VWAP distance, force index, volume-price
correlation, up-volume share.  OBV / A-D / ADOSC are TA-Lib's."""
from __future__ import annotations

import numpy as np
import talib

from engine.features.context import Bars
from engine.features.kernels import rolling_sum, safe_div, shift, zscore
from engine.features.registry import Family


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    h, l, c, v = b.high, b.low, b.close, b.volume
    out: dict[str, np.ndarray] = {}
    vsma = {n: talib.SMA(v, n) for n in (5, 8, 10, 20, 50, 96)}
    for n in (8, 20, 96):
        out[f"volume_ratio_{n}"] = safe_div(v, vsma[n])
    lv = np.log1p(v)
    for n in (20, 96):
        out[f"volume_z_{n}"] = zscore(lv, n)
    out["volume_trend_5_50"] = safe_div(vsma[5], vsma[50])
    out["log_volume_slope_20"] = talib.LINEARREG_SLOPE(lv, 20)
    vsum20 = rolling_sum(v, 20)
    obv = talib.OBV(c, v)
    out["obv_slope_20"] = safe_div(obv - shift(obv, 20), vsum20)
    out["obv_z_96"] = zscore(obv, 96)
    rng = h - l
    mfm = np.where(rng > 0, safe_div((c - l) - (h - c), rng), 0.0)
    out["cmf_20"] = safe_div(rolling_sum(mfm * v, 20), vsum20)
    ad = talib.AD(h, l, c, v)
    out["ad_slope_20"] = safe_div(ad - shift(ad, 20), vsum20)
    out["adosc_3_10"] = safe_div(talib.ADOSC(h, l, c, v, 3, 10), vsma[10])
    tp = (h + l + c) / 3.0
    for n in (20, 96):
        vwap = safe_div(rolling_sum(tp * v, n), rolling_sum(v, n))
        out[f"vwap_dist_{n}"] = safe_div(c, vwap) - 1.0
    fi = talib.EMA(safe_div(c - shift(c, 1), shift(c, 1)) * v, 13)  # leading NaN: TA-Lib starts after it
    out["force_index_13"] = safe_div(fi, vsma[96])
    out["volume_price_corr_20"] = talib.CORREL(b.logret, lv, 20)
    up_v = np.where(np.isnan(b.logret), np.nan, np.where(b.logret > 0, v, 0.0))
    out["up_volume_share_20"] = safe_div(rolling_sum(up_v, 20), rolling_sum(np.where(np.isnan(up_v), np.nan, v), 20))
    return out


FAMILY = Family("volume", "Volume", compute).declare(
    [(f"volume_ratio_{n}", n - 1, "volume", f"volume / SMA(volume, {n})") for n in (8, 20, 96)]
    + [(f"volume_z_{n}", n - 1, "volume", f"z-score of log(1 + volume) over {n} bars") for n in (20, 96)]
    + [
        ("volume_trend_5_50", 49, "volume", "SMA(volume, 5) / SMA(volume, 50)"),
        ("log_volume_slope_20", 19, "volume", "linear-regression slope of log(1 + volume) over 20 bars"),
        ("obv_slope_20", 20, "close volume", "change of OBV over 20 bars / volume of those bars (TA-Lib OBV)"),
        ("obv_z_96", 95, "close volume", "z-score of OBV over 96 bars (independent of where OBV started)"),
        ("cmf_20", 19, "high low close volume", "Chaikin money flow (20)"),
        ("ad_slope_20", 20, "high low close volume", "change of the A/D line over 20 bars / volume (TA-Lib AD)"),
        ("adosc_3_10", 9, "high low close volume", "Chaikin A/D oscillator (3, 10) / SMA(volume, 10) (TA-Lib ADOSC)"),
        ("vwap_dist_20", 19, "high low close volume", "close / rolling 20-bar VWAP - 1"),
        ("vwap_dist_96", 95, "high low close volume", "close / rolling 96-bar VWAP - 1"),
        ("force_index_13", 95, "close volume", "EMA(13) of return x volume / SMA(volume, 96) (Elder's force index, scaled)"),
        ("volume_price_corr_20", 20, "close volume", "correlation of one-bar returns and log volume over 20 bars (TA-Lib CORREL)"),
        ("up_volume_share_20", 20, "close volume", "share of the last 20 bars' volume traded on up bars"),
    ])
