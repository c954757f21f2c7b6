"""Issue 12 item 5: the out-of-sample guard is lineage-aware.  An analysis report whose whitelist chose a
model's features has seen its train period; a backtest of the model over that period is refused (exit 2,
naming the report and its period), from the CLI and from load_model_source (which pages and sweeps share)."""
from __future__ import annotations

import pandas as pd
import pytest

from config.errors import Refused
from engine.backtest.sources import load_model_source
from storage.artifacts import create_artifact
from tests.conftest import error_line, main_json, run_cli


def test_backtest_is_refused_when_the_feature_selection_saw_the_period(feature_ws, ws, capsys):
    # the repro of the issue: analyze with a late train end, train with its whitelist, backtest the model
    rep = main_json(capsys, "--quiet", "analyze", feature_ws, "--target", "direction_1h", "--train-end", "2026-04-09",
               "--low-importance-pct", "0")
    rid = rep.get("report_id") or rep.get("id")
    trained = main_json(capsys, "--quiet", "train", "direction", "--config", "test", "--featureset", feature_ws, "--report", rid)
    model = trained["model_id"]
    # the training run already says its test figures are not out of sample
    assert any(rid in w and "not out of sample" in w for w in trained["metrics"]["test"]["warnings"])
    r = run_cli("backtest", model, "--json")
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    line = error_line(r.stderr)
    assert "in-sample backtest refused" in line and rid in line and "2026-04-09" in line, line
    # the same refusal through the shared source (pages, sweeps)
    src = load_model_source(ws, model)
    a, b = src.default_period()
    with pytest.raises(Refused, match=rid):
        src.check_period(a, b)
    from engine.backtest.params import BacktestParams
    from engine.backtest.run import run_sweep

    with pytest.raises(Refused, match=rid):  # sweeps too
        run_sweep(ws, src, BacktestParams(), thresholds=[None, 0.4], sl_stops=[None], tp_stops=[None])


def test_a_report_chosen_on_earlier_data_is_checked_and_accepted(feature_ws, ws):
    from engine.training.run import start_run

    split = {"train_start": "2025-12-10T00:00:00+00:00", "train_end": "2026-01-31T00:00:00+00:00",
             "val_start": "2026-02-02T00:00:00+00:00", "val_end": "2026-02-20T00:00:00+00:00",
             "test_start": "2026-02-22T00:00:00+00:00", "test_end": "2026-04-10T00:00:00+00:00",
             "purge_bars": 48, "timeframe": "15m"}
    with create_artifact(ws, "analysis", name="early report", parents=[feature_ws]) as d:
        d.path("included_features.txt").write_text("rsi_14\nlogret_1\nadx_14\n")
        d.manifest.extra = {"split": split}
        rid = d.id
    res = start_run(ws, "direction", "test", featureset_id=feature_ws, report_id=rid)
    src = load_model_source(ws, res["model_id"])
    a, b = src.default_period()
    src.check_period(a, b)  # after the report's train period: accepted
    assert not any(rid in w for w in res["metrics"]["warnings"])
    rec = src.oos_record()
    assert rec["verified"] is True and rid in rec["checked"]
    seen = next(s for s in rec["seen"] if s["id"] == rid)
    assert pd.Timestamp(seen["start"]) == pd.Timestamp(split["train_start"])
    assert pd.Timestamp(seen["end"]) == pd.Timestamp(split["train_end"]) + pd.Timedelta(minutes=15 * 48)
    with pytest.raises(Refused, match=f"analysis report {rid}"):  # a period reaching into it is refused
        src.check_period(pd.Timestamp("2026-01-20", tz="UTC"), b)


def test_seen_periods_of_any_ancestor_and_a_report_without_a_period(feature_ws, ws):
    from engine.training.run import start_run

    with create_artifact(ws, "analysis", name="hand-made report, no split", parents=[feature_ws]) as d:
        d.path("included_features.txt").write_text("rsi_14\nlogret_1\n")
        rid = d.id
    res = start_run(ws, "direction", "test", featureset_id=feature_ws, report_id=rid)
    src = load_model_source(ws, res["model_id"])
    rec = src.oos_record()
    assert rec["verified"] is False and any(rid in u for u in rec["unverified"])
    assert any(rid in w and "cannot be checked" in w for w in res["metrics"]["test"]["warnings"])
