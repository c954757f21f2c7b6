"""AppTest of the runs explorer (pages/runs_widgets.py) on the Training and Stage 2 pages: three
runs listed with the parameters that differ, the comparison's diff holds only those, the curves
overlay and the parallel-coordinates view render; the filter narrows the table."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from engine.stage2.pipeline import train_stage2_pair
from engine.stage2.stage2 import Stage2Config
from tests.conftest import ROOT
from tests.stage2.conftest import stage1_template, stage1_ws  # noqa: F401 - fixtures
from tests.test_runs_table import _training


def _frames(at: AppTest):
    return [d.value for d in at.dataframe]


def test_training_runs_table_compare_and_parallel_coordinates(sample_ws):
    a = _training(sample_ws, "small lr", 0.001, 3, 1.2)
    b = _training(sample_ws, "big lr", 0.01, 5, 0.9)
    c = _training(sample_ws, "mid lr", 0.003, 4, 1.0)
    at = AppTest.from_file(str(ROOT / "pages" / "training.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    table = next(f for f in _frames(at) if "val_profit_factor_lo" in f.columns)
    assert sorted(table["name"]) == ["big lr", "mid lr", "small lr"]
    assert [col for col in table.columns if col.startswith("p.")] == ["p.config.training.epochs", "p.config.training.lr"]
    diff = next(f for f in _frames(at) if f.index.name == "parameter")  # the two newest compared by default
    assert list(diff.index) == ["config.training.epochs", "config.training.lr"] and list(diff.columns) == list(table["name"])[:2]
    charts = at.get("plotly_chart")
    assert any(ch.key == "runs-training-parallel" for ch in charts) and any(ch.key == "runs-training-curves" for ch in charts)
    at.text_input(key="runs-training-filter").set_value("small").run()
    table = next(f for f in _frames(at) if "val_profit_factor_lo" in f.columns)
    assert list(table["name"]) == ["small lr"]
    at.text_input(key="runs-training-filter").set_value("").run()
    at.multiselect(key="runs-training-pick").set_value([a, b]).run()
    diff = next(f for f in _frames(at) if f.index.name == "parameter")
    assert list(diff.loc["config.training.lr"]) == ["0.001", "0.01"] and c not in diff.columns
    assert not at.exception


def test_stage2_runs_table(stage1_ws, ws):
    # two real Stage 2 models of the pair, with different thresholds
    a = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(threshold=0.5, cv_folds=2))
    b = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(threshold=0.4, cv_folds=2))
    at = AppTest.from_file(str(ROOT / "pages" / "stage2.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    table = next(f for f in _frames(at) if "test_accuracy_signals_lo" in f.columns)
    assert len(table) == 2 and "p.threshold" in table.columns
    assert sorted(table["test_accuracy_signals"]) == pytest.approx(sorted(
        [a["test"]["accuracy_signals"], b["test"]["accuracy_signals"]]))
    diff = next(f for f in _frames(at) if f.index.name == "parameter")
    assert "threshold" in diff.index and "cv_folds" not in diff.index and "learning_rate" not in diff.index
    assert any(ch.key == "runs-stage2-curves" for ch in at.get("plotly_chart"))
