"""Target positions -> the four direction-aware signal arrays of ``Portfolio.from_signals``.

Entries and exits are *transitions* of the target (a long entry where the target becomes +1,
a long exit where it stops being +1), so a position closed by a stop-loss is not re-opened
on the next bar by a signal that merely persists: it waits for a fresh signal.  Reversals
(+1 -> -1) come out as an exit plus an opposite entry on the same bar, which vectorbt turns
into one reversing order.  All operations are whole-array (numpy / pandas), no bar loops.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def finalize_targets(target: np.ndarray, *, direction: str, hold_bars: int | None, execution: str) -> np.ndarray:
    """NaN = hold the previous state (at most ``hold_bars`` bars from the signal bar), start flat;
    mask the side(s) not traded; shift one bar for next-open execution."""
    t = np.asarray(target, dtype="float64")
    if np.isnan(t).any():
        df = pd.DataFrame(t)
        if hold_bars is None:
            df = df.ffill()
        elif hold_bars > 1:
            df = df.ffill(limit=hold_bars - 1)
        t = df.fillna(0.0).to_numpy()
    if direction == "long":
        t = np.clip(t, 0.0, 1.0)  # a short signal closes the long
    elif direction == "short":
        t = np.clip(t, -1.0, 0.0)
    if execution == "next_open":  # known at bar t's close -> fills at bar t+1's open
        t = np.vstack([np.zeros((1, t.shape[1])), t[:-1]])
    return t


def to_signals(target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(long_entries, long_exits, short_entries, short_exits) from a final target in {-1, 0, 1}."""
    prev = np.vstack([np.zeros((1, target.shape[1])), target[:-1]])
    long_now, long_prev = target == 1, prev == 1
    short_now, short_prev = target == -1, prev == -1
    return long_now & ~long_prev, ~long_now & long_prev, short_now & ~short_prev, ~short_now & short_prev
