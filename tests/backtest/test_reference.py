"""Cross-checks required by the issue, on real sample candles:

* the plain SMA-crossover rule against a hand-computed reference (numpy SMAs, a plain Python
  loop over the trades): total return, trade count and fees;
* Sharpe / Sortino / max drawdown / CAGR recomputed independently from the stored equity
  curve with the stated annualisation;
* a zero-fee / zero-slippage run and a costly run differ by exactly the costs paid;
* funding charged on a perpetual equals position x price x rate summed by hand.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest
from engine.backtest.store import load_backtest
from engine.costs import load_costs
from engine.data.canonical import ts_ns
from engine.data.store import load_candles, load_funding

START, END = "2026-01-01", "2026-02-28 23:45"
START_90 = "2025-11-01"  # 120 days to END
FAST, SLOW = 12, 40


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    out[n - 1:] = np.convolve(x, np.ones(n) / n, mode="valid")
    return out


def _reference_targets(ws, symbol: str, direction: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Hand version of the rule: SMA(fast) vs SMA(slow) on the history, cut to the period,
    shifted one bar (a signal at a bar's close fills at the next bar's open)."""
    c = load_candles(ws, symbol, "15m", end=END)
    close = c["close"].to_numpy()
    sig = np.sign(np.nan_to_num(_sma(close, FAST) - _sma(close, SLOW)))
    keep = (c["timestamp"] >= pd.Timestamp(START, tz="UTC")).to_numpy()
    bars, sig = c[keep].reset_index(drop=True), sig[keep]
    if direction == "long":
        sig = np.maximum(sig, 0)
    return bars, np.concatenate([[0.0], sig[:-1]])


def _reference_long_all_in(bars: pd.DataFrame, target: np.ndarray, fee: float, slip: float, cash: float):
    """All-in long-only account, one bar at a time (the reference, deliberately a plain loop)."""
    pos, fees, trades = 0.0, 0.0, 0
    for i in range(len(bars)):
        px = bars["open"].iat[i]
        if target[i] == 1 and pos == 0:
            fill = px * (1 + slip)
            pos = cash / (fill * (1 + fee))
            f = pos * fill * fee
            cash, fees, trades = cash - pos * fill - f, fees + f, trades + 1
        elif target[i] != 1 and pos > 0:
            fill = px * (1 - slip)
            f = pos * fill * fee
            cash, fees, pos = cash + pos * fill - f, fees + f, 0.0
    final = cash + pos * bars["close"].iat[-1]
    return final, trades, fees


def _reference_fixed_both(bars: pd.DataFrame, target: np.ndarray, fee: float, slip: float, cash: float, units: float,
                          borrow_rate: float = 0.0):
    """Fixed `units` long or short; a change of the target trades the difference (a reversal is one order).
    A spot short pays ``borrow_rate`` a year on its value at each bar's open it is held into."""
    prev, fees, trades = 0.0, 0.0, 0
    for i in range(len(bars)):
        if prev < 0:
            cash -= units * bars["open"].iat[i] * borrow_rate / 35_040
        if target[i] != prev:
            delta = (target[i] - prev) * units
            fill = bars["open"].iat[i] * (1 + slip * np.sign(delta))
            f = abs(delta) * fill * fee
            cash, fees = cash - delta * fill - f, fees + f
            trades += target[i] != 0
            prev = target[i]
    final = cash + prev * units * bars["close"].iat[-1]
    return final, trades, fees


def test_rule_long_all_in_matches_hand_reference(sample_ws):
    fee, slip, cash = 0.001, 0.0002, 10_000.0
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=FAST, slow=SLOW)
    r = run_backtest(sample_ws, src, BacktestParams(direction="long", fees=fee, slippage=slip, start=START, end=END,
                                                    init_cash=cash))
    bars, target = _reference_targets(sample_ws, "BTCUSDT", "long")
    final, trades, fees = _reference_long_all_in(bars, target, fee, slip, cash)
    m = r["metrics"]
    assert m["bars"] == len(bars)
    assert m["trades"] == trades > 20
    assert m["total_return"] == pytest.approx(final / cash - 1, rel=1e-9, abs=1e-12)
    assert m["fees_paid"] == pytest.approx(fees, rel=1e-9)
    tr = load_backtest(sample_ws, r["backtest_id"]).trades()
    assert len(tr) == trades and set(tr["direction"]) == {"long"}
    assert tr["entry_fees"].sum() + tr.loc[tr.status == "closed", "exit_fees"].sum() == pytest.approx(fees, rel=1e-9)


def test_rule_fixed_units_long_short_matches_hand_reference(sample_ws):
    fee, slip, cash, units = 0.0005, 0.0001, 100_000.0, 0.25
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=FAST, slow=SLOW)
    r = run_backtest(sample_ws, src, BacktestParams(direction="both", sizing="amount", size=units, fees=fee,
                                                    slippage=slip, start=START, end=END, init_cash=cash))
    bars, target = _reference_targets(sample_ws, "BTCUSDT", "both")
    # shorting spot pays the cost model's borrow rate (engine.costs), charged by hand here too
    final, trades, fees = _reference_fixed_both(bars, target, fee, slip, cash, units, borrow_rate=load_costs().borrow_rate)
    m = r["metrics"]
    assert m["trades"] == trades > 20
    assert m["total_return"] == pytest.approx(final / cash - 1, rel=1e-9, abs=1e-12)
    assert m["fees_paid"] == pytest.approx(fees, rel=1e-9)
    tr = load_backtest(sample_ws, r["backtest_id"]).trades()
    assert set(tr["direction"]) == {"long", "short"}


def test_metrics_match_independent_computation_from_equity_curve(sample_ws):
    src = rule_source(sample_ws, symbols=["ETHUSDT"], timeframe="15m", fast=FAST, slow=SLOW)
    # at least 90 days, so the annualised figures are headlined (shorter periods null them)
    r = run_backtest(sample_ws, src, BacktestParams(start=START_90, end=END, sl_stop=0.03))
    b = load_backtest(sample_ws, r["backtest_id"])
    m, ann = b.manifest.metrics, b.manifest.extra["annualisation"]
    assert ann["bars_per_year"] == m["bars_per_year"] == r["bars_per_year"] == 35_040 and ann["timeframe"] == "15m"
    eq = b.equity()["equity"].to_numpy()
    assert r["equity_path"].endswith("equity.parquet") and len(eq) == m["bars"]
    # independent numpy computation
    k = m["bars_per_year"]
    ret = np.diff(np.concatenate([[m["init_cash"]], eq])) / np.concatenate([[m["init_cash"]], eq[:-1]])
    sharpe = ret.mean() / ret.std(ddof=1) * np.sqrt(k)
    downside = np.sqrt(np.mean(np.minimum(ret, 0) ** 2)) * np.sqrt(k)
    sortino = ret.mean() * k / downside
    maxdd = (eq / np.maximum.accumulate(eq) - 1).min()
    cagr = (eq[-1] / m["init_cash"]) ** (k / len(eq)) - 1
    assert m["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert m["sortino"] == pytest.approx(sortino, rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(maxdd, rel=1e-9)
    assert m["cagr"] == pytest.approx(cagr, rel=1e-9)
    assert m["calmar"] == pytest.approx(cagr / abs(maxdd), rel=1e-9)
    assert m["total_return"] == pytest.approx(eq[-1] / m["init_cash"] - 1, rel=1e-12)
    # the wrong annualisation (252) would be far off
    assert abs(m["sharpe"] - ret.mean() / ret.std(ddof=1) * np.sqrt(252)) > 0.1 * abs(m["sharpe"])
    # buy & hold benchmark: close to close
    c = load_candles(sample_ws, "ETHUSDT", "15m", start=START_90, end=END)["close"].to_numpy()
    assert m["buy_and_hold_return"] == pytest.approx(c[-1] / c[0] - 1, rel=1e-9)


def test_zero_cost_and_costly_runs_differ_by_exactly_the_costs(sample_ws):
    """Fixed-unit sizing keeps the positions identical, so every cash difference is a cost.
    On the perpetual the funding is identical in both runs and cancels out."""
    src = rule_source(sample_ws, symbols=["BTCUSDT-PERP"], timeframe="15m", fast=FAST, slow=SLOW)
    common = {"direction": "both", "sizing": "amount", "size": 0.2, "start": START, "end": END, "init_cash": 50_000.0}
    free = run_backtest(sample_ws, src, BacktestParams(fees=0.0, slippage=0.0, **common))["metrics"]
    costly = run_backtest(sample_ws, src, BacktestParams(fees=0.0006, slippage=0.0003, **common))["metrics"]
    assert free["fees_paid"] == 0 and free["slippage_paid"] == 0
    assert costly["trades"] == free["trades"] > 20
    assert costly["fees_paid"] > 0 and costly["slippage_paid"] > 0
    assert costly["funding_paid"] == pytest.approx(free["funding_paid"], rel=1e-12, abs=1e-9) and free["funding_paid"] != 0
    diff = free["final_value"] - costly["final_value"]
    assert diff == pytest.approx(costly["fees_paid"] + costly["slippage_paid"], rel=1e-9)


def test_funding_is_position_times_price_times_rate(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT-PERP"], timeframe="15m", fast=FAST, slow=SLOW)
    common = {"direction": "both", "start": START, "end": END}
    with_f = run_backtest(sample_ws, src, BacktestParams(**common))
    without = run_backtest(sample_ws, src, BacktestParams(funding=False, **common))
    assert without["metrics"]["funding_paid"] == 0
    eq = load_backtest(sample_ws, with_f["backtest_id"]).equity()
    eq0 = load_backtest(sample_ws, without["backtest_id"]).equity()
    # identical trades; the equity gap is the running funding total
    np.testing.assert_allclose(eq["equity"] - eq0["equity"], eq["funding_cum"], rtol=0, atol=1e-6)
    # by hand: the position held into each funding time x the bar's open x the rate
    bars = load_candles(sample_ws, "BTCUSDT-PERP", "15m", start=START, end=END)
    f = load_funding(sample_ws, "BTCUSDT-PERP")
    tr = load_backtest(sample_ws, with_f["backtest_id"]).trades()
    pos = np.zeros(len(bars))
    t = ts_ns(bars["timestamp"])
    for row in tr.itertuples():
        held = (t > row.entry_time.value) & ((t <= row.exit_time.value) if row.status == "closed" else True)
        pos[held] += row.size * (1 if row.direction == "long" else -1)
    rate = bars[["timestamp"]].merge(f, on="timestamp", how="left")["funding_rate"].fillna(0).to_numpy()
    paid = float(np.sum(pos * bars["open"].to_numpy() * rate))
    assert with_f["metrics"]["funding_paid"] == pytest.approx(paid, rel=1e-9)
    assert (rate != 0).sum() >= 150  # 3 funding times a day over two months
    assert "BTCUSDT-PERP" in load_backtest(sample_ws, with_f["backtest_id"]).manifest.extra["funding_symbols"]


def test_trade_statistics_agree_with_vectorbts_own(sample_ws):
    """The closed-trade statistics (numpy bincounts over vectorbt's trade records) equal
    vectorbt's Trades.win_rate / profit_factor / expectancy / count, grouped and per symbol."""
    from engine.backtest.market import load_market
    from engine.backtest.metrics import simulation_metrics
    from engine.backtest.portfolio import simulate

    symbols = ["BTCUSDT", "ETHUSDT"]
    src = rule_source(sample_ws, symbols=symbols, timeframe="15m", fast=FAST, slow=SLOW)
    params = BacktestParams(start=START, end=END, symbols=symbols).validated()
    market = load_market(sample_ws, symbols, "15m", params.start, params.end, funding=False)
    raw = np.stack([src.targets(sample_ws, s, market.index, np.array([np.nan]), 0.0) for s in symbols], axis=2)
    sim = simulate(market, raw[:, [0, 0, 0], :], params, sl_stop=np.array([np.nan, 0.01, 0.02]),
                   tp_stop=np.array([np.nan, np.nan, 0.03]))
    for per_symbol, group_by in ((False, sim.group_by), (True, False)):
        ours = simulation_metrics(sim, per_symbol=per_symbol)
        closed = sim.pf.trades.closed
        np.testing.assert_allclose(ours["win_rate"], np.asarray(closed.win_rate(group_by=group_by)), rtol=1e-12)
        np.testing.assert_allclose(ours["profit_factor"], np.asarray(closed.profit_factor(group_by=group_by)), rtol=1e-12)
        np.testing.assert_allclose(ours["expectancy"], np.asarray(closed.expectancy(group_by=group_by)), rtol=1e-9)
        np.testing.assert_array_equal(ours["trades"], np.asarray(sim.pf.trades.count(group_by=group_by)))
        np.testing.assert_allclose(ours["fees_paid"], np.asarray(sim.pf.orders.fees.sum(group_by=group_by)), rtol=1e-12)
        np.testing.assert_allclose(ours["total_return"], np.asarray(sim.pf.total_return(group_by=group_by)), rtol=1e-12)
        np.testing.assert_allclose(ours["buy_and_hold_return"],
                                   np.asarray(sim.pf.total_benchmark_return(group_by=group_by)), rtol=1e-12)
    assert len(set(np.round(simulation_metrics(sim)["total_return"], 12))) == 3  # the stops changed the outcome


def test_hourly_bars_are_annualised_with_8760(sample_ws):
    from engine.cli import main

    assert main(["data", "resample", "BTCUSDT", "--from", "15m", "--to", "1h", "--quiet"]) == 0
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="1h", fast=FAST, slow=SLOW)
    r = run_backtest(sample_ws, src, BacktestParams(start="2025-10-01", end=END))
    m = r["metrics"]
    assert r["annualisation"] == {"timeframe": "1h", "bars_per_year": 8_760, "year_days": 365} and m["bars_per_year"] == 8_760
    eq = load_backtest(sample_ws, r["backtest_id"]).equity()["equity"].to_numpy()
    ret = np.diff(np.concatenate([[m["init_cash"]], eq])) / np.concatenate([[m["init_cash"]], eq[:-1]])
    assert m["sharpe"] == pytest.approx(ret.mean() / ret.std(ddof=1) * np.sqrt(8_760), rel=1e-9)
    assert m["cagr"] == pytest.approx((eq[-1] / m["init_cash"]) ** (8_760 / len(eq)) - 1, rel=1e-9)
    assert m["max_drawdown_duration_days"] == pytest.approx(m["max_drawdown_duration_bars"] / 24)
