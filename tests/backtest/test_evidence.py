"""Evidence beside single-backtest figures (issue 12, backtest side), on the bundled sample:
sample sizes, bootstrap CIs, warnings, no annualised headline over a short period, why a run
made no trade, pooled trade statistics recomputed from the stored trades, funding and borrow
inside each trade's P&L, spot long-only by default, per-fold figures and their spread."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import talib

from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest
from engine.backtest.sources import load_model_source
from engine.backtest.store import format_metric, load_backtest
from engine.cli import main
from engine.costs import load_costs
from engine.data.canonical import ts_ns
from engine.data.store import load_candles, load_funding
from tests.backtest.fakes import make_model

START_90, END = "2025-11-01", "2026-02-28 23:45"  # 120 days
BARS_32H = 128  # 32 hours of 15m bars


def _strict(doc) -> dict:
    """JSON round trip that refuses NaN / Infinity (the documents must be valid JSON)."""
    def bad(c):
        raise AssertionError(f"invalid JSON constant {c}")
    return json.loads(json.dumps(doc, allow_nan=False), parse_constant=bad)


def _window(ws, sign: int, fast: int = 20, slow: int = 100) -> tuple[str, str]:
    """A 32-hour window in which SMA(fast) - SMA(slow) keeps one sign (found on the real candles)."""
    c = load_candles(ws, "BTCUSDT", "15m")
    d = np.sign(np.nan_to_num(talib.SMA(c["close"].to_numpy("float64"), fast)
                              - talib.SMA(c["close"].to_numpy("float64"), slow)))
    run = 0
    for i, v in enumerate(d):
        run = run + 1 if v == sign else 0
        if run == BARS_32H + 4:
            t = c["timestamp"]
            return str(t.iloc[i - BARS_32H + 1]), str(t.iloc[i])
    raise AssertionError("no window found")


def test_32_hour_period_gets_warnings_and_no_annualised_headline(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=12, slow=40)
    r = run_backtest(sample_ws, src, BacktestParams(start="2026-01-10", end="2026-01-11 07:45"))
    m, s, u = r["metrics"], r["sample"], r["uncertainty"]
    assert s["bars"] == BARS_32H and s["days"] == pytest.approx(32 / 24, abs=1e-4)
    for k in ("cagr", "calmar", "sharpe", "sortino"):
        assert m[k] is None, k  # not headlined
        assert np.isfinite(r["annualised_not_headlined"][k])  # kept, clearly named
    assert u["sharpe"] is None and u["total_return"][0] <= m["total_return"] <= u["total_return"][1]
    w = " | ".join(r["warnings"])
    assert "fewer than 90" in w and "not headlined" in w and "period return" in w
    assert "fewer than 30 days" in w and "fewer than 30 closed trades" in w
    assert u["method"]["returns"]["resamples"] == 1000 and u["method"]["returns"]["seed"] == 0
    assert "stationary" in u["method"]["returns"]["method"]
    # the manifest holds the same evidence, and the documents are valid JSON
    extra = load_backtest(sample_ws, r["backtest_id"]).manifest.extra
    assert extra["warnings"] == r["warnings"] and extra["sample"] == s
    assert load_backtest(sample_ws, r["backtest_id"]).manifest.metrics["cagr"] is None
    _strict({k: r[k] for k in ("metrics", "sample", "uncertainty", "warnings", "costs")})


def test_a_run_with_only_open_positions_says_so(sample_ws):
    a, b = _window(sample_ws, +1)
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=20, slow=100)
    r = run_backtest(sample_ws, src, BacktestParams(start=a, end=b))
    m = r["metrics"]
    assert m["trades"] == 1 and m["closed_trades"] == 0 and m["open_trades"] == 1
    assert m["win_rate"] is None and m["profit_factor"] is None
    assert r["uncertainty"]["win_rate"] is None and r["uncertainty"]["profit_factor"] is None
    assert any(w.startswith("only open positions: 1 position(s) still open") for w in r["warnings"])
    assert r["trades_explanation"] is None


def test_zero_trade_backtest_says_why_for_a_model(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=1.0)
    src = load_model_source(sample_ws, mid)
    top = float(src.predictions["p_up_1h"].max())  # the test split's rows (the default period)
    thr = round(min(1.0, top + 0.02), 2)
    r = run_backtest(sample_ws, src, BacktestParams(threshold=thr))
    assert r["metrics"]["trades"] == 0
    want = f"no trades: the highest P(up) in the period was {top:.2f} against a threshold of {thr:.2f}"
    assert r["trades_explanation"].startswith(want) and r["warnings"][0] == r["trades_explanation"]
    assert r["metrics"]["profit_factor"] is None and r["metrics"]["win_rate"] is None
    assert r["costs"]["direction"] == "long"  # spot default: P(down) is not traded, so not named
    _strict({k: r[k] for k in ("metrics", "uncertainty", "warnings")})


def test_zero_trade_rule_says_there_was_no_crossing(sample_ws):
    a, b = _window(sample_ws, -1)
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=20, slow=100)
    r = run_backtest(sample_ws, src, BacktestParams(start=a, end=b))
    assert r["metrics"]["trades"] == 0
    assert r["trades_explanation"].startswith("no trades: no crossing in the period: SMA(20) stayed below SMA(100)")
    assert "long-only" in r["trades_explanation"] and "--direction both" in r["trades_explanation"]


def test_pooled_trade_statistics_equal_the_stored_trades(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT-PERP", "ETHUSDT"], timeframe="15m", fast=12, slow=40)
    r = run_backtest(sample_ws, src, BacktestParams(start=START_90, end=END, direction="both"))
    m, s = r["metrics"], r["sample"]
    tr = load_backtest(sample_ws, r["backtest_id"]).trades()
    closed = tr[tr["status"] == "closed"]
    gains, losses = closed.loc[closed.pnl > 0, "pnl"].sum(), -closed.loc[closed.pnl < 0, "pnl"].sum()
    assert losses > 0 and m["profit_factor"] == pytest.approx(gains / losses, rel=1e-12)
    assert m["win_rate"] == pytest.approx((closed.pnl > 0).mean(), rel=1e-12)
    assert m["expectancy"] == pytest.approx(closed.pnl.mean(), rel=1e-9)
    assert m["avg_trade_return"] == pytest.approx(closed["return"].mean(), rel=1e-9)
    assert s["closed_trades"] == len(closed) == m["closed_trades"] >= 30
    # two symbols trade at the same time: fewer independent (non-overlapping) trades than closed ones
    assert 0 < s["independent_trades"] < s["closed_trades"]
    assert s["days"] == pytest.approx(s["bars"] / 96)
    # annualised figures are headlined over 120 days, with CIs around them
    u = r["uncertainty"]
    assert m["sharpe"] is not None and u["sharpe"][0] < m["sharpe"] < u["sharpe"][1]
    assert u["profit_factor"][0] < m["profit_factor"] < u["profit_factor"][1]
    assert u["win_rate"][0] <= m["win_rate"] <= u["win_rate"][1]
    assert u["method"]["trades"]["n"] == len(closed)


def test_funding_is_inside_each_trades_pnl(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT-PERP"], timeframe="15m", fast=12, slow=40)
    common = {"start": START_90, "end": END}
    r = run_backtest(sample_ws, src, BacktestParams(**common))
    r0 = run_backtest(sample_ws, src, BacktestParams(funding=False, **common))
    assert r["costs"]["direction"] == "both" and r["costs"]["funding_symbols"] == ["BTCUSDT-PERP"]  # perp default
    tr = load_backtest(sample_ws, r["backtest_id"]).trades()
    tr0 = load_backtest(sample_ws, r0["backtest_id"]).trades()
    assert len(tr) == len(tr0) > 30 and (tr0["funding"] == 0).all()
    # funding by hand per trade: the position held into each bar of (entry, exit] x open x rate
    bars = load_candles(sample_ws, "BTCUSDT-PERP", "15m", start=START_90, end=END)
    f = load_funding(sample_ws, "BTCUSDT-PERP")
    rate = bars[["timestamp"]].merge(f, on="timestamp", how="left")["funding_rate"].fillna(0).to_numpy()
    t, opn = ts_ns(bars["timestamp"]), bars["open"].to_numpy()
    for row in tr.itertuples():
        held = (t > row.entry_time.value) & (t <= row.exit_time.value)
        sign = 1 if row.direction == "long" else -1
        assert row.funding == pytest.approx(-sign * row.size * float(np.sum(opn[held] * rate[held])), rel=1e-9, abs=1e-9)
    assert (tr["funding"] != 0).sum() > 10
    np.testing.assert_allclose(tr["pnl"] - tr0["pnl"], tr["funding"], rtol=0, atol=1e-9)
    assert tr["funding"].sum() == pytest.approx(-r["metrics"]["funding_paid"], rel=1e-9)
    # the trade statistics count it
    closed = tr[tr.status == "closed"]
    assert r["metrics"]["expectancy"] == pytest.approx(closed.pnl.mean(), rel=1e-9)
    assert r["metrics"]["expectancy"] != pytest.approx(r0["metrics"]["expectancy"], rel=1e-6)


def test_spot_defaults_to_long_only_and_a_spot_short_pays_borrow(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=12, slow=40)
    common = {"start": START_90, "end": END}
    long_ = run_backtest(sample_ws, src, BacktestParams(**common))
    c = long_["costs"]
    assert c["direction"] == "long" and c["direction_source"].startswith("default")
    assert c["borrow_rate"] is None and c["fees"] == load_costs().fee("spot") and c["slippage"] == load_costs().slippage
    assert set(load_backtest(sample_ws, long_["backtest_id"]).trades()["direction"]) == {"long"}
    assert long_["metrics"]["borrow_paid"] == 0
    # shorting spot is explicit and pays the borrow rate on the short's value, per bar held
    rate = 0.2
    short = run_backtest(sample_ws, src, BacktestParams(direction="short", borrow_rate=rate, sizing="amount", size=0.1,
                                                        **common))
    free = run_backtest(sample_ws, src, BacktestParams(direction="short", borrow_rate=0.0, sizing="amount", size=0.1,
                                                       **common))
    assert short["costs"]["direction"] == "short" and short["costs"]["direction_source"] == "explicit"
    assert short["costs"]["borrow_rate"] == rate and short["costs"]["borrow_symbols"] == ["BTCUSDT"]
    tr = load_backtest(sample_ws, short["backtest_id"]).trades()
    assert set(tr["direction"]) == {"short"} and (tr["borrow"] < 0).all()
    bars = load_candles(sample_ws, "BTCUSDT", "15m", start=START_90, end=END)
    t, opn = ts_ns(bars["timestamp"]), bars["open"].to_numpy()
    for row in tr.itertuples():
        held = (t > row.entry_time.value) & (t <= row.exit_time.value)
        assert row.borrow == pytest.approx(-row.size * opn[held].sum() * rate / 35_040, rel=1e-9)
    paid = short["metrics"]["borrow_paid"]
    assert paid == pytest.approx(-tr["borrow"].sum(), rel=1e-9) and paid > 0
    assert free["metrics"]["final_value"] - short["metrics"]["final_value"] == pytest.approx(paid, rel=1e-9)
    eq = load_backtest(sample_ws, short["backtest_id"]).equity()
    assert eq["borrow_cum"].iloc[-1] == pytest.approx(-paid, rel=1e-9)


def test_walk_forward_folds_report_figures_and_their_spread(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=0.5, walk_forward_folds=3)
    r = run_backtest(sample_ws, load_model_source(sample_ws, mid), BacktestParams())
    folds, sp = r["folds"], r["folds_spread"]
    assert len(folds) == 3 and sp["folds"] == 3
    eq = load_backtest(sample_ws, r["backtest_id"]).equity().set_index("timestamp")["equity"]
    tr = load_backtest(sample_ws, r["backtest_id"]).trades()
    for f in folds:
        inside = eq[(eq.index >= pd.Timestamp(f["test_start"])) & (eq.index <= pd.Timestamp(f["test_end"]))]
        before = eq[eq.index < pd.Timestamp(f["test_start"])]
        base = before.iloc[-1] if len(before) else 10_000.0
        ret = np.diff(np.concatenate([[base], inside.to_numpy()])) / np.concatenate([[base], inside.to_numpy()[:-1]])
        assert f["bars"] == len(inside) and f["days"] == pytest.approx(len(inside) / 96, abs=1e-4)
        assert f["return"] == pytest.approx(inside.iloc[-1] / base - 1, rel=1e-9)
        assert f["sharpe"] == pytest.approx(ret.mean() / ret.std(ddof=1) * np.sqrt(35_040), rel=1e-9)
        peak = np.maximum.accumulate(np.concatenate([[base], inside.to_numpy()]))[1:]
        assert f["max_drawdown"] == pytest.approx((inside.to_numpy() / peak - 1).min(), rel=1e-9)
        closed = tr[(tr.status == "closed") & tr.exit_time.between(inside.index[0], inside.index[-1])]
        assert f["closed_trades"] == len(closed)
    for k in ("sharpe", "return", "max_drawdown"):
        v = [f[k] for f in folds]
        assert sp[k] == {"min": min(v), "median": float(np.median(v)), "max": max(v), "n": 3}
    assert any("walk-forward fold(s)" in w for w in r["warnings"])  # folds under 90 days


def test_cli_json_show_and_text_carry_the_evidence(sample_ws, capsys):
    capsys.readouterr()
    assert main(["backtest", "rule", "--symbol", "BTCUSDT", "--timeframe", "15m", "--start", "2026-01-10",
                 "--end", "2026-01-11 07:45", "--direction", "both", "--borrow-rate", "0.15", "--json"]) == 0
    doc = _strict(json.loads(capsys.readouterr().out))
    for k in ("sample", "uncertainty", "warnings", "costs"):
        assert doc[k], k
    assert set(doc["sample"]) >= {"bars", "days", "closed_trades", "independent_trades"}
    assert set(doc["uncertainty"]) >= {"sharpe", "total_return", "profit_factor", "win_rate", "method"}
    assert set(doc["costs"]) >= {"fees", "slippage", "funding", "borrow_rate"} and doc["costs"]["borrow_rate"] == 0.15
    assert main(["backtest", "show", doc["backtest_id"], "--json"]) == 0
    shown = _strict(json.loads(capsys.readouterr().out))
    for k in ("sample", "uncertainty", "warnings", "costs", "metrics"):
        assert shown[k] == doc[k], k
    assert main(["backtest", "show", doc["backtest_id"]]) == 0
    text = capsys.readouterr().out
    assert "95% CI" in text and "warning: the period covers" in text and "costs: fee 0.1% per fill" in text
    assert "sample: 128 bars" in text
    assert not re.search(r"\b(inf|-inf|nan|NaN|None|Infinity)\b", text), text
    # a bad borrow rate: one error line, exit 2
    assert main(["backtest", "rule", "--symbol", "BTCUSDT", "--timeframe", "15m", "--borrow-rate", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.strip().startswith("error:") and "borrow rate" in err


def test_undefined_figures_are_shown_as_a_dash():
    for v in (None, float("nan"), float("inf"), -float("inf"), np.float64("nan")):
        assert format_metric("profit_factor", v) == "-"
        assert format_metric("sharpe", v) == "-"


def test_profit_from_open_positions_next_to_a_zero_win_rate_is_called_out(sample_ws):
    """The issue's case: "win rate 0 %" next to a positive return that an open position made."""
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=12, slow=40)
    r = run_backtest(sample_ws, src, BacktestParams(start="2026-01-01", end="2026-01-02 07:45"))
    m = r["metrics"]
    assert m["win_rate"] == 0 and m["total_return"] > 0 and m["open_trades"] == 1
    tr = load_backtest(sample_ws, r["backtest_id"]).trades()
    open_pnl, closed_pnl = tr.loc[tr.status == "open", "pnl"].sum(), tr.loc[tr.status == "closed", "pnl"].sum()
    assert open_pnl > 0 >= closed_pnl
    w = next(w for w in r["warnings"] if w.startswith("all of the profit comes from 1 still-open position(s)"))
    assert f"P&L {open_pnl:,.2f}" in w and f"lost {abs(closed_pnl):,.2f}" in w
