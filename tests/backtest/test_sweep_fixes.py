"""The three sweep defects fixed on the sweepfix branch, on the bundled sample's real candles, on both the
grid kernel and the plain vectorbt path:

1. a cell (or a single backtest) whose equity reaches zero or below is RUINED: total return -100 %, null
   ratios with "account wiped out at <timestamp>", never chosen, still counted in the DSR's N;
2. the per-bar returns the DSR / PBO / held-out CI read are net of funding AND borrow, like the metrics;
3. ``slippage_paid`` counts only the fills that paid slippage (vectorbt fills stop exits without it)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engine.backtest.market import load_market
from engine.backtest.metrics import equity_frame, simulation_metrics, trades_frame
from engine.backtest.params import BacktestParams
from engine.backtest.portfolio import simulate
from engine.backtest.run import rule_source, run_backtest
from engine.backtest.sweep import bar_returns, equity_matrix, sweep
from tests.backtest.test_sweep_selection import PERIOD, _synthetic

THRESHOLDS = [0.1, 0.2, 0.6, 0.7, 0.8, 0.9]
# a borrow rate of 990 % a year on spot shorts: the random cells (0.1, 0.2) and the weak one (0.6) pay more borrow
# than they hold; the borrow is booked next to vectorbt, which keeps sizing orders from its own cash
RUINOUS = {"fees": 0.0005, "slippage": 0.0, "direction": "both", "borrow_rate": 9.9}


@pytest.fixture
def ruinous(sample_ws):
    p = BacktestParams(**PERIOD, **RUINOUS)
    kw = {"thresholds": THRESHOLDS, "sl_stops": [None], "tp_stops": [None], "metric": "fees_paid"}
    return [sweep(sample_ws, _synthetic(), p, **kw, fast=f) for f in (True, False)]


def test_a_ruined_cell_has_null_ratios_is_never_chosen_and_counts_in_n(sample_ws, ruinous):
    fast, slow = ruinous
    pd.testing.assert_frame_equal(fast["table"], slow["table"], rtol=1e-9, atol=1e-12)  # both paths agree
    assert fast["selection"]["deflated_sharpe"] == pytest.approx(slow["selection"]["deflated_sharpe"], rel=1e-9)
    assert fast["selection"]["pbo"] == slow["selection"]["pbo"] and fast["selection"]["best"] == slow["selection"]["best"]
    table, sel = fast["table"], fast["selection"]
    dead = table["ruin_reason"].notna().to_numpy()
    assert table.loc[dead, "threshold"].tolist() == [0.1, 0.2, 0.6] and (table["trades"] > 0).all()
    assert (table.loc[dead, "total_return"] == -1.0).all() and (table.loc[dead, "max_drawdown"] == -1.0).all()
    for k in ("sharpe", "sortino", "calmar", "cagr", "profit_factor", "win_rate"):
        assert table.loc[dead, k].isna().all() and table.loc[~dead, k].notna().all(), k
    # --metric fees_paid (lowest) would pick a ruined cell: it has the lowest fees of all
    assert dead[int(table["fees_paid"].to_numpy().argmin())]
    assert sel["best"]["threshold"] == 0.7 and fast["best"]["fees_paid"] == table.loc[~dead, "fees_paid"].min()
    assert sel["n_cells_traded"] == 6 and sel["n_cells_ruined"] == 3
    assert "3 of 6 cells wiped out the account" in sel["warnings"][0]
    # DSR: N = every cell that traded; the variance only over the Sharpe ratios that exist
    assert sel["dsr"]["n_trials"] == 6
    sr = table.loc[~dead, "sharpe"].to_numpy() / np.sqrt(35_040)
    assert sel["dsr"]["sharpe_variance"] == pytest.approx(np.var(sr, ddof=1), rel=1e-9)
    assert sel["pbo_detail"]["n_configurations"] == 3  # the PBO ranks the cells that can be chosen
    # the reason's bar is where the equity (incl. borrow) first reached zero: a plain backtest of that cell
    one = run_backtest(sample_ws, _synthetic(), BacktestParams(**{**PERIOD, "end": sel["selection_period"]["end"]},
                                                                threshold=0.1, **RUINOUS))
    eq = pd.read_parquet(one["equity_path"])
    first = eq.loc[eq["equity"] <= 0, "timestamp"].iloc[0]
    assert table.loc[0, "ruin_reason"] == f"account wiped out at {first.isoformat()}"
    m = one["metrics"]
    assert m["total_return"] == -1.0 and m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None
    assert m["cagr"] is None and m["profit_factor"] is None and m["final_value"] == table.loc[0, "final_value"]
    assert one["warnings"][0].startswith(f"account wiped out at {first.isoformat()}")
    assert one["uncertainty"]["sharpe"] is None and one["uncertainty"]["total_return"] is None
    assert one["sample"]["bars"] == len(eq) and one["sample"]["closed_trades"] == m["closed_trades"] > 0
    json.dumps(one, allow_nan=False)


def test_the_dsr_pbo_and_held_out_returns_include_the_borrow(sample_ws, ruinous):
    fast, slow = ruinous
    sel, best = fast["selection"], fast["best"]
    assert best["borrow_paid"] > 0
    # the DSR's per-bar Sharpe is the table's (borrow-inclusive) Sharpe, de-annualised, on both paths
    for s in (fast, slow):
        assert s["selection"]["dsr"]["sharpe"] * np.sqrt(35_040) == pytest.approx(best["sharpe"], rel=1e-9)
    # the equity those returns come from (also the held-out CI's) is the metrics' equity: value + funding + borrow
    market = load_market(sample_ws, ["BTCUSDT"], "15m", pd.Timestamp("2026-01-01", tz="UTC"),
                         pd.Timestamp("2026-01-31 23:45", tz="UTC"), funding=False)
    p = BacktestParams(**RUINOUS).validated()
    p.resolve_direction(["BTCUSDT"])
    raw = np.sign(np.sin(np.arange(len(market.index)) / 40.0))[:, None, None]
    sim = simulate(market, raw, p, sl_stop=np.array([np.nan]), tp_stop=np.array([np.nan]))
    eq = equity_frame(sim)["equity"].to_numpy()
    assert sim.borrow_flow.sum() < 0
    np.testing.assert_allclose(equity_matrix(sim)[:, 0], eq, rtol=1e-12)
    r = bar_returns(equity_matrix(sim)[:, :1], p.init_cash)[:, 0]
    assert np.prod(1 + r) - 1 == pytest.approx(simulation_metrics(sim).loc[0, "total_return"], rel=1e-9)
    # the held-out re-run reads its CI from this same equity_matrix (sweep._confirm)
    assert sel["confirmation"]["uncertainty"]["total_return"] is not None


def test_slippage_paid_counts_only_the_fills_that_paid_it(sample_ws):
    slip = 0.001
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=12, slow=40)
    r = run_backtest(sample_ws, src, BacktestParams(start="2026-01-01", end="2026-02-28 23:45", direction="both",
                                                    borrow_rate=0.0, fees=0.0, slippage=slip, sl_stop=0.004,
                                                    tp_stop=0.006))
    t = pd.read_parquet(r["trades_path"])
    stops = t["exit_reason"].isin(["stop-loss", "take-profit"])
    assert stops.sum() > 10 and (~stops & (t["status"] == "closed")).sum() > 10
    # by hand from the trades: a long buys at p = base x (1 + s), paying p - p / (1 + s); a short sells at
    # p = base x (1 - s), paying p / (1 - s) - p; stop exits fill at the stop price and pay nothing
    long_ = (t["direction"] == "long").to_numpy()
    up, down = 1 + slip, 1 - slip
    entry = t["size"] * np.where(long_, t["entry_price"] * (1 - 1 / up), t["entry_price"] * (1 / down - 1))
    exit_ = t["size"] * np.where(long_, t["exit_price"] * (1 / down - 1), t["exit_price"] * (1 - 1 / up))
    exit_ = np.where(stops | (t["status"] == "open"), 0.0, exit_)
    assert r["metrics"]["slippage_paid"] == pytest.approx(float(entry.sum() + exit_.sum()), rel=1e-9)
    every_fill = float(entry.sum() + (t["size"] * np.where(long_, t["exit_price"] * (1 / down - 1), t["exit_price"] * (
        1 - 1 / up))).where(t["status"] == "closed", 0.0).sum())
    assert r["metrics"]["slippage_paid"] < every_fill - 1.0  # what the old count charged, stop exits included


def test_the_grid_kernel_counts_the_same_slipped_fills(sample_ws):
    market = load_market(sample_ws, ["BTCUSDT"], "15m", pd.Timestamp("2026-01-01", tz="UTC"),
                         pd.Timestamp("2026-01-31 23:45", tz="UTC"), funding=False)
    from engine.backtest.grid import grid_metrics, simulate_grid

    p = BacktestParams(fees=0.001, slippage=0.0005, direction="both", borrow_rate=0.0).validated()
    raw = np.sign(np.sin(np.arange(len(market.index))[:, None] / np.array([15.0, 40.0])))[:, :, None]
    ti, sl, tp = np.array([0, 1, 0, 1]), np.array([np.nan, np.nan, 0.004, 0.004]), np.array([np.nan, np.nan, 0.006, 0.006])
    sim = simulate(market, raw[:, ti, :], p, sl_stop=sl, tp_stop=tp)
    run = simulate_grid(market, raw, ti, p, sl_stop=sl, tp_stop=tp)
    got = grid_metrics(run, market, p.init_cash)["slippage_paid"].to_numpy()
    want = simulation_metrics(sim)["slippage_paid"].to_numpy()[:4]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # without stops every fill slipped: the count equals the all-fills formula; with stops it is lower
    rec = sim.pf.orders.values
    factor = np.where(rec["side"] == 0, 1 + p.slippage, 1 - p.slippage)
    all_fills = np.bincount(rec["col"], weights=np.abs(rec["size"]) * np.abs(rec["price"] - rec["price"] / factor),
                            minlength=4)
    np.testing.assert_allclose(got[:2], all_fills[:2], rtol=1e-12)
    assert (got[2:] < all_fills[2:]).all()
    assert len(trades_frame(sim, 2)) > 10
