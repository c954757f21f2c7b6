"""The chart controls and charts of issue 15 item 4 as the pages wire them (AppTest): TensorBoard's
smoothing and log scale on the Training page's curves, Stage 1's training curves on the Stage 2 page,
the funding-rate chart and the thinned ZigZag labels on the Features page."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from engine.plots.features import MAX_PIVOT_LABELS
from tests.app.test_training_page import runs_template, runs_ws  # noqa: F401 - fixtures
from tests.stage2.conftest import stage1_template, stage1_ws  # noqa: F401 - fixtures

PAGES = Path(__file__).resolve().parents[2] / "pages"


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _title(spec: dict) -> str:
    return (spec["layout"].get("title") or {}).get("text") or ""


def test_training_curves_smoothing_and_log_scale_controls(runs_ws):
    _fid, done, _stopped = runs_ws
    at = _run(AppTest.from_file(str(PAGES / "training.py"), default_timeout=60))
    at.selectbox(key="training.run").set_value(done)
    _run(at)
    key = f"run-{done}"
    loss = next(s for s in _specs(at) if _title(s) == "Loss")
    assert loss["layout"]["yaxis"].get("type") != "log" and not any("(raw)" in t["name"] for t in loss["data"])
    at.slider(key=f"{key}-smoothing").set_value(0.8)
    at.toggle(key=f"{key}-log").set_value(True)
    _run(at)
    loss = next(s for s in _specs(at) if _title(s) == "Loss")
    assert loss["layout"]["yaxis"]["type"] == "log"
    names = [t["name"] for t in loss["data"]]
    assert "train (raw)" in names and "train" in names  # the raw curve faint under the smoothed one
    metrics = next(s for s in _specs(at) if _title(s) == "Validation metrics")
    assert metrics["layout"]["yaxis"]["type"] == "log" and metrics["layout"]["meta"]["smoothing"] == 0.8


def test_stage1_training_curves_on_the_stage2_page(stage1_ws, ws):
    _fsid, s1 = stage1_ws
    hist = pd.read_csv(ws.artifact_dir("stage1", s1["stage1_id"]) / "history.csv")
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(hist.columns) and len(hist) == s1["epochs_run"]
    at = _run(AppTest.from_file(str(PAGES / "stage2.py"), default_timeout=60))
    spec = next(s for s in _specs(at) if _title(s) == "Stage 1 training")
    assert [t["name"] for t in spec["data"]] == ["train", "validation", "train", "validation"]
    assert spec["layout"]["xaxis"]["tickformat"] == "d" and spec["layout"]["xaxis"]["dtick"] == 1
    assert any(a.get("text", "").startswith("best epoch") for a in spec["layout"]["annotations"])
    rate = next(s for s in _specs(at) if _title(s) == "Stage 1 pass rate")
    assert rate["layout"]["yaxis"]["type"] == "log" and rate["layout"]["yaxis"]["range"][1] == 2.0  # stops at 100 %


def test_funding_chart_and_thinned_zigzag_labels_on_the_features_page(feature_ws):
    at = _run(AppTest.from_file(str(PAGES / "features.py"), default_timeout=60))
    assert at.selectbox(key="features.funding_symbol").value == "BTCUSDT-PERP"
    fund = next(s for s in _specs(at) if _title(s) == "BTCUSDT-PERP funding rate")
    assert fund["layout"]["meta"]["events"] > 100 and [t["name"] for t in fund["data"]] == ["longs pay", "shorts pay",
                                                                                          "cumulative"]
    assert any("funding events every 8 h" in c.value for c in at.caption)
    at.slider(key="features.days").set_value(90)
    _run(at)
    chart = next(s for s in _specs(at) if "with ZigZag pivots" in _title(s))
    pivots = [t for t in chart["data"] if t.get("mode") == "markers+text"]
    labelled = sum(bool(x) for t in pivots for x in t["text"])
    meta = chart["layout"]["meta"]
    assert meta["pivots"] > MAX_PIVOT_LABELS and labelled == meta["labelled"] == MAX_PIVOT_LABELS
    assert any(f"pivot labels on the {MAX_PIVOT_LABELS} largest swings of {meta['pivots']}" in c.value for c in at.caption)
