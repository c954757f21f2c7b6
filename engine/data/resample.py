"""Exact resampling (first / max / min / last / sum) to a coarser timeframe.

Only complete buckets are produced: a 1h bar is built from exactly four 15m bars, so a gap
in the source never turns into a silently wrong coarse bar (the count of dropped
incomplete buckets is reported)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.data.canonical import OPTIONAL, TS_DTYPE, ts_ns
from engine.data.timeframes import TIMEFRAMES, parse_timeframe


def resample(df: pd.DataFrame, from_tf: str, to_tf: str, *, allow_incomplete: bool = False) -> tuple[pd.DataFrame, int]:
    """-> (resampled canonical table, number of incomplete buckets dropped)."""
    f, t = parse_timeframe(from_tf), parse_timeframe(to_tf)
    fs, ts = TIMEFRAMES[f], TIMEFRAMES[t]
    if ts <= fs or ts % fs:
        raise BadInput(f"cannot resample {f} to {t}", hint="the target must be a whole multiple of the source timeframe")
    if len(df) == 0:
        raise BadInput("nothing to resample: the series is empty")
    ratio = ts // fs
    ns = ts_ns(df["timestamp"])
    step = ts * 1_000_000_000
    if t == "1w":  # weeks open on Monday 00:00 UTC (epoch 0 is a Thursday)
        offset = 4 * 86400 * 1_000_000_000
        bucket = (ns + offset) // step * step - offset
    else:
        bucket = ns // step * step
    # vectorised group-by on sorted buckets
    order = np.argsort(ns, kind="stable")
    ns, bucket = ns[order], bucket[order]
    cols = {c: df[c].to_numpy("float64")[order] for c in df.columns if c != "timestamp"}
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
    ends = np.concatenate([starts[1:], [len(bucket)]])
    counts = ends - starts
    out = {"timestamp": bucket[starts]}
    out["open"] = cols["open"][starts]
    out["high"] = np.maximum.reduceat(cols["high"], starts)
    out["low"] = np.minimum.reduceat(cols["low"], starts)
    out["close"] = cols["close"][ends - 1]
    for c in ["volume", *OPTIONAL]:
        if c in cols:
            out[c] = np.add.reduceat(np.nan_to_num(cols[c]), starts)
            if np.isnan(cols[c]).any():
                has_nan = np.add.reduceat(np.isnan(cols[c]).astype(int), starts) > 0
                out[c] = np.where(has_nan, np.nan, out[c])
    res = pd.DataFrame(out)
    complete = counts == ratio
    dropped = int((~complete).sum())
    if not allow_incomplete:
        res = res[complete]
    res["timestamp"] = pd.to_datetime(res["timestamp"].to_numpy(), utc=True).astype(TS_DTYPE)
    return res.reset_index(drop=True), dropped
