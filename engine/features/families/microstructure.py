"""Microstructure from bars: Amihud illiquidity, Kyle's lambda, Roll and Corwin-Schultz
spread estimators, bulk volume classification (BVC, Easley-Lopez de Prado-O'Hara 2012) and a
bar-based VPIN; order-flow imbalance from taker-buy volume and trade size when those columns
exist (Binance klines carry them; many files do not: the BVC features are the fallback)."""
from __future__ import annotations

import math

import numpy as np

from engine.features.context import Bars
from engine.features.kernels import (
    log_ratio,
    normal_cdf,
    rolling_beta,
    rolling_mean,
    rolling_moments,
    rolling_sum,
    safe_div,
    shift,
    zscore,
)
from engine.features.registry import Family

BVC_SIGMA_W = 96


def corwin_schultz(h, l) -> np.ndarray:
    """Two-bar Corwin & Schultz (2012) spread, negative estimates set to 0."""
    b = log_ratio(h, l) ** 2 + log_ratio(shift(h, 1), shift(l, 1)) ** 2
    g = log_ratio(np.maximum(h, shift(h, 1)), np.minimum(l, shift(l, 1))) ** 2
    k = 3.0 - 2.0 * math.sqrt(2.0)
    alpha = (np.sqrt(2.0 * b) - np.sqrt(b)) / k - np.sqrt(g / k)
    s = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
    return np.where(np.isnan(s), np.nan, np.maximum(s, 0.0))


def bvc_buy_fraction(r: np.ndarray, w: int = BVC_SIGMA_W) -> np.ndarray:
    """Share of the bar's volume classified as buys: Phi(r_t / sigma), sigma = std of the last w returns."""
    m = rolling_mean(r, w)
    sd = np.sqrt(np.maximum(rolling_mean(r * r, w) - m * m, 0.0))
    return normal_cdf(safe_div(r, sd))


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    h, l, c, v = b.high, b.low, b.close, b.volume
    r = b.logret
    out: dict[str, np.ndarray] = {}
    dv = c * v
    illiq = safe_div(np.abs(r), dv)
    for n in (20, 96):
        out[f"amihud_{n}"] = np.log(rolling_mean(illiq, n, min_count=n // 2) * 1e9 + 1e-12)
    vnorm = safe_div(v, rolling_mean(v, 96))
    signed = np.sign(r) * np.sqrt(vnorm)
    for n in (50, 200):
        out[f"kyle_lambda_{n}"] = rolling_beta(r, signed, n)
    cov, _, _, _ = rolling_moments(r, shift(r, 1), 50, 50)
    out["roll_spread_50"] = 2.0 * np.sqrt(np.maximum(-cov, 0.0))
    cs = corwin_schultz(h, l)
    out["cs_spread_20"] = rolling_mean(cs, 20)
    buy = bvc_buy_fraction(r)
    out["bvc_buy_frac"] = buy
    imb = (2.0 * buy - 1.0) * v
    vs = {n: rolling_sum(np.where(np.isnan(imb), np.nan, v), n) for n in (20, 50, 200)}
    out["bvc_imbalance_20"] = safe_div(rolling_sum(imb, 20), vs[20])
    for n in (50, 200):
        out[f"vpin_{n}"] = safe_div(rolling_sum(np.abs(imb), n), vs[n])
    if "taker_buy_base" in b.optional:
        tb = b.optional["taker_buy_base"]
        ratio = safe_div(tb, v)
        out["taker_buy_ratio"] = ratio
        out["taker_imbalance_20"] = safe_div(rolling_sum(2.0 * tb - v, 20), rolling_sum(v, 20))
        out["taker_ratio_z_96"] = zscore(ratio, 96)
    if "trades" in b.optional:
        out["trade_size_z_96"] = zscore(np.log(safe_div(v, b.optional["trades"]) + 1e-12), 96)
    return out


FAMILY = Family("microstructure", "Microstructure", compute).declare([
    ("amihud_20", 20, "close volume", "log of Amihud illiquidity |r| / (close x volume) averaged over 20 bars (x 1e9)"),
    ("amihud_96", 96, "close volume", "log of Amihud illiquidity averaged over 96 bars (x 1e9)"),
    ("kyle_lambda_50", 145, "close volume", "Kyle's lambda: OLS slope of returns on signed sqrt(volume / its 96-bar mean), 50 bars"),
    ("kyle_lambda_200", 295, "close volume", "Kyle's lambda over 200 bars"),
    ("roll_spread_50", 51, "close", "Roll (1984) spread 2 sqrt(-cov(r_t, r_t-1)) over 50 bars (0 when the cov is positive)"),
    ("cs_spread_20", 20, "high low", "Corwin-Schultz (2012) high-low spread, mean of the last 20 two-bar estimates"),
    ("bvc_buy_frac", BVC_SIGMA_W, "close", "bulk volume classification: Phi(r / sigma_96), the bar's buy share"),
    ("bvc_imbalance_20", BVC_SIGMA_W + 19, "close volume", "BVC order imbalance (buy - sell) / volume over 20 bars"),
    ("vpin_50", BVC_SIGMA_W + 49, "close volume", "bar VPIN: sum |buy - sell| / sum volume over 50 bars (BVC)"),
    ("vpin_200", BVC_SIGMA_W + 199, "close volume", "bar VPIN over 200 bars (BVC)"),
    ("taker_buy_ratio", 0, "volume taker_buy_base", "taker-buy volume / volume"),
    ("taker_imbalance_20", 19, "volume taker_buy_base", "order-flow imbalance (taker buy - taker sell) / volume over 20 bars"),
    ("taker_ratio_z_96", 95, "volume taker_buy_base", "z-score of the taker-buy ratio over 96 bars"),
    ("trade_size_z_96", 95, "volume trades", "z-score of log(volume / trades) over 96 bars"),
])
