"""Trade analytics (engine/backtest/trades.py) on real vectorbt backtests of the bundled sample:
exit reasons agree with the prices vectorbt filled at, a trade that hit its stop says
"stop-loss", per-symbol sums equal the trade list, monthly returns compound to the total
return, and the stored artifact keeps the reasons."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backtest.market import Market
from engine.backtest.metrics import trades_frame
from engine.backtest.params import BacktestParams
from engine.backtest.portfolio import simulate
from engine.backtest.run import rule_source, run_backtest
from engine.backtest.store import load_backtest
from engine.backtest.trades import (
    REASONS,
    exit_reasons,
    market_candles,
    monthly_grid,
    monthly_returns,
    pnl_distribution,
    reason_summary,
    reasons_for,
    symbol_summary,
    trade_list,
    trade_window,
    with_reasons,
)
from engine.data.store import load_candles

START, END = "2026-01-01", "2026-02-28 23:45"


def _market(o, h, lo, c) -> Market:
    n = len(c)
    idx = pd.date_range("2026-01-01", periods=n, freq="15min", tz="UTC")
    col = lambda a: np.asarray(a, dtype="float64")[:, None]
    return Market(index=idx, symbols=["BTCUSDT"], timeframe="15m", open=col(o), high=col(h), low=col(lo), close=col(c),
                  funding=np.zeros((n, 1)))


def _sim(market: Market, target, **kw):
    p = BacktestParams(direction="both", fees=0.0, slippage=0.0, symbols=list(market.symbols), **kw)
    t = np.asarray(target, dtype="float64")[:, None, None]
    sim = simulate(market, t, p, sl_stop=np.array([kw.get("sl_stop") or np.nan]),
                   tp_stop=np.array([kw.get("tp_stop") or np.nan]))
    return with_reasons(trades_frame(sim), market_candles(market), p.to_dict())


def test_a_trade_that_hit_its_stop_says_stop_loss_and_one_that_hit_its_target_take_profit():
    # bar 0: long signal -> fills at bar 1's open (100); bar 3's low 94 < 100 x 0.95: stopped out
    o = [100, 100, 101, 99, 96, 96, 97, 98, 99, 100]
    h = [101, 101, 102, 100, 97, 97, 98, 99, 100, 101]
    lo = [99, 99, 100, 94, 95, 95, 96, 97, 98, 99]
    c = [100, 101, 100, 96, 96, 97, 98, 99, 100, 100]
    t = [1, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]
    tr = _sim(_market(o, h, lo, c), t, sl_stop=0.05)
    assert len(tr) == 1 and tr.loc[0, "exit_reason"] == "stop-loss"
    assert tr.loc[0, "exit_price"] == pytest.approx(95.0)  # vectorbt filled at the stop price
    # the same long with a 2 % target: bar 2's high 102 >= 102 -> take-profit
    tr = _sim(_market(o, h, lo, c), t, tp_stop=0.02)
    assert tr.loc[0, "exit_reason"] == "take-profit" and tr.loc[0, "exit_price"] == pytest.approx(102.0)
    # no stops: the long stays open to the end of the period
    tr = _sim(_market(o, h, lo, c), t)
    assert tr.loc[0, "status"] == "open" and tr.loc[0, "exit_reason"] == "end of period"
    assert tr.loc[0, "entry_reason"] == "long signal"
    # a short closed by the flat signal at bar 4 (fills at bar 5's open)
    ts = [-1, np.nan, np.nan, np.nan, 0, np.nan, np.nan, np.nan, np.nan, np.nan]
    tr = _sim(_market(o, h, lo, c), ts, sl_stop=0.5)
    assert tr.loc[0, "exit_reason"] == "signal" and tr.loc[0, "entry_reason"] == "short signal"


def test_trailing_stop_follows_the_highest_high_before_the_exit_bar():
    # entry 100 at bar 1; highs 110 at bar 2; a 5 % trailing stop sits at 104.5 from bar 3 on: bar 3's low 104 hits it
    o = [100, 100, 105, 108, 104, 104]
    h = [100, 101, 110, 109, 105, 105]
    lo = [100, 99, 104.8, 104, 103, 103]
    c = [100, 100, 108, 105, 104, 104]
    t = [1, np.nan, np.nan, np.nan, np.nan, np.nan]
    tr = _sim(_market(o, h, lo, c), t, sl_stop=0.05, sl_trail=True)
    assert tr.loc[0, "exit_reason"] == "stop-loss" and tr.loc[0, "exit_price"] == pytest.approx(104.5)
    assert tr.loc[0, "pnl"] > 0  # a trailing stop can lock in a gain: still a stop-loss exit
    # without the trail the same trade is not stopped (never 5 % under its entry)
    tr = _sim(_market(o, h, lo, c), t, sl_stop=0.05)
    assert tr.loc[0, "exit_reason"] == "end of period"


@pytest.fixture
def stopped_run(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT", "ETHUSDT"], timeframe="15m", fast=12, slow=40)
    r = run_backtest(sample_ws, src, BacktestParams(direction="both", start=START, end=END, sl_stop=0.01, tp_stop=0.02))
    return sample_ws, load_backtest(sample_ws, r["backtest_id"]), r


def test_stored_reasons_agree_with_the_prices_vectorbt_filled_at(stopped_run):
    ws, b, _ = stopped_run
    tr = b.trades()
    assert {"entry_reason", "exit_reason"} <= set(tr.columns)
    assert set(tr["exit_reason"]) <= set(REASONS)
    counts = tr["exit_reason"].value_counts()
    assert counts.get("stop-loss", 0) > 0 and counts.get("take-profit", 0) > 0 and counts.get("signal", 0) > 0
    slip = b.manifest.params["slippage"]
    for sym in b.manifest.symbols:
        c = load_candles(ws, sym, "15m", start=START, end=END).set_index("timestamp")
        t = tr[(tr["symbol"] == sym) & (tr["status"] == "closed")]
        opn = c.loc[pd.DatetimeIndex(t["exit_time"]), "open"].to_numpy()
        long_ = (t["direction"] == "long").to_numpy()
        px, entry = t["exit_price"].to_numpy(), t["entry_price"].to_numpy()
        reason = t["exit_reason"].to_numpy()
        # a signal exit fills at the bar's open with slippage against the trade
        sig = reason == "signal"
        assert np.allclose(px[sig], np.where(long_[sig], opn[sig] * (1 - slip), opn[sig] * (1 + slip)))
        # a stop fills at its level, or at the open when the bar opened beyond it (no slippage: stop-limit)
        sl = reason == "stop-loss"
        want = np.where(long_, np.minimum(opn, entry * 0.99), np.maximum(opn, entry * 1.01))
        assert np.allclose(px[sl], want[sl])
        tp = reason == "take-profit"
        want = np.where(long_, np.maximum(opn, entry * 1.02), np.minimum(opn, entry * 0.98))
        assert np.allclose(px[tp], want[tp])
    # recovering the reasons from the candles (runs stored before the column existed) gives the same
    old = b.trades().drop(columns=["entry_reason", "exit_reason"])
    b.trades = lambda: old  # the reader of a run from before
    again = reasons_for(ws, b)
    assert list(again["exit_reason"]) == list(tr["exit_reason"])


def test_per_symbol_sums_equal_the_trade_list(stopped_run):
    _, b, r = stopped_run
    tr = b.trades()
    s = symbol_summary(tr).set_index("symbol")
    per = s.drop(index="all")
    assert list(per.index) == sorted(b.manifest.symbols)
    assert per["trades"].sum() == len(tr) == s.loc["all", "trades"] == r["metrics"]["trades"]
    assert per["pnl_total"].sum() == pytest.approx(tr["pnl"].sum())
    assert s.loc["all", "pnl_closed"] == pytest.approx(tr.loc[tr["status"] == "closed", "pnl"].sum())
    for sym, row in per.iterrows():
        t = tr[(tr["symbol"] == sym) & (tr["status"] == "closed")]
        assert row["closed_trades"] == len(t)
        assert row["win_rate"] == pytest.approx((t["pnl"] > 0).mean())
        assert row["profit_factor"] == pytest.approx(t.loc[t["pnl"] > 0, "pnl"].sum() / -t.loc[t["pnl"] < 0, "pnl"].sum())
        assert sum(row[k] for k in REASONS) == row["trades"]
    # the pooled figures of "all" are the backtest's own headline figures
    assert s.loc["all", "win_rate"] == pytest.approx(r["metrics"]["win_rate"])
    assert s.loc["all", "profit_factor"] == pytest.approx(r["metrics"]["profit_factor"])
    # with CIs: the "all" row carries the backtest's own evidence CIs (same bootstrap, same series)
    ci = symbol_summary(tr, cis=True).set_index("symbol")
    assert [ci.loc["all", "win_rate_lo"], ci.loc["all", "win_rate_hi"]] == pytest.approx(r["uncertainty"]["win_rate"])
    assert [ci.loc["all", "profit_factor_lo"], ci.loc["all", "profit_factor_hi"]] == \
        pytest.approx(r["uncertainty"]["profit_factor"])
    assert (ci.loc[per.index, "win_rate_lo"] <= ci.loc[per.index, "win_rate"]).all()
    rs = reason_summary(tr)
    assert rs["trades"].sum() == len(tr) and rs["pnl"].sum() == pytest.approx(tr["pnl"].sum())
    shown = trade_list(tr)
    assert len(shown) == len(tr) and shown["entry_time"].is_monotonic_increasing
    assert (shown["fees"] >= 0).all() and {"entry_reason", "exit_reason", "pnl", "return"} <= set(shown.columns)


def test_monthly_returns_compound_to_the_total_return(stopped_run):
    _, b, r = stopped_run
    m = monthly_returns(b.equity(), b.manifest.metrics["init_cash"], b.trades())
    assert list(m["month"]) == ["2026-01", "2026-02"]
    assert np.prod(1 + m["return"].to_numpy()) - 1 == pytest.approx(r["metrics"]["total_return"], rel=1e-9, abs=1e-12)
    assert m["trades"].sum() == r["metrics"]["closed_trades"] and m["bars"].sum() == r["metrics"]["bars"]
    grid, n = monthly_grid(m)
    assert list(grid.columns)[:2] == ["Jan", "Feb"] and grid.loc[2026, "Jan"] == pytest.approx(m["return"].iloc[0])
    assert n.loc[2026, "Feb"] == m["trades"].iloc[1] and np.isnan(grid.loc[2026, "Mar"])


def test_pnl_distribution_and_trade_window(stopped_run):
    _, b, r = stopped_run
    tr = b.trades()
    d = pnl_distribution(tr)
    assert d["n"] == r["metrics"]["closed_trades"] == sum(d["counts"]) and len(d["edges"]) == len(d["counts"]) + 1
    assert d["win_share"] == pytest.approx(r["metrics"]["win_rate"])
    t = tr.iloc[len(tr) // 2]
    lo, hi = trade_window(t, "15m", pad_bars=10, bounds=(b.manifest.start, b.manifest.end))
    pad = pd.Timedelta(minutes=15) * max(10, int(t["bars"]) // 2)  # 10 bars, or half the trade's length
    assert (lo, hi) == (max(t["entry_time"] - pad, pd.Timestamp(b.manifest.start)),
                        min(t["exit_time"] + pad, pd.Timestamp(b.manifest.end)))
    assert lo < t["entry_time"] and hi > t["exit_time"]
    first = tr.iloc[0]
    assert trade_window(first, "15m", pad_bars=10_000, bounds=(b.manifest.start, b.manifest.end))[0] == \
        pd.Timestamp(b.manifest.start)
    assert pnl_distribution(tr.iloc[0:0])["n"] == 0


def test_no_stops_means_no_stop_reasons():
    tr = pd.DataFrame({"symbol": ["A", "A"], "direction": ["long", "short"], "status": ["closed", "open"],
                       "entry_time": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
                       "exit_time": pd.to_datetime(["2026-01-01 05:00", "2026-01-03 00:00"], utc=True),
                       "entry_price": [1.0, 1.0]})
    assert list(exit_reasons(tr, {})) == ["signal", "end of period"]


def test_figures_show_what_the_tables_say(stopped_run):
    from engine.plots.trades import monthly_heatmap_figure, pnl_histogram_figure, pnl_trades_figure

    ws, b, r = stopped_run
    tr = b.trades()
    btc = tr[tr["symbol"] == "BTCUSDT"]
    c = load_candles(ws, "BTCUSDT", "15m", start=START, end=END)
    fig = pnl_trades_figure(c, btc, "BTCUSDT", highlight=btc.iloc[0])
    exits = next(t for t in fig.data if t.name.startswith("exit"))
    assert len(exits.x) == len(btc)
    assert list(exits.marker.color) == pytest.approx(list(btc["return"].to_numpy() * 100))  # coloured by P&L
    assert exits.marker.cmid == 0 and any(btc.iloc[0]["exit_reason"] in t for t in exits.text)
    lines = {t.name: t for t in fig.data if t.name in ("winning trade", "losing trade")}
    assert len(lines["winning trade"].x) == 3 * int((btc["pnl"] > 0).sum())  # entry, exit, gap per trade
    assert len(fig.layout.shapes) == 1  # the picked trade, shaded
    m = monthly_returns(b.equity(), b.manifest.metrics["init_cash"], tr)
    hm = monthly_heatmap_figure(m).data[0]
    assert hm.z[0][0] == pytest.approx(m["return"].iloc[0] * 100) and f"{m['trades'].iloc[0]} trades" in hm.text[0][0]
    hist = pnl_histogram_figure(pnl_distribution(tr))
    assert sum(hist.data[0].y) == r["metrics"]["closed_trades"]
    assert str(r["metrics"]["closed_trades"]) in hist.layout.title.text
    assert "no closed trade" in pnl_histogram_figure(pnl_distribution(tr.iloc[0:0])).layout.annotations[0].text
