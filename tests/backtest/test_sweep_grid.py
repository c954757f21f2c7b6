"""The sweep's record-free grid kernel (engine/backtest/grid.py) against vectorbt: on the bundled sample's
real candles, every cell of a grid run through ``grid.simulate_grid`` + ``grid.grid_metrics`` must equal
``portfolio.simulate`` (one ``Portfolio.from_signals`` call) + ``metrics.simulation_metrics`` (the old sweep
path): the same trades (counts exact), the same per-bar equity and every metric to ~1e-9, for long, short and
both directions, fees + slippage, stop-loss / take-profit / trailing stops, funding (perpetual), borrow (spot
shorts), several symbols, every sizing and both executions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from engine.backtest.grid import grid_metrics, simulate_grid
from engine.backtest.market import load_market
from engine.backtest.metrics import METRICS, simulation_metrics
from engine.backtest.params import BacktestParams
from engine.backtest.portfolio import simulate
from engine.backtest.sources import Source
from engine.backtest.sweep import bar_returns, equity_matrix, sweep

START, END = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-14 23:45", tz="UTC")  # 4,320 real 15m bars
SL = [None, 0.004, 0.02]
TP = [None, 0.006, 0.03]


def _targets(n: int, n_sets: int, n_sym: int, seed: int) -> np.ndarray:
    """Signal sets of the kind a threshold sweep makes: runs of long / short / flat of random length
    (flipping often, so reversals, stops hit and re-entries all happen), with NaN (= hold) sprinkled in."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, n_sets, n_sym))
    for j in range(n_sets):
        for s in range(n_sym):
            runs = rng.integers(1, 40, n)
            vals = rng.choice([-1.0, 0.0, 1.0], len(runs), p=[0.4, 0.2, 0.4])
            col = np.repeat(vals, runs)[:n]
            col[rng.random(n) < 0.05] = np.nan
            out[:, j, s] = col
    return out


def _compare(ws, symbols: list[str], **kw) -> pd.DataFrame:
    p = BacktestParams(**{"fees": 0.001, "slippage": 0.0005, "direction": "both", **kw}).validated()
    p.resolve_direction(symbols)
    market = load_market(ws, symbols, "15m", START, END, funding=p.funding)
    n, s = len(market.index), len(symbols)
    raw = _targets(n, 3, s, seed=len(kw) + s)
    grid = [(t, a, b) for t in range(3) for a in SL for b in TP]
    ti = np.array([g[0] for g in grid])
    sl = np.array([np.nan if g[1] is None else g[1] for g in grid])
    tp = np.array([np.nan if g[2] is None else g[2] for g in grid])

    sim = simulate(market, raw[:, ti, :], p, sl_stop=sl, tp_stop=tp)
    old = simulation_metrics(sim).iloc[:len(grid)].reset_index(drop=True)
    old_equity = equity_matrix(sim)[:, :len(grid)]  # value + funding + borrow: the DSR / PBO returns' equity
    borrow = np.cumsum(sim.grouped(sim.borrow_flow), axis=0)[:, :len(grid)]

    run = simulate_grid(market, raw, ti, p, sl_stop=sl, tp_stop=tp)
    assert run is not None
    new = grid_metrics(run, market, p.init_cash)

    assert list(new.columns) == METRICS
    np.testing.assert_allclose(run.returns_t.T, bar_returns(old_equity, p.init_cash), rtol=0, atol=1e-12)
    assert old["trades"].sum() > 50 * len(grid)  # a busy grid: many trades per cell
    for k in ("trades", "closed_trades", "open_trades"):
        assert new[k].tolist() == old[k].tolist(), k
    np.testing.assert_allclose(run.equity + (run.borrow_t.T if run.borrow_t.shape[1] else 0.0), old_equity,
                               rtol=1e-9, atol=0)
    np.testing.assert_allclose(run.borrow_t.T if run.borrow_t.shape[1] else 0.0, borrow, rtol=1e-9, atol=1e-9)
    for k in METRICS:
        a, b = new[k].to_numpy("float64"), old[k].to_numpy("float64")
        assert (np.isnan(a) == np.isnan(b)).all(), k
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * p.init_cash if k.endswith("_paid") else 1e-12,
                                   equal_nan=True, err_msg=k)
    return old


@pytest.mark.parametrize("direction", ["long", "short", "both"])
def test_the_grid_kernel_equals_vectorbt_cell_for_cell(sample_ws, direction):
    old = _compare(sample_ws, ["BTCUSDT"], direction=direction, borrow_rate=0.1)
    assert (old["fees_paid"] > 0).all() and (old["slippage_paid"] > 0).all()
    if direction != "long":
        assert (old["borrow_paid"] > 0).all()  # spot shorts pay the borrow rate


def test_trailing_stops_funding_and_several_symbols(sample_ws):
    old = _compare(sample_ws, ["BTCUSDT-PERP", "ETHUSDT"], direction="both", sl_trail=True, borrow_rate=0.2)
    assert (old["funding_paid"] != 0).all() and (old["borrow_paid"] > 0).all()


@pytest.mark.parametrize("kw", [{"sizing": "value", "size": 2_000.0}, {"sizing": "amount", "size": 0.05},
                                {"sizing": "percent", "size": 0.5, "direction": "long"},
                                {"execution": "close", "hold_bars": 6}])
def test_other_sizings_and_executions(sample_ws, kw):
    _compare(sample_ws, ["BTCUSDT"], **kw)


@dataclass
class RandomSource(Source):
    """Test-only signals: each threshold is an independent draw of ``_targets`` (no model artifact)."""

    def targets(self, ws, symbol, index, thresholds, costs):
        return _targets(len(index), len(thresholds), 1, seed=round(sum(thresholds) * 1000))[:, :, 0]


def test_a_sweep_selects_and_confirms_the_same_on_both_paths(sample_ws):
    """The whole sweep (table, best cell, DSR, PBO, in-selection trades, held-out confirmation) is the
    same whether the grid runs in the kernel or in one vectorbt call."""
    src = RandomSource(kind="random", timeframe="15m", symbols=["BTCUSDT"], threshold_range=(0.0, 1.0),
                       default_threshold=0.5)
    p = BacktestParams(start="2026-01-01", end="2026-02-14 23:45", fees=0.001, slippage=0.0005, direction="both",
                       borrow_rate=0.1)
    kw = {"thresholds": [0.3, 0.5, 0.7], "sl_stops": SL, "tp_stops": TP, "metric": "sharpe"}
    fast, slow = (sweep(sample_ws, src, p, **kw, fast=f) for f in (True, False))
    pd.testing.assert_frame_equal(fast["table"], slow["table"], rtol=1e-9, atol=1e-12)
    a, b = fast["selection"], slow["selection"]
    assert a["best"] == b["best"] and a["best"] is not None and a["n_cells_traded"] == b["n_cells_traded"] == 27
    assert a["deflated_sharpe"] == pytest.approx(b["deflated_sharpe"], rel=1e-9, abs=1e-12)
    assert a["pbo"] == b["pbo"]  # ranks of the same Sharpe ratios
    assert a["in_selection"]["sample"] == b["in_selection"]["sample"]
    assert a["confirmation"] == b["confirmation"]  # the held-out re-run is the same vectorbt run either way
    assert a["warnings"] == b["warnings"]
