"""What one trial measures, and the held-out confirmation of the chosen parameters.

* **Periods.** The rows of the feature set (after ``data.last_bars`` / start / end of the base config)
  are cut in time: the last ``holdout`` fraction of the bars is the **held-out period**; before it a
  purge gap of the feature set's longest target horizon; everything before the gap is the **search
  period**.  The trials see the search period only (the held-out rows are not even sent to them).
* **Objective.** Purged walk-forward folds over the search period (``engine.splits.walk_forward``,
  expanding): each fold trains a DirectionPredictor (``engine.training``: the project's trainer and
  task, the base config with the trial's parameters) on its train part and is scored on its
  VALIDATION part only (the folds' test blocks are never used by the search).
* **Trading rule** (``trade.threshold`` t, horizon h): one decision every h bars per symbol (bars
  whose open time is a multiple of h, so decisions never overlap); long when P(up) >= t and P(up) >
  P(down), short in the mirror case, else flat; P&L = side x future_return_h - the round trip of the
  cost model (``engine.costs``).  The period return is the equal-weight mean over the symbols (flat =
  0).  The per-period Sharpe ratio (mean / std, 0 when the returns never move) of the pooled
  validation periods is the trial's figure; the objective is it annualised
  (x sqrt(periods a year)).  After each fold the pooled figure so far is reported to Optuna
  (``trial.report(value, fold)``) so the pruner can stop a hopeless trial.  A trial that never trades
  is pruned too (as in the sweeps, only configurations that traded can be chosen).
* **Confirmation.** The chosen parameters are trained once on the search period (its last
  ``val_frac`` as the validation part for the checkpoint choice) and traded on the held-out period
  with the same rule.
"""
from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.data.timeframes import TIMEFRAMES, bars_for, bars_per_year
from engine.tuning import DEFAULT_FOLDS, DEFAULT_HOLDOUT, DEFAULT_VAL_FRAC  # noqa: F401 - re-exported


@dataclass
class StudyData:
    """What every trial needs (picklable: it travels to process / Ray workers once)."""

    features: pd.DataFrame  # search period only
    targets: pd.DataFrame
    inputs: list[str]
    symbols: list[str]
    timeframe: str
    horizon: str
    purge_bars: int
    plans: list[Any]  # engine.splits.SplitPlan of each walk-forward fold
    base_config: dict[str, Any]
    fee: float  # round trip
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Periods:
    search_start: pd.Timestamp
    search_end: pd.Timestamp
    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    search_bars: int
    holdout_bars: int
    purge_bars: int

    def to_dict(self) -> dict[str, Any]:
        return {"search": {"start": self.search_start.isoformat(), "end": self.search_end.isoformat(), "bars": self.search_bars},
                "holdout": {"start": self.holdout_start.isoformat(), "end": self.holdout_end.isoformat(),
                            "bars": self.holdout_bars},
                "purge_bars": self.purge_bars}


def cut_periods(timestamps, timeframe: str, holdout: float, purge: int, min_search: int) -> Periods:
    from engine.data.canonical import ts_ns

    ns = np.unique(ts_ns(timestamps))
    n = len(ns)
    n_hold = math.floor(n * holdout)
    n_search = n - n_hold - purge
    if n_hold < 10 or n_search < min_search:
        raise BadInput(f"{n:,} bars are too few to hold out {holdout:g} of them ({n_hold} bars) after a search period of "
                       f"at least {min_search:,} bars and a {purge}-bar purge gap",
                       hint="use more data (data.last_bars / --last-bars), a smaller --holdout or fewer --folds")
    t = lambda i: pd.Timestamp(int(ns[i]), tz="UTC")
    return Periods(t(0), t(n_search - 1), t(n - n_hold), t(n - 1), n_search, n_hold, purge)


def decision_ends(w: Any, ends: np.ndarray, horizon: str) -> np.ndarray:
    """The window ends at bars whose open time is a multiple of the horizon (non-overlapping decisions)."""
    h_ns = bars_for(horizon, w.timeframe) * TIMEFRAMES[w.timeframe] * 1_000_000_000
    return ends[(w.timestamps[ends] % h_ns) == 0]


def period_returns(proba: np.ndarray, ret: np.ndarray, ts: np.ndarray, n_symbols: int, threshold: float,
                   fee: float) -> tuple[pd.Series, int]:
    """(per-period portfolio returns indexed by decision time, trades).  ``proba`` (N, 3) DOWN / FLAT / UP."""
    up, down = proba[:, 2], proba[:, 0]
    side = np.where((up >= threshold) & (up > down), 1.0, np.where((down >= threshold) & (down > up), -1.0, 0.0))
    side[~np.isfinite(ret)] = 0.0
    pnl = np.where(side != 0, side * np.nan_to_num(ret) - fee, 0.0)
    s = pd.Series(pnl / n_symbols, index=pd.to_datetime(ts, utc=True)).groupby(level=0).sum().sort_index()
    return s, int((side != 0).sum())


def sharpe(r: np.ndarray) -> float:
    r = np.asarray(r, dtype="float64")
    if len(r) < 2:
        return 0.0
    sd = r.std(ddof=1)
    return float(r.mean() / sd) if sd > 1e-15 else 0.0


def periods_per_year(timeframe: str, horizon: str) -> float:
    return bars_per_year(timeframe) / bars_for(horizon, timeframe)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fit_and_trade(data: StudyData, cfg_dict: dict[str, Any], trade: dict[str, Any], plan: Any, split: str,
                  features: pd.DataFrame | None = None, targets: pd.DataFrame | None = None) -> dict[str, Any]:
    """Train on ``plan``'s train part (checkpoint chosen on its val part), trade ``split``'s windows."""
    import torch

    from engine.training.config import from_dict
    from engine.training.dataset import build_windows
    from engine.training.tasks import DirectionTask, return_target
    from engine.training.trainer import Trainer

    cfg = from_dict(cfg_dict, "tuning trial config")
    if data.threads and not cfg.training.num_threads:
        torch.set_num_threads(data.threads)
    horizons = list(cfg.data.horizons)
    w = build_windows(data.features if features is None else features, data.targets if targets is None else targets,
                      input_names=data.inputs, specs=DirectionTask.specs(horizons), plan=plan, timeframe=data.timeframe,
                      context=cfg.data.context_window, stride=cfg.data.stride, clip=cfg.data.clip,
                      max_missing_frac=cfg.data.max_missing_frac, aux_names=DirectionTask.aux_names(horizons))
    ends = decision_ends(w, w.ends[split], data.horizon)
    if len(w.ends["train"]) == 0 or len(w.ends["val"]) == 0 or len(ends) == 0:
        raise BadInput(f"no {'train' if not len(w.ends['train']) else split} windows in the fold {plan.train_start:%Y-%m-%d} .. "
                       f"{plan.test_end:%Y-%m-%d} (counts {w.counts()})", hint="use more data or fewer folds")
    task = DirectionTask(w, cfg, costs={"trading_fee": data.fee, "loss_fee": data.fee if cfg.loss.direction.fee is None
                                        else cfg.loss.direction.fee})
    with tempfile.TemporaryDirectory(prefix="klinelab-trial-") as tmp:
        trainer = Trainer(task, cfg.training, tmp)
        trainer.fit()
        model = trainer.load_best()
        out, _, _ = trainer.predict(model, ends)
    j = horizons.index(data.horizon)
    proba = _softmax(out[:, j].astype("float64"))
    ret = w.aux[torch.as_tensor(ends), w.aux_names.index(return_target(data.horizon))].numpy().astype("float64")
    r, trades = period_returns(proba, ret, w.timestamps[ends], len(data.symbols), float(trade.get("threshold", 1 / 3)),
                               data.fee)
    return {"returns": r, "trades": trades, "windows": len(ends)}


def run_trial(trial: Any, data: StudyData, space: dict[str, Any]) -> float:
    """The Optuna objective: walk-forward validation folds, the pooled figure reported after each fold."""
    from engine.tuning.space import apply, suggest

    params = suggest(trial, space)
    cfg_dict, trade = apply(data.base_config, params)
    return score_walk_forward(trial, data.plans, periods_per_year(data.timeframe, data.horizon),
                              lambda plan: fit_and_trade(data, cfg_dict, trade, plan, "val"),
                              no_trades="no trade in any validation fold (every probability below the threshold)")


def score_walk_forward(trial: Any, plans: list[Any], ppy: float, fit_fold: Callable[[Any], dict[str, Any]], *,
                       no_trades: str) -> float:
    """The walk-forward loop of every kind's objective: ``fit_fold(plan)`` trains on a fold's train part
    and trades its validation part ({"returns": per-period Series, "trades", "windows"}); after each fold
    the pooled annualised Sharpe is reported to Optuna (pruned when the pruner says so); a trial that
    never traded is pruned with ``no_trades``.  The trial's user attributes record the folds (each fold's
    Sharpe beside its trades and periods; None for a fold that did not trade), the pooled returns and the
    counts; the value is the pooled annualised Sharpe."""
    import optuna

    parts: list[pd.Series] = []
    trades = windows = 0
    fold_sharpes: list[float | None] = []
    fold_trades: list[int] = []
    fold_periods: list[int] = []
    for k, plan in enumerate(plans):
        res = fit_fold(plan)
        parts.append(res["returns"])
        trades += res["trades"]
        windows += res["windows"]
        fold_trades.append(int(res["trades"]))
        fold_periods.append(len(res["returns"]))
        # a fold that did not trade (or has under 2 periods) has no Sharpe: None, not a 0.0 that reads as "no edge"
        fold_sharpes.append(sharpe(res["returns"].to_numpy()) * math.sqrt(ppy)
                            if res["trades"] > 0 and len(res["returns"]) >= 2 else None)
        value = sharpe(np.concatenate([p.to_numpy() for p in parts])) * math.sqrt(ppy)
        trial.report(value, k)
        trial.set_user_attr("folds_done", k + 1)
        trial.set_user_attr("fold_sharpes", fold_sharpes)
        trial.set_user_attr("fold_trades", fold_trades)
        trial.set_user_attr("fold_periods", fold_periods)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {k + 1}: pooled validation Sharpe {value:.3f}")
    pooled = np.concatenate([p.to_numpy() for p in parts])
    trial.set_user_attr("trades", int(trades))
    if trades == 0:  # as in the sweeps: only configurations that traded can be chosen (a flat one has no Sharpe)
        trial.set_user_attr("no_trades", True)
        raise optuna.TrialPruned(no_trades)
    trial.set_user_attr("returns", [float(x) for x in pooled])
    trial.set_user_attr("sharpe_per_period", sharpe(pooled))
    trial.set_user_attr("periods", len(pooled))
    trial.set_user_attr("windows", int(windows))
    trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
    return sharpe(pooled) * math.sqrt(ppy)
