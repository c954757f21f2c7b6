"""The plotly builders on a stored backtest and sweep (real runs on the sample)."""
from __future__ import annotations

import numpy as np

from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest, run_sweep
from engine.backtest.store import compare, load_backtest, metrics_table
from engine.data.store import load_candles
from engine.plots.backtest import MAX_LINE_POINTS, compare_figure, equity_figure, heatmap_figure, trades_figure


def test_figures_from_stored_runs(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=10, slow=40)
    a = run_backtest(sample_ws, src, BacktestParams(start="2025-12-01", sl_stop=0.02))  # > MAX_LINE_POINTS bars
    b = run_backtest(sample_ws, src, BacktestParams(start="2025-12-01", direction="long"))
    bt = load_backtest(sample_ws, a["backtest_id"])
    eq, trades = bt.equity(), bt.trades()
    assert len(eq) > MAX_LINE_POINTS

    fig = equity_figure(eq, "x")
    names = [t.name for t in fig.data]
    assert names == ["strategy", "buy & hold", "drawdown %"]
    assert len(fig.data[0].x) <= MAX_LINE_POINTS + 2
    assert min(fig.data[2].y) == eq["drawdown"].min() * 100  # thinning keeps the deepest point

    candles = load_candles(sample_ws, "BTCUSDT", "15m", start="2026-01-05", end="2026-01-12")
    tf = trades_figure(candles, trades)
    t0, t1 = candles.timestamp.iloc[0], candles.timestamp.iloc[-1]
    entries = trades.entry_time.between(t0, t1).sum()
    exits = (trades.exit_time.between(t0, t1) & (trades.status == "closed")).sum()
    markers = [t for t in tf.data if t.type == "scatter" and t.mode == "markers"]
    assert sum(len(t.x) for t in markers) == entries + exits > 0
    assert {t.name for t in markers} <= {"long entry", "short entry", "exit"}

    c = compare(sample_ws, [a["backtest_id"], b["backtest_id"]])
    cf = compare_figure({r.label(): c["curves"][r.id] for r in c["runs"]})
    assert len(cf.data) == 4 and cf.data[0].y[0] == eq["equity"].iloc[0] / 10_000
    table = metrics_table(c["runs"])
    assert table.shape[1] == 2 and table.loc["Bars per year (annualisation)"].tolist() == ["35,040", "35,040"]


def test_heatmap_of_a_sweep(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m")
    s = run_sweep(sample_ws, src, BacktestParams(start="2026-03-01"), thresholds=[None], sl_stops=[None, 0.01, 0.02],
                  tp_stops=[None, 0.03])
    table = load_backtest(sample_ws, s["backtest_id"]).sweep()
    fig = heatmap_figure(table, "sharpe", x="tp_stop", y="sl_stop")
    hm = fig.data[0]
    assert hm.type == "heatmap" and list(hm.x) == ["off", "0.03"] and list(hm.y) == ["off", "0.01", "0.02"]
    want = table.set_index(["sl_stop", "tp_stop"])["sharpe"]
    assert hm.z[1][1] == want.loc[(0.01, 0.03)]
    assert np.isclose(hm.z[0][0], table[table.sl_stop.isna() & table.tp_stop.isna()]["sharpe"].iloc[0])
    line = heatmap_figure(table, "total_return", x="sl_stop", y="tp_stop", fixed=None)
    assert line.data[0].type == "heatmap"
    one = heatmap_figure(table[table.tp_stop.isna()], "total_return", x="sl_stop", y="tp_stop")
    assert one.data[0].type == "scatter" and len(one.data[0].x) == 3
