"""The one splitter shared by analysis, training, Stage 2 and backtests.

* :func:`chronological_split`: train / validation / test in time order with a purge gap of
  at least the longest target horizon between them (a train row's target, which looks up
  to ``purge_bars`` ahead, never reaches into validation rows, and so on).  Boundaries are
  timestamps, so the same plan applies to every symbol of a multi-symbol set and is stored
  in manifests (the backtest reads it to refuse in-sample periods).
* :func:`walk_forward`: expanding or rolling folds, each a train / val / test plan.
* :func:`time_ordered_kfold`: k forward-chaining folds over (sparse) samples for
  cross-validation; every validation block lies after all its training rows, with the purge
  gap between; never shuffled, never stratified.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.data.canonical import parse_utc, ts_ns
from engine.data.timeframes import TIMEFRAMES, parse_timeframe

SPLITS = ("train", "val", "test")
DEFAULT_TRAIN_FRAC = 0.70
DEFAULT_VAL_FRAC = 0.15


def _ts(x) -> pd.Timestamp:
    t = parse_utc(x, "split date")
    if t is None:
        raise BadInput("a split date is empty")
    return t


@dataclass(frozen=True)
class SplitPlan:
    """Inclusive [start, end] bar-open times of each split, plus the purge that separates them."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    val_start: pd.Timestamp
    val_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    purge_bars: int
    timeframe: str

    def ranges(self) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
        return {"train": (self.train_start, self.train_end), "val": (self.val_start, self.val_end),
                "test": (self.test_start, self.test_end)}

    def assign(self, timestamps) -> np.ndarray:
        """Label each timestamp 'train' / 'val' / 'test', or '' when it falls in a purge gap or outside."""
        ns = ts_ns(timestamps)
        out = np.full(len(ns), "", dtype=object)
        for name, (a, b) in self.ranges().items():
            out[(ns >= a.value) & (ns <= b.value)] = name
        return out

    def mask(self, timestamps, split: str) -> np.ndarray:
        if split not in SPLITS:
            raise BadInput(f"unknown split {split!r}", hint="use train, val or test")
        a, b = self.ranges()[split]
        ns = ts_ns(timestamps)
        return (ns >= a.value) & (ns <= b.value)

    def overlaps_training(self, start, end) -> bool:
        """Does [start, end] touch bars the model was trained or validated on (incl. purge)?"""
        s, e = _ts(start), _ts(end)
        return not (e < self.train_start or s > self.val_end + pd.Timedelta(seconds=TIMEFRAMES[self.timeframe] * self.purge_bars))

    def to_dict(self) -> dict[str, Any]:
        d = {f"{k}_{p}": getattr(self, f"{k}_{p}").isoformat() for k in SPLITS for p in ("start", "end")}
        d.update({"purge_bars": self.purge_bars, "timeframe": self.timeframe})
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitPlan:
        try:
            return cls(**{f"{k}_{p}": _ts(d[f"{k}_{p}"]) for k in SPLITS for p in ("start", "end")},
                       purge_bars=int(d["purge_bars"]), timeframe=parse_timeframe(d["timeframe"]))
        except KeyError as e:
            raise BadInput(f"split plan lacks {e}") from e


def _unique_sorted(timestamps) -> np.ndarray:
    ns = np.unique(ts_ns(timestamps))
    if len(ns) == 0:
        raise BadInput("no rows to split")
    return ns


def chronological_split(timestamps, timeframe: str, *, purge_bars: int, train_frac: float = DEFAULT_TRAIN_FRAC,
                        val_frac: float = DEFAULT_VAL_FRAC, train_end=None, val_end=None, min_rows: int = 10) -> SplitPlan:
    """Split by time.  Either fractions of the distinct bar times, or dates given by the user
    (``train_end`` and optionally ``val_end``; the purge is added after each)."""
    tf = parse_timeframe(timeframe)
    if purge_bars < 0:
        raise BadInput(f"purge gap must be >= 0 bars, got {purge_bars}")
    ns = _unique_sorted(timestamps)
    step = TIMEFRAMES[tf] * 1_000_000_000
    gap = purge_bars * step
    if train_end is None:
        if not (0 < train_frac < 1 and 0 <= val_frac < 1 and train_frac + val_frac < 1):
            raise BadInput(f"split fractions train={train_frac}, val={val_frac} must be in (0, 1) and sum below 1")
        n = len(ns)
        i_tr = int(n * train_frac) - 1
        if i_tr < 0:
            raise BadInput(f"too few rows ({n}) to split")
        tr_end = ns[i_tr]
        v_start_min = tr_end + gap + step
        iv0 = int(np.searchsorted(ns, v_start_min))
        n_val = int(n * val_frac)
        iv1 = iv0 + n_val - 1
        if iv0 >= n or iv1 >= n:
            raise BadInput(f"too few rows ({n}) for train/val/test with a purge gap of {purge_bars} bars")
        v_end = ns[iv1]
    else:
        tr_end = _ts(train_end).value
        if val_end is None:
            rest = ns[ns > tr_end + gap]
            if len(rest) < 2:
                raise BadInput(f"nothing left after the train end {_ts(train_end)} for validation and test")
            # split what remains evenly between validation and test
            v_end = rest[len(rest) // 2 - 1]
        else:
            v_end = _ts(val_end).value
            if v_end <= tr_end + gap:
                raise BadInput(f"validation end {_ts(val_end)} must come after the train end plus the purge gap")
        if tr_end < ns[0]:
            raise BadInput(f"train end {_ts(train_end)} is before the first bar {pd.Timestamp(ns[0], tz='UTC')}")
    train = ns[ns <= tr_end]
    val = ns[(ns > tr_end + gap) & (ns <= v_end)]
    test = ns[ns > v_end + gap]
    for name, part in (("train", train), ("validation", val), ("test", test)):
        if len(part) < min_rows:
            raise BadInput(f"the {name} split would have {len(part)} bar(s) (at least {min_rows} needed)",
                           hint="use more data, other split dates, or a shorter purge gap")
    return SplitPlan(*(pd.Timestamp(int(x), tz="UTC") for x in (train[0], train[-1], val[0], val[-1], test[0], test[-1])),
                     purge_bars=purge_bars, timeframe=tf)


def walk_forward(timestamps, timeframe: str, *, n_folds: int, purge_bars: int, mode: str = "expanding",
                 initial_frac: float = 0.5, train_bars: int | None = None, val_frac: float = 0.15,
                 min_rows: int = 10) -> list[SplitPlan]:
    """Folds whose test blocks tile the time after an initial training window.

    ``expanding``: each fold trains on everything before its test block; ``rolling``: on the
    last ``train_bars`` bars before it.  The last ``val_frac`` of the training window is the
    fold's validation part.  Purge gaps separate train / val / test inside each fold."""
    if mode not in ("expanding", "rolling"):
        raise BadInput(f"unknown walk-forward mode {mode!r}", hint="use expanding or rolling")
    if n_folds < 1:
        raise BadInput("walk-forward needs at least one fold")
    if not 0 < initial_frac < 1:
        raise BadInput(f"initial fraction must be in (0, 1), got {initial_frac}")
    tf = parse_timeframe(timeframe)
    ns = _unique_sorted(timestamps)
    n = len(ns)
    step = TIMEFRAMES[tf] * 1_000_000_000
    gap = purge_bars * step
    first_test = int(n * initial_frac)
    block = (n - first_test) // n_folds
    if block < min_rows:
        raise BadInput(f"{n} bars are too few for {n_folds} walk-forward folds")
    folds = []
    for i in range(n_folds):
        t0 = first_test + i * block
        t1 = n - 1 if i == n_folds - 1 else t0 + block - 1
        test_start = ns[t0]
        window_end = test_start - gap - step
        window = ns[ns <= window_end]
        if mode == "rolling":
            if not train_bars:
                raise BadInput("rolling walk-forward needs train_bars")
            window = window[-train_bars:]
        if len(window) < 2 * min_rows:
            raise BadInput(f"fold {i + 1}: only {len(window)} bars before its test block")
        n_val = max(min_rows, int(len(window) * val_frac))
        val = window[-n_val:]
        train = window[window <= val[0] - gap - step]
        if len(train) < min_rows:
            raise BadInput(f"fold {i + 1}: training part too short after the purge gap")
        folds.append(SplitPlan(*(pd.Timestamp(int(x), tz="UTC") for x in (train[0], train[-1], val[0], val[-1], test_start, ns[t1])),
                               purge_bars=purge_bars, timeframe=tf))
    return folds


def time_ordered_kfold(timestamps, timeframe: str, *, k: int = 5, purge_bars: int = 0,
                       min_train: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward-chaining CV over samples sorted by time: the samples are cut into k+1
    contiguous blocks; fold j validates on block j and trains on the samples of the earlier
    blocks whose time is at least ``purge_bars`` bars before the block starts.  Returns
    (train_idx, val_idx) pairs indexing ``timestamps`` as given."""
    if k < 2:
        raise BadInput(f"cross-validation needs at least 2 folds, got {k}")
    tf = parse_timeframe(timeframe)
    ns = ts_ns(timestamps)
    order = np.argsort(ns, kind="stable")
    n = len(ns)
    if n < (k + 1) * 2:
        raise BadInput(f"{n} samples are too few for {k}-fold time-ordered cross-validation")
    bounds = np.linspace(0, n, k + 2).astype(int)
    gap = purge_bars * TIMEFRAMES[tf] * 1_000_000_000
    folds = []
    for j in range(1, k + 1):
        val = order[bounds[j]:bounds[j + 1]]
        v0 = ns[val].min()
        train = order[: bounds[j]]
        train = train[ns[train] < v0 - gap]
        if len(train) < min_train:
            raise BadInput(f"fold {j}: only {len(train)} training samples before its validation block (purge {purge_bars} bars)")
        folds.append((train, val))
    return folds
