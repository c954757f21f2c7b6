"""Backtests of every model kind from stored out-of-sample predictions (contract-shaped model
artifacts built from real sample candles), the out-of-sample guard, walk-forward stitching,
lineage checks, and bad parameters that must fail cleanly with nothing written."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput, NotFound, Refused
from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest, run_sweep
from engine.backtest.sources import load_model_source
from engine.backtest.store import compare, load_backtest
from engine.splits import SplitPlan, chronological_split
from storage.artifacts import read_manifest
from storage.catalog import Catalog
from tests.backtest.fakes import make_model, make_stage1
from tests.conftest import snapshot


def _artifacts(ws) -> dict[str, str]:
    return snapshot(ws.artifacts_dir)


@pytest.mark.parametrize("kind", ["direction", "patchtst", "stage2"])
def test_each_model_kind_backtests_its_test_split(sample_ws, kind):
    mid = make_model(sample_ws, kind, ("BTCUSDT", "ETHUSDT"), noise=0.3, all_splits=True, poison_train=True)
    src = load_model_source(sample_ws, mid)
    plan = SplitPlan.from_dict(read_manifest(sample_ws, mid).extra["split"])
    # spot symbols default to long-only (engine.costs): trading both ways is an explicit choice
    r = run_backtest(sample_ws, src, BacktestParams(sl_stop=0.05 if kind == "stage2" else None, direction="both"))
    m = r["metrics"]
    # the default period is the model's test split, nothing earlier
    assert pd.Timestamp(r["period"]["start"]) == plan.test_start and pd.Timestamp(r["period"]["end"]) == plan.test_end
    assert any("not out-of-sample test rows" in n for n in r["notes"])  # train/val rows were ignored
    # an informative predictor beats buying and holding on real candles; it trades both ways
    assert m["trades"] > 10 and m["total_return"] > m["buy_and_hold_return"]
    assert m["bars_per_year"] == 35_040 and r["annualisation"]["bars_per_year"] == 35_040
    b = load_backtest(sample_ws, r["backtest_id"])
    assert {"long", "short"} <= set(b.trades()["direction"])
    assert b.manifest.parents[0] == mid and "ohlcv-BTCUSDT-15m" in b.manifest.parents
    assert b.manifest.extra["oos"]["verified"] is True
    # two symbols: per-symbol metrics, and the sleeves add up to the equity
    eq = b.equity()
    assert [p["symbol"] for p in b.manifest.extra["per_symbol"]] == ["BTCUSDT", "ETHUSDT"]
    np.testing.assert_allclose(eq["value_BTCUSDT"] + eq["value_ETHUSDT"], eq["equity"], rtol=1e-12)
    # indexed, with lineage to the model
    cat = Catalog(sample_ws)
    assert r["backtest_id"] in set(cat.query(kind="backtest")["id"])
    assert mid in set(cat.lineage(r["backtest_id"])["ancestors"]["id"])


def test_direction_threshold_and_horizon_change_the_signals(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=1.5)
    src = load_model_source(sample_ws, mid)
    assert src.horizon == "1h"  # the default when present
    low = run_backtest(sample_ws, src, BacktestParams(threshold=0.4))["metrics"]
    high = run_backtest(sample_ws, src, BacktestParams(threshold=0.7))["metrics"]
    assert high["exposure"] < low["exposure"] and high["trades"] != low["trades"]
    r4 = run_backtest(sample_ws, load_model_source(sample_ws, mid, horizon="4h"), BacktestParams(direction="long"))
    assert r4["source"]["horizon"] == "4h"
    assert set(load_backtest(sample_ws, r4["backtest_id"]).trades()["direction"]) == {"long"}
    with pytest.raises(BadInput, match="horizon '12h'.*available: 1h, 4h"):
        load_model_source(sample_ws, mid, horizon="12h")


def test_patchtst_trades_only_when_the_move_beats_the_costs(sample_ws):
    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    src = load_model_source(sample_ws, mid)
    cheap = run_backtest(sample_ws, src, BacktestParams(fees=0.0, slippage=0.0))["metrics"]
    dear = run_backtest(sample_ws, src, BacktestParams(fees=0.004, slippage=0.001))["metrics"]
    # a 1 % round-trip hurdle leaves far fewer predicted moves worth trading
    assert dear["exposure"] < 0.5 * cheap["exposure"]


def test_patchtst_without_a_return_head_trades_its_direction_head(sample_ws):
    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.3, return_head=False)
    src = load_model_source(sample_ws, mid, horizon="4h")
    assert any("direction head" in n for n in src.notes) and src.threshold_range == (0.0, 1.0)
    r = run_backtest(sample_ws, src, BacktestParams(threshold=0.5))
    assert r["source"]["horizon"] == "4h" and r["metrics"]["total_return"] > r["metrics"]["buy_and_hold_return"]


def test_in_sample_periods_are_refused_and_nothing_is_written(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",))
    src = load_model_source(sample_ws, mid)
    plan = src.plans[0]
    before = _artifacts(sample_ws)
    for start, end in [(plan.train_start, plan.train_end), (plan.val_start, plan.test_end),
                       (plan.val_end, plan.test_end), (plan.test_start - pd.Timedelta("15min"), plan.test_end)]:
        with pytest.raises(Refused, match="in-sample backtest refused"):
            run_backtest(sample_ws, src, BacktestParams(start=start, end=end))
    with pytest.raises(Refused, match="in-sample"):
        run_sweep(sample_ws, src, BacktestParams(start=plan.train_start), thresholds=[0.5, 0.6], sl_stops=[None],
                  tp_stops=[None])
    with pytest.raises(Refused, match="in-sample"):  # the rule over a model's period follows the same guard
        rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", period_of=mid).check_period(plan.val_start, plan.test_end)
    assert _artifacts(sample_ws) == before
    # the test split itself (or a part of it) is fine
    r = run_backtest(sample_ws, src, BacktestParams(start=plan.test_start + pd.Timedelta("7D")))
    assert pd.Timestamp(r["period"]["start"]) == plan.test_start + pd.Timedelta("7D")


@pytest.mark.parametrize("fold_base", [0, 1])
def test_walk_forward_predictions_are_stitched_fold_by_fold(sample_ws, fold_base):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=0.5, walk_forward_folds=3, all_splits=True,
                     poison_train=True, fold_base=fold_base)
    src = load_model_source(sample_ws, mid)
    assert src.walk_forward and len(src.plans) == 3
    # each fold's own test rows only: the poisoned rows of later folds' training windows are left out
    p = src.predictions
    for i, plan in enumerate(src.plans):
        rows = p[p["fold"] == i + fold_base]
        assert len(rows) > 1000
        assert rows["timestamp"].min() >= plan.test_start and rows["timestamp"].max() <= plan.test_end
    r = run_backtest(sample_ws, src, BacktestParams())
    assert pd.Timestamp(r["period"]["start"]) == src.plans[0].test_start
    assert pd.Timestamp(r["period"]["end"]) == src.plans[-1].test_end
    folds = r["folds"]
    assert [f["fold"] for f in folds] == [0, 1, 2]
    assert np.prod([1 + f["return"] for f in folds]) - 1 == pytest.approx(r["metrics"]["total_return"], rel=1e-9)
    assert all(f["return"] > 0 for f in folds)  # informative in every fold (poisoned rows would lose)
    with pytest.raises(Refused, match="walk-forward test block"):
        run_backtest(sample_ws, src, BacktestParams(start=src.plans[0].test_start - pd.Timedelta("1D")))


def test_lineage_guard_checks_the_models_a_model_was_built_on(sample_ws):
    from engine.data.store import load_candles

    ts = load_candles(sample_ws, "BTCUSDT", "15m")["timestamp"]
    # a Stage 1 model trained on nearly everything: its training covers the Stage 2 test split
    late = chronological_split(ts, "15m", purge_bars=48, train_frac=0.9, val_frac=0.05)
    s1 = make_stage1(sample_ws, split=late)
    s2 = make_model(sample_ws, "stage2", ("BTCUSDT",), parents=[s1])
    before = _artifacts(sample_ws)
    with pytest.raises(Refused, match=f"{s1}, which it was built on"):
        run_backtest(sample_ws, load_model_source(sample_ws, s2), BacktestParams())
    assert _artifacts(sample_ws) == before
    # a Stage 1 model imported from the Hub has no training period: the run is flagged, not hidden
    hub = make_stage1(sample_ws, split=None)
    s2b = make_model(sample_ws, "stage2", ("BTCUSDT",), parents=[hub])
    r = run_backtest(sample_ws, load_model_source(sample_ws, s2b), BacktestParams())
    oos = load_backtest(sample_ws, r["backtest_id"]).manifest.extra["oos"]
    assert oos["verified"] is False and hub in oos["unverified"][0]
    assert any("not verifiable" in n for n in r["notes"])


def test_bad_parameters_give_clear_errors_and_write_nothing(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",))
    src = load_model_source(sample_ws, mid)
    plan = src.plans[0]
    before = _artifacts(sample_ws)
    cases = [
        (BacktestParams(fees=-0.001), "fees cannot be negative"),
        (BacktestParams(slippage=-1e-4), "slippage cannot be negative"),
        (BacktestParams(threshold=1.5), r"threshold 1.5 is out of range .* \[0, 1\]"),
        (BacktestParams(start=plan.test_end, end=plan.test_start), "the period is empty"),
        (BacktestParams(start="2030-01-01", end="2030-02-01"), "no out-of-sample predictions after|period is empty"),
        (BacktestParams(sl_stop=1.5), "sl-stop must be a fraction"),
        (BacktestParams(sizing="percent", size=0.5, direction="both"), "percent sizing cannot reverse"),
        (BacktestParams(init_cash=0), "initial cash must be positive"),
        (BacktestParams(symbols=["SOLUSDT"]), "has no predictions for SOLUSDT"),
        (BacktestParams(start="yesterday-ish"), "is not a date"),
    ]
    for params, message in cases:
        with pytest.raises(BadInput, match=message):
            run_backtest(sample_ws, src, params)
    with pytest.raises(BadInput, match="takes no threshold"):
        rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m").thresholds([0.5])
    with pytest.raises(BadInput, match="fast SMA"):
        rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=50, slow=20)
    with pytest.raises(NotFound):
        load_model_source(sample_ws, "model-does-not-exist")
    with pytest.raises(BadInput, match="not a model"):
        load_model_source(sample_ws, "ohlcv-BTCUSDT-15m")
    with pytest.raises(BadInput, match="period is empty"):  # a rule over a range with no bars
        run_backtest(sample_ws, rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m"),
                     BacktestParams(start="2031-01-01", end="2031-02-01"))
    assert _artifacts(sample_ws) == before


def test_sweep_is_one_run_whose_points_equal_single_runs(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=1.0)
    src = load_model_source(sample_ws, mid)
    r = run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.4, 0.5, 0.6], sl_stops=[None, 0.01],
                  tp_stops=[None, 0.03], metric="sharpe")
    assert r["points"] == 12
    table = load_backtest(sample_ws, r["backtest_id"]).sweep()
    assert len(table) == 12 and {"threshold", "sl_stop", "tp_stop", "sharpe", "total_return"} <= set(table.columns)
    assert r["best"]["sharpe"] == pytest.approx(table["sharpe"].max())
    end = r["selection"]["selection_period"]["end"]  # the grid is simulated on the selection part
    for thr, sl, tp in [(0.5, None, None), (0.6, 0.01, 0.03)]:
        one = run_backtest(sample_ws, src, BacktestParams(threshold=thr, sl_stop=sl, tp_stop=tp, end=end))
        # the test split is < 90 days: a single run keeps its annualised figures out of the headline, under
        # annualised_not_headlined; the sweep table still holds them
        single = {**one["metrics"], **{k: v for k, v in (one["annualised_not_headlined"] or {}).items() if k != "sharpe_ci"}}
        row = table[(table.threshold == thr) & (table.sl_stop.isna() if sl is None else table.sl_stop == sl)
                    & (table.tp_stop.isna() if tp is None else table.tp_stop == tp)].iloc[0]
        for k in ("total_return", "sharpe", "max_drawdown", "trades", "fees_paid", "win_rate"):
            assert row[k] == pytest.approx(single[k], rel=1e-9), k
    with pytest.raises(BadInput, match="threshold 2 is out of range"):
        run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.5, 2.0], sl_stops=[None], tp_stops=[None])


def test_compare_puts_runs_side_by_side(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=0.8)
    a = run_backtest(sample_ws, load_model_source(sample_ws, mid), BacktestParams())
    b = run_backtest(sample_ws, rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", period_of=mid),
                     BacktestParams())
    assert b["period"] == a["period"]  # the baseline on the model's out-of-sample period
    c = compare(sample_ws, [a["backtest_id"], b["backtest_id"]])
    assert list(c["table"].columns) == [a["backtest_id"], b["backtest_id"]]
    assert c["table"].loc["sharpe", a["backtest_id"]] == pytest.approx(a["metrics"]["sharpe"])
    for bid, curve in c["curves"].items():
        assert curve.iloc[-1] == pytest.approx(1 + load_backtest(sample_ws, bid).manifest.metrics["total_return"])
    assert c["notes"] == []
    s = run_sweep(sample_ws, load_model_source(sample_ws, mid), BacktestParams(), thresholds=[0.5], sl_stops=[None],
                  tp_stops=[None])
    with pytest.raises(BadInput, match="is a sweep"):
        compare(sample_ws, [a["backtest_id"], s["backtest_id"]])
