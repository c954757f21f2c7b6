"""Funding (perpetuals): the last settled funding rate known at the bar and statistics of the
recent settlements.  A settlement at time T is used from the bar that opens at T on (the
rate is fixed at T), as ``load_candles(with_funding=True)`` places it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.features.context import Bars
from engine.features.registry import Family


def settlement_stats(f: pd.DataFrame) -> pd.DataFrame:
    """Per settlement: the rate and rolling statistics over past settlements only."""
    r = f["funding_rate"].astype("float64")
    out = pd.DataFrame({"timestamp": f["timestamp"].to_numpy()})
    out["funding_rate"] = r.to_numpy()
    out["funding_mean_3"] = r.rolling(3).mean().to_numpy()
    out["funding_mean_21"] = r.rolling(21).mean().to_numpy()
    out["funding_cum_21"] = r.rolling(21).sum().to_numpy()
    out["funding_change"] = r.diff().to_numpy()
    m, s = r.rolling(90).mean(), r.rolling(90).std(ddof=0)
    out["funding_z_90"] = ((r - m) / s.where(s > 0)).to_numpy()
    return out


def compute(b: Bars, cfg) -> dict[str, np.ndarray]:
    if b.funding is None or not len(b.funding):
        return {}
    st = settlement_stats(b.funding.sort_values("timestamp"))
    pos = np.searchsorted(st["timestamp"].to_numpy(), b.ts, side="right") - 1  # last settlement at or before the bar open
    out = {}
    for c in st.columns[1:]:
        vals = st[c].to_numpy()
        out[c] = np.where(pos >= 0, vals[np.maximum(pos, 0)], np.nan)
    return out


FAMILY = Family("funding", "Funding (perpetuals)", compute).declare([
    ("funding_rate", 0, "funding_rate", "last settled funding rate"),
    ("funding_mean_3", 0, "funding_rate", "mean of the last 3 settlements (1 day)"),
    ("funding_mean_21", 0, "funding_rate", "mean of the last 21 settlements (1 week)"),
    ("funding_cum_21", 0, "funding_rate", "sum of the last 21 settlements"),
    ("funding_change", 0, "funding_rate", "last settlement minus the one before"),
    ("funding_z_90", 0, "funding_rate", "z-score of the last settlement among the last 90 (30 days)"),
])
