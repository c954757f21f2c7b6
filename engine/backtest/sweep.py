"""Parameter sweeps with their selection-bias corrections (issue 12 item 3; contract in
docs/CONTRACTS.md, "Backtest artifact" -> sweeps).

The period is split in time: the first part is the **selection** part, the last ``holdout``
fraction (default 30 %) is **held out** and never seen by the selection; between them a purge gap
of the source's longest prediction horizon (a model's label at bar t looks that far ahead).

1. Every grid cell (threshold x stop-loss x take-profit) is simulated on the selection part in one
   call of engine/backtest/grid.py (vectorbt's own order functions, no records: a 1,000-cell grid in ~2 s
   of CPU where ``Portfolio.from_signals`` + its records took ~30 s; checked cell for cell against it),
   or in one ``Portfolio.from_signals`` run where the kernel does not apply; a cell without trades has
   no ratio (null, never infinity) and says why.
   A cell whose equity (incl. funding and borrow) reaches zero or below at any bar is RUINED: total
   return -100 %, ratios null with "account wiped out at <timestamp>" (``ruin_reason``).
2. The best cell is picked by the metric's direction (engine.stats.selection.METRIC_DIRECTION:
   ``--metric fees_paid`` picks the cheapest); only cells that traded and were not ruined can be picked.
3. Deflated Sharpe ratio of the chosen cell (N = every cell that traded, ruined ones included; the
   variance over the Sharpe ratios that exist) and PBO (CSCV, 16 blocks, over the cells that can be
   picked), from per-bar returns net of fees, slippage, funding and borrow, selection part only.
4. The chosen cell is re-run on the held-out part (a fresh portfolio) and reported next to its
   in-selection figures, with sample sizes, bootstrap CIs and warnings.
"""
from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.backtest.evidence import closed_pnl, headline, sample_of, uncertainty_of
from engine.backtest.market import Market
from engine.backtest.metrics import apply_ruin, ruin_bars
from engine.backtest.params import BacktestParams, check_stop
from engine.backtest.prepare import _stops, _targets, prepare
from engine.backtest.sources import DirectionSource, PatchTSTSource, Source, Stage2Source
from engine.data.timeframes import bars_for, tf_seconds
from engine.progress import progress
from engine.stats.selection import DEFAULT_BLOCKS, best_index, deflated_sharpe, metric_direction, pbo_cscv, per_period_sharpe
from storage.workspace import Workspace

DEFAULT_HOLDOUT = 0.3
MAX_HOLDOUT = 0.8
MIN_TRADES, MIN_DAYS = 30, 30
DSR_OK, PBO_OK = 0.95, 0.5
# ratios undefined without a trade: null in JSON, "-" on pages
TRADE_RATIOS = ("sharpe", "sortino", "calmar", "win_rate", "profit_factor", "expectancy", "avg_trade_return")
CONFIRM_KEYS = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor", "trades",
                "closed_trades", "open_trades", "exposure", "fees_paid", "buy_and_hold_return", "excess_return",
                "ruin_reason")


def _slice_market(m: Market, a: int, b: int) -> Market:
    return replace(m, index=m.index[a:b], open=m.open[a:b], high=m.high[a:b], low=m.low[a:b], close=m.close[a:b],
                   funding=m.funding[a:b])


def purge_bars(source: Source, timeframe: str) -> int:
    """The longest prediction horizon of a model source in bars (0 for a rule or Stage 2)."""
    hs = []
    if isinstance(source, (DirectionSource, PatchTSTSource)):
        hs = [source.horizon] + list(((source.manifest.extra or {}) if source.manifest else {}).get("horizons") or [])
    out = 0
    for h in hs:
        with contextlib.suppress(Exception):  # an unreadable horizon label adds no gap
            out = max(out, bars_for(str(h), timeframe))
    return out


def split_period(n: int, holdout: float, purge: int) -> tuple[int, int]:
    """(selection bars, first held-out bar) of n bars."""
    if holdout == 0:
        return n, n
    n_hold = int(np.floor(n * holdout))
    n_sel = n - n_hold - purge
    if n_hold < 2 or n_sel < 2:
        raise BadInput(f"the period has {n} bars: too few to hold out {holdout:g} of them (with a {purge}-bar purge gap)",
                       hint="use a longer period, or --holdout 0 to skip the held-out confirmation")
    return n_sel, n_sel + purge


def equity_matrix(sim) -> np.ndarray:
    """(bars, combos) equity incl. funding AND the borrow cost of spot shorts: the same net equity as
    ``simulation_metrics`` (the DSR, the PBO and the held-out CI read its per-bar returns; before the
    sweepfix branch they left the borrow out)."""
    n = len(sim.market.index)
    value = np.asarray(sim.pf.value(group_by=False), dtype="float64").reshape(n, sim.n_columns)
    return sim.grouped(value) + np.cumsum(sim.grouped(sim.cash_flow), axis=0)


def bar_returns(equity: np.ndarray, init_cash: float) -> np.ndarray:
    """Per-bar returns of (bars, combos) equity curves starting from ``init_cash``."""
    out = np.empty_like(equity, dtype="float64")
    np.divide(equity[:1], init_cash, out=out[:1])
    np.divide(equity[1:], equity[:-1], out=out[1:])
    out -= 1
    return out


def _simulate_cells(market: Market, raw: np.ndarray, ti: np.ndarray, params: BacktestParams, sl: np.ndarray,
                    tp: np.ndarray, *, fast: bool = True):
    """Every grid cell on ``market``: (metrics per cell, per-bar returns (bars, cells), trades_of(cell)).

    ``raw``: (bars, thresholds, symbols) raw targets; cell c trades threshold ``ti[c]`` with stops ``sl[c]`` /
    ``tp[c]``.  The fast path is engine/backtest/grid.py (vectorbt's order logic without records, checked
    against this function's vectorbt path cell for cell); the vectorbt path (one ``Portfolio.from_signals``
    call over every cell) runs where the kernel does not apply.  The chosen cell's trades always come from a
    ``Portfolio.from_signals`` run of that cell."""
    return _simulate(market, raw, ti, params, sl, tp, fast=fast)[:3]


def _simulate(market: Market, raw: np.ndarray, ti: np.ndarray, params: BacktestParams, sl: np.ndarray,
              tp: np.ndarray, *, fast: bool = True):
    """``_simulate_cells`` and whether the grid kernel ran: its returns are the transpose of a (cells, bars)
    array (what the chunks of an executor run put back together the same way: the DSR's sums then add
    the same numbers in the same order)."""
    from engine.backtest.grid import grid_metrics, simulate_grid
    from engine.backtest.metrics import simulation_metrics, trades_frame
    from engine.backtest.portfolio import simulate

    k = len(ti)
    run = simulate_grid(market, raw, ti, params, sl_stop=sl, tp_stop=tp) if fast else None
    if run is not None:
        def trades_of(c: int) -> pd.DataFrame:
            one = simulate(market, raw[:, [ti[c]], :], params, sl_stop=sl[[c]], tp_stop=tp[[c]])
            return trades_frame(one, 0)

        m = grid_metrics(run, market, params.init_cash)
        return m, run.returns_t.T, trades_of, True
    sim = simulate(market, raw[:, ti, :], params, sl_stop=sl, tp_stop=tp)
    m = simulation_metrics(sim).iloc[:k].reset_index(drop=True)
    return m, bar_returns(equity_matrix(sim)[:, :k], params.init_cash), lambda c: trades_frame(sim, c), False


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, (np.floating, float)):
            v = float(v) + 0.0 if np.isfinite(v) else None
        elif isinstance(v, np.bool_):
            v = bool(v)
        out[k] = v
    return out


def _no_trade_reasons(source: Source, ws: Workspace, market: Market, thr: np.ndarray, raw: np.ndarray,
                      params: BacktestParams, costs: float) -> list[str]:
    """Why a threshold opens no position on these bars (one string per threshold)."""
    peak = None
    try:
        if isinstance(source, DirectionSource):
            cu, cd = source.up_col.format(h=source.horizon), source.down_col.format(h=source.horizon)
            v = [np.nanmax(np.r_[-np.inf, source._rows(s, market.index, [cu, cd]).to_numpy("float64").ravel()])
                 for s in market.symbols]
            peak = ("the highest P(up) / P(down)", max(v), "a threshold of {t:g}")
        elif isinstance(source, PatchTSTSource):
            col = f"pred_future_return_{source.horizon}"
            v = [np.nanmax(np.r_[-np.inf, np.abs(source._rows(s, market.index, [col])[col].to_numpy("float64"))])
                 for s in market.symbols]
            peak = ("the largest |predicted return|", max(v), f"a hurdle of 2 x costs ({2 * costs:.4g}) + {{t:g}}")
        elif isinstance(source, Stage2Source):
            cols = [f"p_{c}" for c in ("HH", "LH", "HL", "LL")]
            v = []
            for s in market.symbols:
                d = source._rows(s, market.index, cols).to_numpy("float64")
                v.append(np.nanmax(np.r_[-np.inf, d[:, :2].sum(axis=1), d[:, 2:].sum(axis=1)]))
            peak = ("the highest pivot-side probability", max(v), "a threshold of {t:g}")
    except Exception:  # noqa: BLE001 - a reason is a courtesy; never fail the sweep over it
        peak = None
    out = []
    for j, t in enumerate(thr):
        signal = np.nan_to_num(raw[:, j, :], nan=0.0)
        if (signal != 0).any():
            out.append(f"signals, but none opened a position (direction {params.direction}, "
                       f"{params.execution} execution)")
        elif peak is not None and np.isfinite(peak[1]):
            out.append(f"no signal: {peak[0]} in the period was {peak[1]:.4g} against {peak[2].format(t=t)}")
        elif peak is not None:
            out.append("no signal: the source has no predictions in the period")
        else:
            out.append("no signal in the period")
    return out


def _figure_warnings(where: str, m: dict, sample: dict, unc: dict, trades: pd.DataFrame) -> list[str]:
    w = []
    if sample["closed_trades"] < MIN_TRADES:
        w.append(f"{where}: only {sample['closed_trades']} closed trades (fewer than {MIN_TRADES}): the trade "
                 "statistics are anecdotes")
    if sample["days"] < MIN_DAYS:
        w.append(f"{where}: only {sample['days']:.1f} days (fewer than {MIN_DAYS}): annualised figures are not meaningful")
    closed_pnl = float(trades.loc[trades["status"] == "closed", "pnl"].sum()) if len(trades) else 0.0
    if (m.get("total_return") or 0) > 0 and closed_pnl <= 0 and (m.get("open_trades") or 0) > 0:
        w.append(f"{where}: the profit comes from still-open positions (closed trades made {closed_pnl:,.2f})")
    ci = unc.get("sharpe")
    if ci and ci[0] <= 0 <= ci[1]:
        w.append(f"{where}: the 95 % CI of the Sharpe ratio [{ci[0]:.2f}, {ci[1]:.2f}] includes zero")
    return w


def _confirm(prep, raw: np.ndarray, i: int, sl: float, tp: float, start: int) -> dict:
    """Re-run cell ``i`` on bars [start:] of the period (a fresh portfolio)."""
    from engine.backtest.metrics import simulation_metrics, trades_frame
    from engine.backtest.portfolio import simulate

    mk = _slice_market(prep.market, start, len(prep.market.index))
    sim = simulate(mk, raw[start:, [i], :], prep.params, sl_stop=np.array([sl]), tp_stop=np.array([tp]))
    r = bar_returns(equity_matrix(sim)[:, :1], prep.params.init_cash)[:, 0]
    ruin = ruin_bars(r)
    m = _clean(apply_ruin(simulation_metrics(sim).iloc[:1], ruin, mk.index).iloc[0].to_dict())
    for k in ("trades", "closed_trades", "open_trades"):
        m[k] = int(m[k] or 0)
    if not m.get("trades"):
        for k in TRADE_RATIOS:
            m[k] = None
    trades = trades_frame(sim, 0)
    from engine.backtest.metrics import annualisation

    # the held-out part is a backtest like any other: the same sample, CIs, short-period rule and warnings
    sample = {**sample_of(len(mk.index), mk.timeframe, trades), "trades": int(m.get("trades") or 0)}
    unc = uncertainty_of(r, annualisation(mk.timeframe)["bars_per_year"], closed_pnl(trades))
    if m.get("ruin_reason"):  # no interval for a figure that is not defined
        unc.update(dict.fromkeys(("sharpe", "total_return", "profit_factor", "win_rate")))
    m, warns, raw = headline(m, unc, sample, trades)
    if m.get("ruin_reason"):
        warns.insert(0, f"{m['ruin_reason']}: ratios are null, total return -100 %")
    return {"start": mk.index[0].isoformat(), "end": mk.index[-1].isoformat(),
            "metrics": {k: m.get(k) for k in CONFIRM_KEYS}, "sample": sample, "uncertainty": unc,
            "annualised_not_headlined": raw, "warnings": [f"held-out: {w}" for w in warns]}


def _check_options(metric: str, holdout: Any, pbo_blocks: int) -> tuple[str, float]:
    """(the metric's direction, the held-out fraction) or BadInput, before anything is read."""
    direction = metric_direction(metric)
    try:
        holdout = float(holdout)
    except (TypeError, ValueError) as e:
        raise BadInput(f"holdout must be a fraction, got {holdout!r}") from e
    if not 0 <= holdout <= MAX_HOLDOUT:
        raise BadInput(f"holdout must be a fraction in [0, {MAX_HOLDOUT}], got {holdout:g}",
                       hint="0.3 holds out the last 30 % of the period; 0 skips the confirmation")
    if int(pbo_blocks) != pbo_blocks or pbo_blocks < 2 or pbo_blocks % 2 or pbo_blocks > 16:
        raise BadInput(f"pbo-blocks must be an even whole number in [2, 16], got {pbo_blocks}", hint="16 is the paper's choice")
    return direction, holdout


# -- the grid's cells in chunks on an executor -----------------------------------------------------

CHUNKS_PER_SLOT = 2  # a few chunks per slot: a slow chunk does not leave the other slots idle for long


def chunk_ranges(n_cells: int, n_chunks: int) -> list[tuple[int, int]]:
    """Contiguous cell ranges [a, b) covering 0..n_cells in order, as even as can be."""
    n_chunks = max(1, min(int(n_chunks), n_cells))
    edges = np.linspace(0, n_cells, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def grid_chunk(item: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """One chunk of the grid as an executor task (module level: it travels by name): its cells (``_chunk_items``)
    on the shared market (``Executor.put``), simulated exactly as the whole grid is in-process.  Returns (metrics
    per cell, per-bar returns, by_cell); the returns are (cells, bars) when ``by_cell`` (the grid kernel's
    layout), else (bars, cells).  Every cell is simulated on its own, so the chunks put back in cell order
    are the in-process result."""
    from engine.executor import fetch

    market, params = fetch(item["inputs"])
    m, returns, _, by_cell = _simulate(market, item["raw"], item["ti"], params, item["sl"], item["tp"], fast=item["fast"])
    return m, (returns.T if by_cell else returns), by_cell


def _chunk_items(raw: np.ndarray, ti: np.ndarray, sl: np.ndarray, tp: np.ndarray, ranges: list[tuple[int, int]],
                 shared: Any, fast: bool) -> list[dict[str, Any]]:
    """One task per chunk carrying only its own cells: the signal columns of the thresholds it uses (its
    cells' threshold indices renumbered into them) and its stops; the market and the parameters are shared
    (``Executor.put``). A local executor pickles each item to its worker, so shipping the whole signal
    array with every chunk cost ~2 x workers copies of it."""
    items = []
    for a, b in ranges:
        cols, local = np.unique(ti[a:b], return_inverse=True)
        items.append({"inputs": shared, "cells": (a, b), "raw": np.ascontiguousarray(raw[:, cols, :]),
                      "ti": local.astype(ti.dtype),
                      "sl": sl[a:b], "tp": tp[a:b], "fast": fast})
    return items


def _combine(values: list[tuple[pd.DataFrame, np.ndarray, bool]]) -> tuple[pd.DataFrame, np.ndarray]:
    """The chunks' (metrics, returns) in cell order, the returns in the memory layout the in-process run has
    (numpy's sums depend on it in the last bits)."""
    m = pd.concat([v[0] for v in values], ignore_index=True)
    if all(v[2] for v in values):
        return m, np.concatenate([v[1] for v in values], axis=0).T
    return m, np.concatenate([v[1] if not v[2] else v[1].T for v in values], axis=1)


def _simulate_on_executor(spec: dict[str, Any], market: Market, raw: np.ndarray, ti: np.ndarray,
                          params: BacktestParams, sl: np.ndarray, tp: np.ndarray, *, fast: bool):
    """``_simulate_cells`` with the cells in contiguous chunks as tasks of the executor ``spec`` names
    (``{"executor", "workers", "ray_address"}``); the chunks' figures are put back in cell order.  Progress
    per finished chunk; a failing chunk fails the sweep (its message, nothing written: the artifact is
    written only after the sweep)."""
    from config.errors import KlineLabError
    from engine.backtest.metrics import trades_frame
    from engine.backtest.portfolio import simulate
    from engine.executor.choose import executor_from_spec

    with executor_from_spec(spec) as ex:
        ranges = chunk_ranges(len(ti), ex.slots() * CHUNKS_PER_SLOT)
        handle = ex.put((market, params))
        progress(0.26, f"{len(ti)} grid points in {len(ranges)} chunk(s) on {ex.describe()}")

        def on_progress(done: int, total: int, r) -> None:
            a, b = ranges[r.index]
            progress(0.25 + 0.35 * done / total, f"grid chunk {r.index + 1}/{total} (cells {a + 1}-{b}) "
                     f"{'finished' if r.ok else 'failed'} ({done}/{total} done, on {r.where or '?'})")

        results = ex.map(grid_chunk, _chunk_items(raw, ti, sl, tp, ranges, handle, fast), on_progress=on_progress)
    bad = [r for r in results if not r.ok]
    if bad:
        r = bad[0]
        a, b = ranges[r.index]
        raise KlineLabError(f"sweep grid chunk {r.index + 1}/{len(ranges)} (cells {a + 1}-{b}) failed: {r.error}"
                            + (f" (and {len(bad) - 1} other chunk(s))" if len(bad) > 1 else ""))
    m, returns = _combine([r.value for r in results])

    def trades_of(c: int) -> pd.DataFrame:  # the chosen cell's trades: a from_signals run of that cell, here
        one = simulate(market, raw[:, [ti[c]], :], params, sl_stop=sl[[c]], tp_stop=tp[[c]])
        return trades_frame(one, 0)

    return m, returns, trades_of


# -- the steps of a sweep ---------------------------------------------------------------------------


def _cell_table(source: Source, ws: Workspace, prep, sel_market: Market, raw_sel: np.ndarray, thr: np.ndarray,
                grid: list, ti: np.ndarray, m: pd.DataFrame, returns: np.ndarray) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per cell (its parameters, metrics, why it did not trade, why it was ruined) and the masks the
    selection reads (``traded``, ``ruined``, ``reasons`` per threshold)."""
    traded = m["trades"].to_numpy() > 0
    m = m.replace([np.inf, -np.inf], np.nan)
    m.loc[~traded, list(TRADE_RATIOS)] = np.nan
    ruin = ruin_bars(returns)  # equity at or below zero at some bar: ratios null, never chosen (still a trial)
    m = apply_ruin(m, ruin, sel_market.index)
    ruin_reasons = m.pop("ruin_reason")
    costs = prep.params.fee_for(prep.market.symbols) + prep.params.slippage
    reasons = _no_trade_reasons(source, ws, sel_market, thr, raw_sel, prep.params, costs) if (~traded).any() else []
    table = pd.DataFrame({"threshold": [None if np.isnan(thr[i]) else float(thr[i]) for i in ti],
                          "sl_stop": [g[1] for g in grid], "tp_stop": [g[2] for g in grid]})
    table = pd.concat([table, m], axis=1)
    table["no_trade_reason"] = [None if traded[c] else reasons[ti[c]] for c in range(len(grid))]
    table["ruin_reason"] = ruin_reasons.to_numpy(dtype=object)
    return table, {"traded": traded, "ruined": ruin >= 0, "reasons": reasons}


def _select(table: pd.DataFrame, masks: dict[str, Any], returns: np.ndarray, trades_of, *, metric: str, direction: str,
            n_thresholds: int, n_sel: int, tf: str, pbo_blocks: int) -> dict[str, Any]:
    """The best cell among those that can be chosen, its deflated Sharpe ratio, the PBO, its in-selection
    figures and the warnings."""
    traded, ruined, reasons = masks["traded"], masks["ruined"], masks["reasons"]
    eligible = traded & ~ruined
    bi = best_index(table[metric].to_numpy("float64"), direction, eligible=eligible)
    warnings: list[str] = []
    n_traded, n_ruined = int(traded.sum()), int(ruined.sum())
    if n_ruined:
        warnings.append(f"{n_ruined:,} of {len(table):,} cells wiped out the account (equity at or below zero at some "
                        "bar, fees, slippage, funding and borrow included; there is no liquidation model): their "
                        "ratios are null and they cannot be chosen")
    out = {"bi": bi, "best": None, "dsr": None, "pbo": None, "in_selection": None, "n_traded": n_traded,
           "n_ruined": n_ruined, "warnings": warnings}
    if bi is None:
        warnings.append("every cell that traded wiped out the account: there is nothing to select" if n_traded else
                        "no cell traded in the selection part: there is nothing to select"
                        + (f" ({reasons[0]})" if n_thresholds == 1 and reasons else ""))
        return out
    best_d = _clean(table.iloc[bi].to_dict())
    # the candidates: cells that traded and kept a positive equity (a copy of ~200 MB at 1,000 cells);
    # a ruined cell was tried (it counts in the DSR's N) but its Sharpe is undefined (not in the variance)
    ret_ok = returns if eligible.all() else returns[:, eligible]
    dsr = deflated_sharpe(returns[:, bi], per_period_sharpe(ret_ok), n_trials=n_traded)
    pbo = pbo_cscv(ret_ok, int(pbo_blocks))
    sel_trades = trades_of(int(bi))
    sample = {**sample_of(n_sel, tf, sel_trades), "trades": int(best_d.get("trades") or 0)}
    # no bootstrap CI here: a CI of the figure that WON the selection is biased upwards by the
    # selection itself; the DSR is the correction, the held-out part carries the CI
    out.update(best=best_d, dsr=dsr, pbo=pbo,
               in_selection={"metrics": {k: best_d.get(k) for k in CONFIRM_KEYS}, "sample": sample, "uncertainty": None})
    warnings += _figure_warnings("selection", best_d, sample, {}, sel_trades)
    if dsr["value"] is not None and dsr["value"] < DSR_OK:
        warnings.append(f"deflated Sharpe ratio {dsr['value']:.2f} (< {DSR_OK}): the chosen cell's Sharpe is not "
                        f"distinguishable from the best of {n_traded} zero-skill trials")
    if pbo["value"] is not None and pbo["value"] >= PBO_OK:
        warnings.append(f"PBO {pbo['value']:.2f}: in {pbo['value'] * 100:.0f} % of {pbo['combinations']:,} "
                        "splits the in-sample best cell ranks at or below the median out of sample (overfit)")
    return out


def _confirmation(prep, raw: np.ndarray, sel: dict[str, Any], cell: tuple[int, float, float], *, metric: str,
                  holdout: float, hold_start: int, purge: int) -> dict | None:
    """The chosen cell re-run on the held-out part (None without a holdout or a chosen cell); its warnings
    are added to ``sel["warnings"]``."""
    if holdout == 0:
        sel["warnings"].append("no held-out confirmation (--holdout 0): the chosen cell was never tested on bars the "
                               "selection did not see")
        return None
    if sel["bi"] is None:
        return None
    progress(0.85, "re-running the chosen cell on the held-out part")
    confirmation = _confirm(prep, raw, *cell, hold_start)
    confirmation["purge_bars"] = purge
    sel["warnings"] += confirmation["warnings"]
    conf_v = confirmation["metrics"].get(metric) if metric in confirmation["metrics"] else None
    best_v = sel["best"].get(metric)
    if metric in ("sharpe", "total_return") and conf_v is not None and conf_v <= 0 < (best_v or 0):
        sel["warnings"].append(f"held-out {metric} {conf_v:.4g} is not positive although the chosen cell's in-selection "
                               f"{metric} was {best_v:.4g}")
    return confirmation


def _selection_record(sel: dict[str, Any], confirmation: dict | None, *, metric: str, direction: str, prep,
                      sel_market: Market, n_sel: int, sel_days: float, holdout: float, purge: int,
                      hold_start: int) -> dict[str, Any]:
    """The ``selection`` part of the sweep's result (and its manifest)."""
    best_d, dsr, pbo = sel["best"], sel["dsr"], sel["pbo"]
    return {
        "metric": metric, "direction": direction,
        "best": None if best_d is None else {k: best_d.get(k) for k in ("threshold", "sl_stop", "tp_stop")},
        "n_cells": int(sel["n_cells"]), "n_cells_traded": sel["n_traded"], "n_cells_ruined": sel["n_ruined"],
        "deflated_sharpe": None if dsr is None else dsr["value"], "pbo": None if pbo is None else pbo["value"],
        "dsr": dsr, "pbo_detail": pbo, "in_selection": sel["in_selection"], "confirmation": confirmation,
        "period": {"start": prep.start.isoformat(), "end": prep.end.isoformat(), "bars": len(prep.market.index)},
        "selection_period": {"start": sel_market.index[0].isoformat(), "end": sel_market.index[-1].isoformat(),
                             "bars": int(n_sel), "days": round(sel_days, 3)},
        "holdout": {"fraction": holdout, "purge_bars": purge, "bars": len(prep.market.index) - hold_start},
        "rule": ("only cells that traded and never wiped out the account can be chosen; ratios of cells without "
                 "trades or whose equity reached zero or below are null; the DSR's N counts every cell that traded, "
                 "the PBO ranks the cells that can be chosen"),
        "warnings": sel["warnings"],
    }


def sweep(ws: Workspace, source: Source, params: BacktestParams, *, thresholds: list[float | None],
          sl_stops: list[float | None], tp_stops: list[float | None], metric: str = "sharpe",
          holdout: float = DEFAULT_HOLDOUT, pbo_blocks: int = DEFAULT_BLOCKS, max_points: int = 2_000,
          fast: bool = True, executor: dict[str, Any] | None = None) -> dict[str, Any]:
    """The computation of ``run_sweep`` (nothing written): grid, selection, corrections, confirmation.
    ``fast=False`` simulates the grid with ``Portfolio.from_signals`` instead of the grid kernel (tests);
    ``executor`` (``{"executor", "workers", "ray_address"}``) runs the grid's cells in chunks as tasks of
    that executor (the same result); None: in this process."""
    from engine.backtest.metrics import annualisation

    direction, holdout = _check_options(metric, holdout, pbo_blocks)
    thr = source.thresholds(list(thresholds))
    base = params.validated()
    sl_stops = [check_stop("sl_stop", v) for v in sl_stops]
    tp_stops = [check_stop("tp_stop", v) for v in tp_stops]
    grid = list(itertools.product(range(len(thr)), sl_stops, tp_stops))
    if len(grid) > max_points:
        raise BadInput(f"the grid has {len(grid)} points (at most {max_points})", hint="use fewer values")
    prep = prepare(ws, source, base)
    tf = prep.market.timeframe
    purge = purge_bars(source, tf) if holdout > 0 else 0
    n_sel, hold_start = split_period(len(prep.market.index), holdout, purge)
    raw = _targets(prep, thr, ws)  # (bars, thresholds, symbols), whole period: a target at t uses bars <= t
    ti = np.array([g[0] for g in grid])
    sl = np.array([_stops(g[1]) for g in grid])
    tp = np.array([_stops(g[2]) for g in grid])
    sel_market = _slice_market(prep.market, 0, n_sel)
    progress(0.25, f"simulating {len(grid)} grid points x {len(prep.market.symbols)} symbol(s) on {n_sel:,} selection "
                   "bars")
    if executor and grid:
        m, returns, trades_of = _simulate_on_executor(executor, sel_market, raw[:n_sel], ti, prep.params, sl, tp, fast=fast)
    else:
        m, returns, trades_of = _simulate_cells(sel_market, raw[:n_sel], ti, prep.params, sl, tp, fast=fast)
    progress(0.6, "computing metrics")
    table, masks = _cell_table(source, ws, prep, sel_market, raw[:n_sel], thr, grid, ti, m, returns)
    progress(0.75, "selection-bias corrections (deflated Sharpe, PBO)")
    sel = _select(table, masks, returns, trades_of, metric=metric, direction=direction, n_thresholds=len(thr),
                  n_sel=n_sel, tf=tf, pbo_blocks=pbo_blocks)
    sel_days = n_sel * tf_seconds(tf) / 86400
    if sel_days < MIN_DAYS and sel["bi"] is None:
        sel["warnings"].append(f"the selection part covers only {sel_days:.1f} days (fewer than {MIN_DAYS})")
    bi = sel["bi"]
    cell = None if bi is None else (int(ti[bi]), float(sl[bi]), float(tp[bi]))
    confirmation = _confirmation(prep, raw, sel, cell, metric=metric, holdout=holdout, hold_start=hold_start, purge=purge)
    selection = _selection_record({**sel, "n_cells": len(grid)}, confirmation, metric=metric, direction=direction,
                                  prep=prep, sel_market=sel_market, n_sel=n_sel, sel_days=sel_days, holdout=holdout,
                                  purge=purge, hold_start=hold_start)
    return {"prep": prep, "table": table, "best": sel["best"], "selection": selection, "thresholds": thr,
            "sl_stops": sl_stops, "tp_stops": tp_stops, "grid": grid, "annualisation": annualisation(tf), "n_sel": n_sel}
