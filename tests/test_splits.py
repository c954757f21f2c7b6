"""The shared splitter: time order, purge gaps between splits, folds, bad requests."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.splits import SplitPlan, chronological_split, time_ordered_kfold, walk_forward

HOUR = pd.Timedelta(hours=1)


def _bars(n=1000, tf="1h"):
    return pd.Series(pd.date_range("2026-01-01", periods=n, freq=tf, tz="UTC"))


def _gap_bars(a: pd.Timestamp, b: pd.Timestamp) -> int:
    """Bars strictly between two bar-open times (hourly)."""
    return int((b - a) / HOUR) - 1


def test_fraction_split_is_ordered_with_the_purge_gap_between_splits():
    ts = _bars()
    plan = chronological_split(ts, "1h", purge_bars=24)
    assert plan.train_start == ts.iloc[0] and plan.test_end == ts.iloc[-1]
    assert plan.train_end < plan.val_start <= plan.val_end < plan.test_start <= plan.test_end
    assert _gap_bars(plan.train_end, plan.val_start) == 24
    assert _gap_bars(plan.val_end, plan.test_start) == 24
    labels = plan.assign(ts)
    assert (labels == "train").sum() == 700 and (labels == "val").sum() == 150
    assert (labels == "").sum() == 48  # exactly the two purge gaps
    # a train row's 24-bar target window never reaches a validation bar
    last_train = np.flatnonzero(labels == "train").max()
    assert not (labels[last_train + 1:last_train + 25] == "val").any()


def test_date_split_accepts_strings_and_keeps_timestamps_in_utc():
    ts = _bars()
    plan = chronological_split(ts, "1h", purge_bars=5, train_end="2026-01-20", val_end="2026-01-30T12:00")
    assert plan.train_end == pd.Timestamp("2026-01-20", tz="UTC")
    assert plan.val_start == plan.train_end + 6 * HOUR
    assert plan.val_end == pd.Timestamp("2026-01-30 12:00", tz="UTC")
    assert plan.test_start == plan.val_end + 6 * HOUR
    # without a validation end, what is left is split evenly between val and test
    half = chronological_split(ts, "1h", purge_bars=5, train_end="2026-01-20")
    n_val, n_test = (half.assign(ts) == "val").sum(), (half.assign(ts) == "test").sum()
    assert abs(int(n_val) - int(n_test)) <= 6


@pytest.mark.parametrize("kwargs, message", [
    ({"train_end": "next tuesday"}, "split date 'next tuesday' is not a date"),
    ({"train_end": "2025-01-01"}, "is before the first bar"),
    ({"train_end": "2026-01-20", "val_end": "2026-01-20T03:00"}, "must come after the train end plus the purge gap"),
    ({"train_end": "2026-02-11T12:00"}, "nothing left after the train end"),
    ({"train_frac": 0.9, "val_frac": 0.2}, "must be in (0, 1) and sum below 1"),
    ({"purge_bars": -1}, "purge gap must be >= 0"),
    ({"purge_bars": 400}, "too few rows"),
])
def test_bad_split_requests_are_named(kwargs, message):
    kw = {"purge_bars": 5, **kwargs}
    with pytest.raises(BadInput) as e:
        chronological_split(_bars(), "1h", **kw)
    assert message in str(e.value)


def test_split_of_nothing_and_unknown_split_are_refused():
    with pytest.raises(BadInput, match="no rows to split"):
        chronological_split(pd.Series([], dtype="datetime64[ns, UTC]"), "1h", purge_bars=0)
    plan = chronological_split(_bars(), "1h", purge_bars=1)
    with pytest.raises(BadInput, match="unknown split 'holdout'"):
        plan.mask(_bars(), "holdout")


def test_plan_round_trips_through_a_manifest_and_spots_in_sample_periods():
    ts = _bars()
    plan = chronological_split(ts, "1h", purge_bars=12)
    again = SplitPlan.from_dict(plan.to_dict())
    assert again == plan
    assert plan.overlaps_training(ts.iloc[10], ts.iloc[20])
    # the purge gap after validation still counts as seen: its bars fed validation targets
    assert plan.overlaps_training(plan.val_end + 3 * HOUR, plan.test_end)
    assert not plan.overlaps_training(plan.test_start, plan.test_end)
    with pytest.raises(BadInput, match="split plan lacks"):
        SplitPlan.from_dict({"purge_bars": 1, "timeframe": "1h"})


@pytest.mark.parametrize("mode", ["expanding", "rolling"])
def test_walk_forward_folds_tile_the_future_and_never_train_on_it(mode):
    ts = _bars(2000)
    folds = walk_forward(ts, "1h", n_folds=4, purge_bars=10, mode=mode, train_bars=400)
    assert len(folds) == 4
    for a, b in itertools.pairwise(folds):
        assert b.test_start == a.test_end + HOUR  # test blocks tile without overlap
    assert folds[-1].test_end == ts.iloc[-1]
    for f in folds:
        assert f.train_end < f.val_start and f.val_end < f.test_start
        assert _gap_bars(f.train_end, f.val_start) >= 10
        assert _gap_bars(f.val_end, f.test_start) >= 10
    starts = [f.train_start for f in folds]
    if mode == "expanding":
        assert all(s == ts.iloc[0] for s in starts)
    else:
        assert starts == sorted(starts) and len(set(starts)) == 4
        assert all(int((f.val_end - f.train_start) / HOUR) + 1 <= 400 for f in folds)


def test_walk_forward_bad_requests():
    with pytest.raises(BadInput, match="unknown walk-forward mode"):
        walk_forward(_bars(), "1h", n_folds=2, purge_bars=0, mode="sideways")
    with pytest.raises(BadInput, match="too few for 200 walk-forward folds"):
        walk_forward(_bars(), "1h", n_folds=200, purge_bars=0)
    with pytest.raises(BadInput, match="rolling walk-forward needs train_bars"):
        walk_forward(_bars(), "1h", n_folds=2, purge_bars=0, mode="rolling")


def test_time_ordered_kfold_validates_after_training_with_the_gap():
    rng = np.random.default_rng(0)
    ts = _bars(600).sample(frac=1.0, random_state=1).reset_index(drop=True)  # shuffled input order
    ts = ts.iloc[np.sort(rng.choice(len(ts), 300, replace=False))].reset_index(drop=True)
    folds = time_ordered_kfold(ts, "1h", k=4, purge_bars=6)
    assert len(folds) == 4
    seen_val = []
    for train, val in folds:
        assert len(set(train) & set(val)) == 0
        assert ts.iloc[train].max() < ts.iloc[val].min() - 6 * HOUR
        seen_val.extend(val.tolist())
    assert len(seen_val) == len(set(seen_val))  # validation blocks are disjoint
    sizes = [len(t) for t, _ in folds]
    assert sizes == sorted(sizes)  # forward chaining: training grows
    with pytest.raises(BadInput, match="at least 2 folds"):
        time_ordered_kfold(ts, "1h", k=1)
    with pytest.raises(BadInput, match="too few"):
        time_ordered_kfold(ts.iloc[:5], "1h", k=4)
