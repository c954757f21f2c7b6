"""Running backtests and sweeps and storing them as ``backtest`` artifacts (layout and
metrics: docs/CONTRACTS.md, "Backtest artifact").

Order of work: validate every parameter, resolve the source and the period, refuse an
in-sample period, load the candles, and only then simulate and write (inside
``create_artifact``), so a refused or bad request leaves the workspace untouched.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.backtest.params import BacktestParams
from engine.backtest.prepare import Prepared, _stops, _targets, prepare
from engine.backtest.sources import RuleSource, Source, load_model_source
from engine.data.timeframes import parse_timeframe
from engine.progress import progress
from storage.artifacts import create_artifact
from storage.workspace import Workspace

EQUITY_FILE, TRADES_FILE, SWEEP_FILE = "equity.parquet", "trades.parquet", "sweep.parquet"
SWEEP_METRICS = ("sharpe", "sortino", "calmar", "total_return", "cagr", "max_drawdown", "win_rate", "profit_factor",
                 "expectancy", "trades", "exposure", "excess_return")
MAX_SWEEP_POINTS = 2_000


def rule_source(ws: Workspace, *, symbols: list[str], timeframe: str, rule: str = "sma_cross", fast: int = 20,
                slow: int = 50, period_of: str | None = None) -> RuleSource:
    if not symbols:
        raise BadInput("the rule needs at least one symbol", hint="e.g. --symbol BTCUSDT")
    of = load_model_source(ws, period_of) if period_of else None
    tf = parse_timeframe(timeframe)
    if of is not None and of.timeframe != tf:
        raise BadInput(f"{period_of} is a {of.timeframe} model but the rule runs on {tf}")
    return RuleSource(kind="rule", timeframe=tf, symbols=[s.upper() for s in symbols], rule=rule, fast=fast, slow=slow,
                      period_of=of, parents=[of.source_id] if of else [])


def _folds_summary(prep: Prepared, equity: pd.DataFrame, trades: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Per walk-forward fold (its out-of-sample test block): bars, days, closed trades (exiting in
    the block), return, annualised Sharpe and max drawdown from the stitched equity, against the
    equity at the block's start."""
    from engine.backtest.evidence import fold_figures
    from engine.data.timeframes import bars_per_year

    src = prep.source
    if not getattr(src, "walk_forward", False):
        return []
    eq = equity.set_index("timestamp")["equity"]
    closed = trades[trades["status"] == "closed"] if trades is not None and len(trades) else None
    out = []
    for i, p in enumerate(src.plans):
        inside = eq[(eq.index >= p.test_start) & (eq.index <= p.test_end)]
        if inside.empty:
            continue
        before = eq[eq.index < p.test_start]
        base = before.iloc[-1] if len(before) else prep.params.init_cash
        n_closed = 0 if closed is None else int(closed["exit_time"].between(inside.index[0], inside.index[-1]).sum())
        out.append({"fold": i, "test_start": p.test_start.isoformat(), "test_end": p.test_end.isoformat(),
                    **fold_figures(inside, float(base), bars_per_year(prep.market.timeframe), prep.market.timeframe,
                                   n_closed)})
    return out


def _name(prep: Prepared, mode: str) -> str:
    src = prep.source
    model = getattr(src, "manifest", None)
    what = (f"rule {src.rule} {src.fast}/{src.slow}" if isinstance(src, RuleSource)
            else f"of {model.name}" if model is not None and model.name else f"{src.kind} {src.source_id}")
    return f"{mode} {what} {','.join(prep.market.symbols)} {prep.market.timeframe}"


def _base_params(prep: Prepared) -> dict[str, Any]:
    d = prep.params.to_dict()
    d.update({"source": prep.source.describe(), "fees": prep.params.fee_for(prep.market.symbols),
              "start": prep.start.isoformat(), "end": prep.end.isoformat(), "timeframe": prep.market.timeframe})
    return d


def _parents(prep: Prepared) -> list[str]:
    return list(dict.fromkeys([*prep.source.parents, *prep.market.series_ids]))


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, (np.floating, float)):
            v = float(v) + 0.0 if np.isfinite(v) else None  # + 0.0: no "-0.0" in reports
        out[k] = v
    return out


def run_backtest(ws: Workspace, source: Source, params: BacktestParams) -> dict[str, Any]:
    """One backtest -> a stored artifact; returns the CLI's JSON document."""
    return run_prepared(ws, prepare(ws, source, params))


def run_prepared(ws: Workspace, prep: Prepared) -> dict[str, Any]:
    """Run a request that :func:`prepare` accepted (validation, the out-of-sample guard and the
    candles come first, so several requests can all be checked before any is written)."""
    from engine.backtest import evidence as ev
    from engine.backtest.metrics import annualisation, apply_ruin, equity_frame, ruin_bars, simulation_metrics, trades_frame
    from engine.backtest.portfolio import simulate

    source = prep.source
    thr = source.thresholds([prep.params.threshold])
    targets = _targets(prep, thr, ws)
    progress(0.3, f"simulating {len(prep.market.index):,} bars x {len(prep.market.symbols)} symbol(s) with vectorbt")
    sim = simulate(prep.market, targets, prep.params, sl_stop=np.array([_stops(prep.params.sl_stop)]),
                   tp_stop=np.array([_stops(prep.params.tp_stop)]))
    progress(0.7, "computing metrics")
    equity = equity_frame(sim)
    ruin = ruin_bars(ev.per_bar_returns(equity["equity"].to_numpy(), prep.params.init_cash))
    # equity at or below zero at some bar (no liquidation model): total return -100 %, ratios null
    metrics = _clean(apply_ruin(simulation_metrics(sim).iloc[:1], ruin, prep.market.index).iloc[0].to_dict())
    ruined = metrics.pop("ruin_reason")
    for k in ("trades", "closed_trades", "open_trades"):
        metrics[k] = int(metrics[k])
    ann = annualisation(prep.market.timeframe)
    metrics.update({"bars": len(prep.market.index), "bars_per_year": ann["bars_per_year"], "init_cash": prep.params.init_cash})
    per_symbol = []
    if len(prep.market.symbols) > 1:
        ps = simulation_metrics(sim, per_symbol=True)
        per_symbol = [{"symbol": s, **_clean(r)} for s, r in zip(prep.market.symbols, ps.to_dict("records"))]
    from engine.backtest.trades import market_candles, with_reasons

    # entry_reason / exit_reason (signal, stop-loss, take-profit, end of period): engine/backtest/trades.py
    trades = with_reasons(trades_frame(sim), market_candles(prep.market), prep.params.to_dict())
    folds = _folds_summary(prep, equity, trades)
    progress(0.75, "bootstrapping confidence intervals")
    sample = ev.sample_of(len(prep.market.index), prep.market.timeframe, trades)
    unc = ev.uncertainty_of(ev.per_bar_returns(equity["equity"].to_numpy(), prep.params.init_cash),
                            ann["bars_per_year"], ev.closed_pnl(trades))
    if ruined:  # no interval for a figure that is not defined
        unc.update(dict.fromkeys(("sharpe", "total_return", "profit_factor", "win_rate")))
    metrics, warnings, raw_annualised = ev.headline(metrics, unc, sample, trades)
    if ruined:
        warnings.insert(0, f"{ruined} (equity at or below zero; no liquidation model: the simulation went on below "
                           "zero): total return -100 %, Sharpe, Sortino, Calmar, CAGR, win rate and profit factor are null")
    if raw_annualised:  # the same period for every symbol: no annualised per-symbol figures either
        per_symbol = [{**p, **dict.fromkeys(ev.ANNUALISED)} for p in per_symbol]
    explanation = None
    if metrics["trades"] == 0:
        explanation = ev.no_trade_reason(prep, targets[:, 0, :], float(thr[0]) if np.isfinite(thr[0]) else np.nan,
                                         prep.params.fee_for(prep.market.symbols) + prep.params.slippage)
        warnings.insert(0, explanation)
    if folds:
        short = [f["fold"] for f in folds if f["days"] < ev.MIN_ANNUALISED_DAYS]
        if short:
            warnings.append(f"walk-forward fold(s) {', '.join(map(str, short))} cover fewer than "
                            f"{ev.MIN_ANNUALISED_DAYS} days: their annualised Sharpe is an extrapolation")
    spread = ev.spread(folds) if folds else None
    costs = prep.params.costs_used(prep.market.symbols, prep.market.has_funding)
    evidence = {"sample": sample, "uncertainty": unc, "warnings": warnings, "costs": costs,
                "trades_explanation": explanation, "annualised_not_headlined": raw_annualised, "folds_spread": spread}
    params_d = _base_params(prep)
    params_d["threshold"] = None if np.isnan(thr[0]) else float(thr[0])
    progress(0.85, "writing the backtest artifact")
    with create_artifact(ws, "backtest", name=_name(prep, "backtest"), symbols=prep.market.symbols,
                         timeframe=prep.market.timeframe, params=params_d, parents=_parents(prep)) as d:
        equity.to_parquet(d.path(EQUITY_FILE), index=False)
        trades.to_parquet(d.path(TRADES_FILE), index=False)
        d.manifest.metrics = metrics
        d.manifest.start, d.manifest.end = prep.start.isoformat(), prep.end.isoformat()
        d.manifest.extra = {"mode": "single", "annualisation": ann, "source": prep.source.describe(),
                            "oos": prep.source.oos_record(), "per_symbol": per_symbol, "folds": folds,
                            "funding_symbols": prep.market.has_funding, **evidence,
                            "notes": prep.notes, "equity_file": EQUITY_FILE, "trades_file": TRADES_FILE}
        bid = d.id
    progress(1.0, f"backtest {bid} written", force=True)
    path = ws.artifact_dir("backtest", bid)
    return {"backtest_id": bid, "model_id": prep.source.source_id, "source": prep.source.describe(),
            "symbols": prep.market.symbols, "timeframe": prep.market.timeframe,
            "period": {"start": prep.start.isoformat(), "end": prep.end.isoformat()}, "metrics": metrics,
            "annualisation": ann, "bars_per_year": ann["bars_per_year"], "equity_path": str(path / EQUITY_FILE),
            "trades_path": str(path / TRADES_FILE), "folds": folds, **evidence, "notes": prep.notes}


def run_sweep(ws: Workspace, source: Source, params: BacktestParams, *, thresholds: list[float | None],
              sl_stops: list[float | None], tp_stops: list[float | None], metric: str = "sharpe",
              holdout: float = 0.3, pbo_blocks: int = 16, executor: dict[str, Any] | None = None) -> dict[str, Any]:
    """A grid over threshold x stop-loss x take-profit simulated on the selection part of the period by a
    numba kernel that reproduces vectorbt's ``from_signals`` cell for cell (engine/backtest/grid.py, checked
    against it in tests/backtest/test_sweep_grid.py), the best cell chosen by the metric's direction among the
    cells that traded and never wiped out the account, with its deflated Sharpe ratio, PBO and a held-out
    confirmation (engine/backtest/sweep.py); stored with one row per grid point.  ``executor``
    (``{"executor", "workers", "ray_address"}``): the grid's cells in chunks as tasks of that executor, the
    same result; nothing is written unless every chunk succeeded."""
    from engine.backtest.sweep import sweep

    s = sweep(ws, source, params, thresholds=thresholds, sl_stops=sl_stops, tp_stops=tp_stops, metric=metric,
              holdout=holdout, pbo_blocks=pbo_blocks, max_points=MAX_SWEEP_POINTS, executor=executor)
    prep, table, best_d, sel, ann = s["prep"], s["table"], s["best"], s["selection"], s["annualisation"]
    b = best_d or {}
    conf = sel["confirmation"] or {}
    metrics = {"points": len(s["grid"]), "best_" + metric: b.get(metric), "best_threshold": b.get("threshold"),
               "best_sl_stop": b.get("sl_stop"), "best_tp_stop": b.get("tp_stop"),
               "bars": sel["selection_period"]["bars"], "bars_per_year": ann["bars_per_year"],
               "cells_traded": sel["n_cells_traded"], "deflated_sharpe": sel["deflated_sharpe"], "pbo": sel["pbo"],
               "holdout_" + metric: (conf.get("metrics") or {}).get(metric)}
    params_d = _base_params(prep)
    params_d.update({"mode": "sweep", "metric": metric, "direction": sel["direction"], "holdout": sel["holdout"]["fraction"],
                     "pbo_blocks": int(pbo_blocks),
                     "thresholds": [None if np.isnan(x) else float(x) for x in s["thresholds"]],
                     "sl_stops": s["sl_stops"], "tp_stops": s["tp_stops"]})
    notes = prep.notes + ["the grid is ranked on the selection part only; the chosen cell is confirmed on the held-out "
                          "part (selection.confirmation)" if sel["confirmation"] else
                          "the grid is ranked on the whole period: read the heatmap as sensitivity"]
    progress(0.9, "writing the sweep artifact")
    with create_artifact(ws, "backtest", name=_name(prep, "sweep"), symbols=prep.market.symbols,
                         timeframe=prep.market.timeframe, params=params_d, parents=_parents(prep)) as d:
        table.to_parquet(d.path(SWEEP_FILE), index=False)
        d.manifest.metrics = metrics
        d.manifest.start, d.manifest.end = prep.start.isoformat(), prep.end.isoformat()
        d.manifest.extra = {"mode": "sweep", "annualisation": ann, "source": prep.source.describe(),
                            "oos": prep.source.oos_record(), "notes": notes, "sweep_file": SWEEP_FILE,
                            "selection": sel, "warnings": sel["warnings"]}
        bid = d.id
    progress(1.0, f"sweep {bid} written", force=True)
    return {"backtest_id": bid, "model_id": prep.source.source_id, "mode": "sweep", "points": len(s["grid"]),
            "metric": metric, "best": best_d, "metrics": metrics, "selection": sel, "warnings": sel["warnings"],
            "annualisation": ann, "bars_per_year": ann["bars_per_year"],
            "sweep_path": str(ws.artifact_dir("backtest", bid) / SWEEP_FILE),
            "period": {"start": prep.start.isoformat(), "end": prep.end.isoformat()}, "notes": notes}
