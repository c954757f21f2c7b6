"""The Stage 2 kind: LightGBM pivot-type classifier parameters and the Stage 1 pass rate, for one
symbol of a feature set with a Stage 1 trained on that feature set.

* **Periods.** The held-out period is Stage 1's own TEST split (``extra.split`` of the Stage 1
  artifact): neither Stage 1 nor the search ever sees it.  The search period is everything up to
  Stage 1's validation end; Stage 1's probabilities there are its out-of-fold ones on its train split
  (as Stage 2 training uses them).
* **Objective.** Purged walk-forward folds over the search period (``engine.splits.walk_forward``,
  purge = the pair's purge, ``PairData.purge_bars``).  Per fold: the Stage 1 threshold is the
  quantile of the fold's TRAIN signal probabilities that lets ``stage1.pass_rate`` of them through;
  a LightGBM multiclass model (HH, LH, HL, LL) is fitted on the fold's train signal bars that are
  pivots (features + Stage 1 probabilities) and trades the fold's VALIDATION part: at bars on the
  horizon grid (one decision every h bars) that pass the threshold, HH / LH -> short, HL / LL -> long,
  P&L = side x future_return_h - the round trip (``engine.costs``).  Same Sharpe figure, reporting and
  pruning as the direction kind (``engine.tuning.objective``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.data.timeframes import TIMEFRAMES, bars_for
from engine.tuning.objective import periods_per_year, score_walk_forward

SIDE = np.array([-1.0, -1.0, 1.0, 1.0])  # HH, LH -> short (swing highs); HL, LL -> long (swing lows)


@dataclass
class Stage2StudyData:
    kind = "stage2"
    X: np.ndarray  # (rows, inputs) float32: features + Stage 1 probabilities
    ts: np.ndarray  # epoch ns
    pivot_label: np.ndarray
    signal_prob: np.ndarray
    ret: np.ndarray  # future_return_<horizon>
    inputs: list[str]
    symbols: list[str]
    timeframe: str
    horizon: str
    purge_bars: int
    plans: list[Any]
    fee: float
    threads: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self, mask: np.ndarray) -> Stage2StudyData:
        return Stage2StudyData(self.X[mask], self.ts[mask], self.pivot_label[mask], self.signal_prob[mask], self.ret[mask],
                               self.inputs, self.symbols, self.timeframe, self.horizon, self.purge_bars, self.plans,
                               self.fee, self.threads, self.extra)


def load_stage2_data(ws, featureset_id: str, symbol: str | None, stage1_id: str | None, horizon: str, fee_fn) -> tuple:
    """(all rows' Stage2StudyData, Stage 1's plan, stage1 id, warnings); BadInput when Stage 1 was not
    trained on this feature set (its test split is the held-out period)."""
    from engine.data.names import check_symbol
    from engine.features.store import load_feature_set
    from engine.splits import SplitPlan
    from engine.stage2.data import latest_stage1, load_pair
    from engine.stage2.pipeline import _stage1_featureset, stage1_probabilities
    from engine.stage2.stage1 import signal_probability
    from storage.artifacts import read_manifest

    fs = load_feature_set(ws, featureset_id)
    if not symbol:
        raise BadInput("--kind stage2 needs --symbol", hint=f"one of {', '.join(fs.symbols)}")
    symbol = check_symbol(symbol)
    if symbol not in fs.symbols:
        raise BadInput(f"{symbol} is not in feature set {featureset_id}", hint=f"it has {', '.join(fs.symbols)}")
    s1 = stage1_id or latest_stage1(ws, symbol, fs.timeframe)
    man = read_manifest(ws, s1, "stage1")
    if symbol not in man.symbols or _stage1_featureset(man) != featureset_id or not man.extra.get("split"):
        raise BadInput(f"Stage 1 {s1} was not trained on {symbol} of feature set {featureset_id}",
                       hint="tuning Stage 2 holds out Stage 1's own test split: train a Stage 1 on this feature set "
                            "(`stage1 train --symbol ... --featureset ...`) or name one with --stage1")
    plan = SplitPlan.from_dict(man.extra["split"])
    pair = load_pair(ws, featureset_id, symbol, with_candles=False)
    proba, classes, how = stage1_probabilities(ws, s1, pair)
    names = list(pair.feature_names)
    X = np.column_stack([pair.matrix(names), proba]).astype("float32")
    inputs = names + [f"s1_p_{c}" for c in classes]
    col = f"future_return_{horizon}"
    tg = fs.targets([col], symbols=[symbol])
    if len(tg) != pair.n:
        raise BadInput(f"targets of {symbol} do not align with its features ({len(tg)} vs {pair.n} rows)")
    data = Stage2StudyData(X, pair.ts_ns, pair.pivot_label.astype("int64"), signal_probability(proba).astype("float64"),
                           tg[col].to_numpy("float64"), inputs, [symbol], fs.timeframe, horizon,
                           max(pair.purge_bars, int(plan.purge_bars)), [], float(fee_fn([symbol])))
    warnings = [] if how.get("oof") else [how.get("oof_note") or "Stage 1's train-split probabilities are in-sample"]
    return data, plan, s1, warnings


def _grid(data: Stage2StudyData) -> np.ndarray:
    h_ns = bars_for(data.horizon, data.timeframe) * TIMEFRAMES[data.timeframe] * 1_000_000_000
    return (data.ts % h_ns) == 0


def fit_and_trade(data: Stage2StudyData, params: dict[str, Any], train: np.ndarray, trade: np.ndarray) -> dict[str, Any]:
    import lightgbm as lgb

    lgbp = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("lgb.")}
    rounds = int(lgbp.pop("num_boost_round", 100))
    pass_rate = float(params.get("stage1.pass_rate", 0.05))
    sp = data.signal_prob
    ok_train = train & np.isfinite(sp)
    if not ok_train.any():
        raise BadInput("no Stage 1 probabilities on the fold's train rows")
    thr = float(np.quantile(sp[ok_train], 1 - pass_rate))
    sig = np.isfinite(sp) & (sp >= thr)
    fit = train & sig & (data.pivot_label >= 0) & np.isfinite(data.X).all(axis=1)
    dec = trade & _grid(data)
    out_ts = data.ts[dec]
    pnl = np.zeros(len(out_ts))
    trades = 0
    if fit.sum() >= 20 and len(np.unique(data.pivot_label[fit])) >= 2:
        p = {"objective": "multiclass", "num_class": 4, "verbosity": -1, "num_threads": data.threads, "seed": 0,
             "deterministic": True, "force_col_wise": True, **lgbp}
        booster = lgb.train(p, lgb.Dataset(data.X[fit], label=data.pivot_label[fit]), num_boost_round=rounds)
        go = sig[dec] & np.isfinite(data.ret[dec])
        if go.any():
            cls = booster.predict(data.X[dec][go]).argmax(axis=1)
            side = SIDE[cls]
            pnl[go] = side * data.ret[dec][go] - data.fee
            trades = int(go.sum())
    r = pd.Series(pnl, index=pd.to_datetime(out_ts, utc=True)).sort_index()
    return {"returns": r, "trades": trades, "windows": int(dec.sum()), "threshold": thr, "samples": int(fit.sum())}


def run_trial(trial: Any, data: Stage2StudyData, space: dict[str, Any]) -> float:
    """The Optuna objective of the Stage 2 kind: the walk-forward loop of ``engine.tuning.objective``."""
    from engine.tuning.space import suggest

    params = suggest(trial, space)
    return score_walk_forward(trial, data.plans, periods_per_year(data.timeframe, data.horizon),
                              lambda plan: fit_and_trade(data, params, plan.mask(data.ts, "train"),
                                                         plan.mask(data.ts, "val")),
                              no_trades="no trade in any validation fold")
