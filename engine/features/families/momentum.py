"""Momentum oscillators, all TA-Lib: RSI, Stochastic, StochRSI, Williams %R, CCI, ROC, MFI,
Ultimate oscillator, TRIX, CMO, momentum, PPO, balance of power."""
from __future__ import annotations

import numpy as np
import talib

from engine.features.context import Bars
from engine.features.kernels import safe_div, shift
from engine.features.registry import Family


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    o, h, l, c, v = b.open, b.high, b.low, b.close, b.volume
    out: dict[str, np.ndarray] = {}
    for n in (7, 14, 28):
        out[f"rsi_{n}"] = talib.RSI(c, n)
    out["rsi_14_change_5"] = out["rsi_14"] - shift(out["rsi_14"], 5)
    k, d = talib.STOCH(h, l, c, 14, 3, 0, 3, 0)
    out["stoch_k_14"], out["stoch_d_14"] = k, d
    k, d = talib.STOCHRSI(c, 14, 14, 3, 0)
    out["stochrsi_k_14"], out["stochrsi_d_14"] = k, d
    out["willr_14"] = talib.WILLR(h, l, c, 14)
    for n in (14, 20):
        out[f"cci_{n}"] = talib.CCI(h, l, c, n)
    for n in (10, 30):
        out[f"roc_{n}"] = talib.ROCP(c, n)
    out["mfi_14"] = talib.MFI(h, l, c, v, 14)
    out["ultosc_7_14_28"] = talib.ULTOSC(h, l, c, 7, 14, 28)
    out["trix_15"] = talib.TRIX(c, 15)
    out["cmo_14"] = talib.CMO(c, 14)
    out["mom_10_pct"] = safe_div(talib.MOM(c, 10), c)
    out["ppo_12_26"] = talib.PPO(c, 12, 26, 1)
    out["bop"] = talib.BOP(o, h, l, c)
    return out


FAMILY = Family("momentum", "Momentum", compute).declare(
    [(f"rsi_{n}", n, "close", f"RSI({n}) (TA-Lib)") for n in (7, 14, 28)]
    + [
        ("rsi_14_change_5", 19, "close", "RSI(14) now minus 5 bars ago"),
        ("stoch_k_14", 17, "high low close", "Stochastic %K (14, 3) (TA-Lib STOCH)"),
        ("stoch_d_14", 17, "high low close", "Stochastic %D (14, 3, 3) (TA-Lib STOCH)"),
        ("stochrsi_k_14", 30, "close", "StochRSI %K (14, 14, 3) (TA-Lib)"),
        ("stochrsi_d_14", 30, "close", "StochRSI %D (14, 14, 3) (TA-Lib)"),
        ("willr_14", 13, "high low close", "Williams %R (14) (TA-Lib)"),
        ("cci_14", 13, "high low close", "CCI (14) (TA-Lib)"),
        ("cci_20", 19, "high low close", "CCI (20) (TA-Lib)"),
        ("roc_10", 10, "close", "rate of change over 10 bars (TA-Lib ROCP)"),
        ("roc_30", 30, "close", "rate of change over 30 bars (TA-Lib ROCP)"),
        ("mfi_14", 14, "high low close volume", "money flow index (14) (TA-Lib)"),
        ("ultosc_7_14_28", 28, "high low close", "Ultimate oscillator (7, 14, 28) (TA-Lib)"),
        ("trix_15", 43, "close", "TRIX (15): rate of change of a triple EMA (TA-Lib)"),
        ("cmo_14", 14, "close", "Chande momentum oscillator (14) (TA-Lib)"),
        ("mom_10_pct", 10, "close", "momentum (close - close 10 bars ago) / close (TA-Lib MOM)"),
        ("ppo_12_26", 25, "close", "percentage price oscillator, EMA 12 / 26 (TA-Lib PPO)"),
        ("bop", 0, "open high low close", "balance of power (close - open) / (high - low) (TA-Lib BOP)"),
    ])
