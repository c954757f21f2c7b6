"""The one walk-forward loop of the tuning objectives (engine.tuning.objective.score_walk_forward), with a
stand-in trial: what it reports per fold, when it prunes, what it records."""
from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest

from engine.tuning.objective import score_walk_forward, sharpe


class FakeTrial:
    def __init__(self, prune_after: int | None = None):
        self.reports, self.attrs, self.prune_after = [], {}, prune_after

    def report(self, value, step):
        self.reports.append((step, value))

    def set_user_attr(self, k, v):
        self.attrs[k] = v

    def should_prune(self):
        return self.prune_after is not None and len(self.reports) >= self.prune_after


def _fold(returns, trades=3, windows=10):
    idx = pd.date_range("2026-01-01", periods=len(returns), freq="h", tz="UTC")
    return {"returns": pd.Series(returns, index=idx), "trades": trades, "windows": windows}


FOLDS = [[0.01, -0.005, 0.02], [0.0, 0.01, -0.01, 0.015]]


def test_pooled_sharpe_reported_after_each_fold_and_returned():
    trial = FakeTrial()
    value = score_walk_forward(trial, [0, 1], 4.0, lambda k: _fold(FOLDS[k]), no_trades="none")
    pooled = np.concatenate(FOLDS)
    assert value == pytest.approx(sharpe(pooled) * 2.0)
    assert [s for s, _ in trial.reports] == [0, 1]
    assert trial.reports[0][1] == pytest.approx(sharpe(np.array(FOLDS[0])) * 2.0)
    assert trial.attrs["folds_done"] == 2 and len(trial.attrs["fold_sharpes"]) == 2
    assert trial.attrs["trades"] == 6 and trial.attrs["windows"] == 20 and trial.attrs["periods"] == len(pooled)
    assert trial.attrs["returns"] == [float(x) for x in pooled]
    assert math.isclose(trial.attrs["sharpe_per_period"], sharpe(pooled))


def test_pruned_when_the_pruner_says_so_and_when_nothing_traded():
    trial = FakeTrial(prune_after=1)
    with pytest.raises(optuna.TrialPruned, match="pruned after fold 1"):
        score_walk_forward(trial, [0, 1], 4.0, lambda k: _fold(FOLDS[k]), no_trades="none")
    assert trial.attrs["folds_done"] == 1
    flat = FakeTrial()
    with pytest.raises(optuna.TrialPruned, match="no trade at all"):
        score_walk_forward(flat, [0, 1], 4.0, lambda k: _fold([0.0, 0.0], trades=0), no_trades="no trade at all")
    assert flat.attrs["no_trades"] is True and flat.attrs["trades"] == 0


def test_each_fold_sharpe_stands_beside_its_sample_and_a_fold_without_trades_has_none():
    trial = FakeTrial()
    score_walk_forward(trial, [0, 1], 4.0, lambda k: _fold(FOLDS[k]) if k == 0 else _fold([0.0] * 5, trades=0),
                       no_trades="none")
    assert trial.attrs["fold_sharpes"][0] == pytest.approx(sharpe(np.array(FOLDS[0])) * 2.0)
    assert trial.attrs["fold_sharpes"][1] is None  # did not trade: no Sharpe, not a 0.0
    assert trial.attrs["fold_trades"] == [3, 0] and trial.attrs["fold_periods"] == [3, 5]
