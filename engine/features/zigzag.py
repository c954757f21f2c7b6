"""ZigZag pivots (SPEC 4) and the Stage 1 / Stage 2 labels built from them.

A swing high is confirmed at the first later bar whose low is at least ``deviation`` below
the highest high since the last swing low; a swing low at the first bar whose high is at
least ``deviation`` above the lowest low since the last swing high.  The bar that makes a
new extreme never confirms the previous one (the order of high and low inside a bar is
unknown), so the confirmation bar is always after the pivot bar.

Both bars are recorded: ``pivot_time`` (where the extreme was) and ``confirm_time`` (the bar
at whose close the pivot became knowable).  Nothing may use a pivot before its confirm_time.

Types compare a pivot with the previous pivot of the same side: HH / LH for highs, HL / LL
for lows; labels HH=0 LH=1 HL=2 LL=3.  The first high and the first low of a series have no
predecessor, so they are not typed and not listed.  The last, still unconfirmed extreme is
not a pivot.  The state machine is sequential by nature: numba, one pass.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit

from engine.features.kernels import JIT

TYPES = ("HH", "LH", "HL", "LL")
LABELS = {t: i for i, t in enumerate(TYPES)}


@njit(**JIT)
def _zigzag(high, low, dev):
    n = high.shape[0]
    piv = np.empty(n, np.int64)
    conf = np.empty(n, np.int64)
    side = np.empty(n, np.int64)  # +1 high, -1 low
    k = 0
    if n == 0:
        return piv[:0], conf[:0], side[:0]
    trend = 0  # 0 undecided, +1 rising (tracking the high), -1 falling (tracking the low)
    hi = 0
    lo = 0
    for t in range(1, n):
        if trend >= 0:
            if high[t] > high[hi]:
                hi = t
            elif low[t] <= high[hi] * (1.0 - dev):
                piv[k] = hi
                conf[k] = t
                side[k] = 1
                k += 1
                trend = -1
                lo = t
                continue
        if trend <= 0:
            if low[t] < low[lo]:
                lo = t
            elif high[t] >= low[lo] * (1.0 + dev):
                piv[k] = lo
                conf[k] = t
                side[k] = -1
                k += 1
                trend = 1
                hi = t
    return piv[:k], conf[:k], side[:k]


def zigzag_pivots(ts: np.ndarray, high: np.ndarray, low: np.ndarray, deviation_pct: float) -> pd.DataFrame:
    """Pivots of one series: pivot_idx, confirm_idx, pivot_time, confirm_time, price, side, type, label."""
    piv, conf, side = _zigzag(np.ascontiguousarray(high, dtype=np.float64), np.ascontiguousarray(low, dtype=np.float64),
                              float(deviation_pct) / 100.0)
    price = np.where(side == 1, high[piv], low[piv])
    types = np.full(len(piv), "", dtype=object)
    for s, (up, down) in ((1, ("HH", "LH")), (-1, ("HL", "LL"))):
        pos = np.flatnonzero(side == s)
        if len(pos) > 1:
            prev = price[pos[:-1]]
            cur = price[pos[1:]]
            types[pos[1:]] = np.where(cur > prev, up, down)
    keep = types != ""
    t = pd.to_datetime(np.asarray(ts, dtype="int64"), utc=True).as_unit("ms")
    df = pd.DataFrame({
        "pivot_idx": piv[keep], "confirm_idx": conf[keep],
        "pivot_time": t[piv[keep]], "confirm_time": t[conf[keep]],
        "price": price[keep], "side": np.where(side[keep] == 1, "high", "low"),
        "type": types[keep].astype(str),
    })
    df["label"] = df["type"].map(LABELS).astype("int8")
    return df


def pivot_labels(n: int, pivots: pd.DataFrame, timestamps) -> pd.DataFrame:
    """Per bar: pivot (1 at a typed pivot bar), pivot_label (-1 none, 0..3) and confirm_time
    (null where there is no pivot): the time from which the label is knowable."""
    pivot = np.zeros(n, dtype=np.int8)
    label = np.full(n, -1, dtype=np.int8)
    confirm = np.full(n, np.datetime64("NaT"), dtype="datetime64[ms]")
    idx = pivots["pivot_idx"].to_numpy()
    pivot[idx] = 1
    label[idx] = pivots["label"].to_numpy()
    confirm[idx] = pivots["confirm_time"].dt.tz_convert(None).to_numpy()
    return pd.DataFrame({"timestamp": timestamps, "pivot": pivot, "pivot_label": label,
                         "confirm_time": pd.DatetimeIndex(confirm).tz_localize("UTC")})
