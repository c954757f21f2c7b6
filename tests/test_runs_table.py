"""Runs tables (engine/runs_table.py): real backtests of the sample, and training / Stage 2
artifacts written through create_artifact with the manifest keys their producers write
(docs/CONTRACTS.md), listed with parameter and metric columns and CIs; the parameter diff shows
only what differs; the figures build."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from config.errors import BadInput
from engine import runs_table as rt
from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest
from engine.plots.runs import ci_figure, cv_figure, parallel_figure
from storage.artifacts import create_artifact

START, END = "2026-01-01", "2026-02-28 23:45"


def _training(ws, name: str, lr: float, epochs: int, pf: float) -> str:
    split = {"accuracy": 0.55, "profit_factor": pf, "win_rate": 0.52, "trades": 240,
             "sample": {"trades": 240, "predictions": 900},
             "uncertainty": {"profit_factor": [pf - 0.2, pf + 0.3], "win_rate": [0.45, 0.6], "accuracy": [0.5, 0.6]}}
    with create_artifact(ws, "model", name=name, symbols=["BTCUSDT"], timeframe="15m",
                         params={"model": "direction", "config": "test", "featureset": "features-x", "seed": 0,
                                 "split_mode": "single", "targets": ["a", "b"], "n_inputs": 40},
                         parents=["ohlcv-BTCUSDT-15m"]) as d:
        d.path("config.yaml").write_text(yaml.safe_dump({"training": {"lr": lr, "epochs": epochs, "batch_size": 64},
                                                         "model": {"d_model": 32}}))
        pd.DataFrame({"epoch": range(1, epochs + 1), "train_loss": np.linspace(1, 0.5, epochs),
                      "val_loss": np.linspace(1.1, 0.7, epochs)}).to_csv(d.path("metrics.csv"), index=False)
        d.manifest.metrics = {"best_epoch": epochs, "epochs_run": epochs, "val_loss": 0.7, "test_loss": 0.72,
                              "val": split, "test": split, "warnings": ["fewer than 30 days"]}
        return d.id


def _stage2(ws, threshold: float) -> str:
    with create_artifact(ws, "stage2", name="stage2 BTCUSDT 15m", symbols=["BTCUSDT"], timeframe="15m",
                         params={"threshold": threshold, "cv_folds": 3, "learning_rate": 0.05, "stage1_id": "stage1-x",
                                 "lightgbm": {"num_leaves": 31, "verbose": -1}}, parents=["ohlcv-BTCUSDT-15m"]) as d:
        pd.DataFrame({"fold": [1, 2, 3], "accuracy": [0.4, 0.5, 0.45], "f1_macro": [0.3, 0.4, 0.35]}).to_csv(
            d.path("cv.csv"), index=False)
        d.manifest.metrics = {"test_accuracy_signals": 0.31, "test_signals": 120, "test_pivots": 40,
                              "cv": {"accuracy_mean": 0.45, "accuracy_std": 0.04}, "test_best_baseline": 0.28}
        d.manifest.extra = {"evidence": {"test": {"signals": 120, "pivots": 40, "accuracy_signals": 0.31,
                                                  "uncertainty": {"accuracy_signals": [0.25, 0.38]}}}}
        return d.id


def test_training_table_has_parameter_and_metric_columns_with_cis(ws):
    a = _training(ws, "small lr", 0.001, 3, 1.2)
    b = _training(ws, "big lr", 0.01, 5, 0.9)
    t = rt.training_runs(ws)
    assert sorted(t.frame["id"]) == sorted([a, b])
    assert t.frame["created_at"].is_monotonic_decreasing  # newest first
    assert {"p.config.training.lr", "p.config.training.epochs", "p.model", "p.targets"} <= set(t.params)
    assert t.varying_params() == ["p.config.training.epochs", "p.config.training.lr"]
    assert t.cis["val_profit_factor"] == ("val_profit_factor_lo", "val_profit_factor_hi")
    row = t.frame.set_index("id").loc[a]
    assert row["val_profit_factor"] == 1.2 and row["val_profit_factor_lo"] == pytest.approx(1.0)
    assert row["val_n_trades"] == 240 and t.samples["val_profit_factor"] == "val_n_trades"
    assert "val_pnl_per_trade_lo" not in t.frame  # no CI anywhere: no empty bound columns
    assert list(rt.filter_runs(t.frame, "SMALL")["id"]) == [a] and len(rt.filter_runs(t.frame, " ")) == 2
    assert rt.filter_runs(t.frame, "small 0.01").empty and list(rt.filter_runs(t.frame, "lr 0.01")["id"]) == [b]
    diff = rt.param_diff(t, [a, b])
    assert list(diff.index) == ["config.training.epochs", "config.training.lr"]  # only what differs
    assert list(diff.columns) == ["small lr", "big lr"] and diff.loc["config.training.lr", "small lr"] == "0.001"
    shown = rt.metrics_with_ci(t, [a, b]).set_index("id")
    assert shown.loc[a, "val profit factor"] == "1.2 [1, 1.5] (n=240)"
    assert shown.loc[a, "val win rate"] == "52.00% [45.00%, 60.00%] (n=240)"
    curves = rt.curves(ws, "training", [a, b])
    assert len(curves[b]) == 5 and "val_loss" in curves[b]
    fig = parallel_figure(t, color="val_profit_factor")
    labels = [d.label for d in fig.data[0].dimensions]
    assert labels[:2] == ["config.training.epochs", "config.training.lr"] and "val profit factor" in labels
    ci = ci_figure(t, [a, b], "val_profit_factor")
    assert list(ci.data[0].y) == [1.2, 0.9] and ci.data[0].error_y.array[0] == pytest.approx(0.3)


def test_same_names_get_distinct_columns_and_identical_runs_have_no_diff(ws):
    a = _training(ws, "run", 0.001, 3, 1.2)
    b = _training(ws, "run", 0.001, 3, 1.1)
    t = rt.training_runs(ws)
    diff = rt.param_diff(t, [a, b])
    assert diff.empty and len(set(rt.unique_labels(["run", "run"], [a, b]))) == 2
    shown = rt.metrics_with_ci(t, [a, b])  # the page transposes it: the names become unique columns
    assert shown["name"].is_unique and shown.set_index("name").T.columns.is_unique
    with pytest.raises(BadInput):
        rt.param_diff(t, [a])


def test_stage2_table_and_cv_curves(ws):
    a, b = _stage2(ws, 0.4), _stage2(ws, 0.6)
    t = rt.stage2_runs(ws)
    assert t.varying_params() == ["p.threshold"]
    assert "p.lightgbm.num_leaves" in t.params
    row = t.frame.set_index("id").loc[a]
    assert row["test_accuracy_signals"] == 0.31 and row["test_accuracy_signals_lo"] == 0.25
    assert t.samples["test_accuracy_signals"] == "test_signals" and row["test_signals"] == 120
    assert list(rt.param_diff(t, [a, b]).index) == ["threshold"]
    fig = cv_figure(rt.curves(ws, "stage2", [a, b]))
    assert len(fig.data) == 2 and list(fig.data[0].y) == [0.4, 0.5, 0.45]


def test_backtest_table_from_real_runs(sample_ws):
    src = rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", fast=12, slow=40)
    a = run_backtest(sample_ws, src, BacktestParams(start=START, end=END))["backtest_id"]
    b = run_backtest(sample_ws, src, BacktestParams(start=START, end=END, sl_stop=0.02))
    t = rt.backtest_runs(sample_ws)
    assert sorted(t.frame["id"]) == sorted([b["backtest_id"], a]) and t.frame["created_at"].is_monotonic_decreasing
    assert t.varying_params() == ["p.sl_stop"]
    row = t.frame.set_index("id").loc[b["backtest_id"]]
    assert b["metrics"]["sharpe"] is None and np.isnan(row["sharpe"])  # < 90 days: not headlined, never made up
    assert row["max_drawdown"] == pytest.approx(b["metrics"]["max_drawdown"])
    assert row["total_return"] == pytest.approx(b["metrics"]["total_return"])
    lo, hi = b["uncertainty"]["total_return"]
    assert (row["total_return_lo"], row["total_return_hi"]) == pytest.approx((lo, hi))
    assert row["n_closed_trades"] == b["sample"]["closed_trades"]
    diff = rt.param_diff(t, [a, b["backtest_id"]])
    assert list(diff.index) == ["sl_stop"] and list(diff.iloc[0]) == ["-", "0.02"]
    curves = rt.curves(sample_ws, "backtest", [a, b["backtest_id"]])
    assert curves[a].iloc[0] == pytest.approx(1.0, abs=0.01)
    with pytest.raises(BadInput):
        rt.runs_table(sample_ws, "nope")
    assert rt.runs_table(sample_ws, "training").frame.empty


def test_flatten_and_ci_text():
    assert rt.flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": 1, "a.c": "1, 2", "d": None}
    assert rt.ci_text(0.123, 0.1, 0.15, pct=True) == "12.30% [10.00%, 15.00%]"
    assert rt.ci_text(None) == "-" and rt.ci_text(1.5) == "1.5"


def test_input_ids_show_the_inputs_names_and_equal_names_stay_apart(ws):
    def featureset(name: str) -> str:
        with create_artifact(ws, "features", name=name, symbols=["BTCUSDT"], timeframe="15m", params={}) as d:
            return d.id

    def run(fid: str) -> str:
        with create_artifact(ws, "model", name=f"on {fid}", symbols=["BTCUSDT"], timeframe="15m",
                             params={"model": "direction", "featureset_id": fid}, parents=[fid]) as d:
            return d.id

    first, second, third = featureset("two coins"), featureset("two coins"), featureset("BTC only")
    ra, rb, rc = run(first), run(second), run(third)
    t = rt.training_runs(ws)
    shown = t.frame.set_index("id")["p.featureset_id"]
    assert shown[rc] == "BTC only"  # the name, not the id
    assert shown[ra] == f"two coins · {first[-6:]}" and shown[rb] == f"two coins · {second[-6:]}"  # one name, two sets
    assert t.labels["p.featureset_id"] == "featureset (name)"
    assert list(rt.param_diff(t, [ra, rb]).index) == ["featureset_id"]  # the diff still sees them differ
