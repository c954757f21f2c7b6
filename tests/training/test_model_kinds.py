"""The model-kind registry (engine/model_kinds.py): a TOY kind registered from this file - one small
module's worth of code (a linear torch model + a Task) and one ``register`` call - is trained by the
normal ``train`` command, listed and offered on the Training page, and backtested on its predictions,
with no other file of KlineLab touched. Plus the registry's own refusals and views."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from config.errors import BadInput
from engine import model_kinds
from engine.training.tasks import DirectionTask
from storage.artifacts import read_manifest
from tests.conftest import error_line, main_json

ROOT = Path(__file__).resolve().parents[2]
TRAINING_PAGE = str(ROOT / "pages" / "training.py")
BACKTEST_PAGE = str(ROOT / "pages" / "backtest.py")
TINY = """
data: {context_window: 16, last_bars: 1500, horizons: [1h, 4h]}
training: {epochs: 2, batch_size: 64, lr: 0.01, num_threads: 1, max_batches_per_epoch: 4, device: cpu, seed: 3,
           early_stopping_patience: 0}
"""


# -- the toy kind: "one module" ------------------------------------------------------------------
class ToyLinear(nn.Module):
    """DOWN / FLAT / UP logits per horizon from the window's last bar, one linear layer."""

    def __init__(self, *, n_features: int, n_horizons: int):
        super().__init__()
        self.kwargs = {"n_features": n_features, "n_horizons": n_horizons}  # rebuilds it from a checkpoint
        self.n_horizons = n_horizons
        self.lin = nn.Linear(n_features, 3 * n_horizons)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C) -> (B, horizons, 3)
        return self.lin(x[:, -1]).view(-1, self.n_horizons, 3)


class ToyTask(DirectionTask):
    """Learns what DirectionPredictor learns (direction_<h>, trading-aware loss); only the model differs."""

    kind = "toy"

    def model_kwargs(self):
        return {"n_features": len(self.data.feature_names), "n_horizons": len(self.horizons)}


TOY = model_kinds.ModelKind(
    "toy", "Toy linear", "a linear layer on the last bar (test kind)", "direction_<h> per horizon",
    task_class=ToyTask, model_class=ToyLinear, prediction_columns=("p_down_<h>", "p_flat_<h>", "p_up_<h>"),
    signals="direction")


@pytest.fixture
def toy():
    model_kinds.register(TOY)  # "one registration"
    try:
        yield TOY
    finally:
        model_kinds.unregister("toy")


def _page(path: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_toy_kind_is_trained_listed_and_backtested(toy, feature_ws, ws, tmp_path, capsys):
    fid = feature_ws
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    # trained by the one `train` path (CLI -> run.prepare -> Task -> Trainer -> model artifact)
    res = main_json(capsys, "--quiet", "train", "toy", "--config", str(cfg), "--featureset", fid, "--name", "toy run")
    mid = res["model_id"]
    assert res["model"] == "toy" and mid.startswith("model-toy-")
    m = read_manifest(ws, mid, "model")
    assert m.params["model"] == "toy" and m.parents == [fid]
    assert m.extra["horizons"] == ["1h", "4h"]
    assert {t["name"] for t in m.extra["targets"]} == {"direction_1h", "direction_4h"}
    assert m.metrics["test"]["trades"] >= 0 and "accuracy" in m.metrics["test"]
    preds = pd.read_parquet(ws.artifact_dir("model", mid) / "predictions.parquet")
    assert {"p_down_1h", "p_flat_1h", "p_up_1h", "p_up_4h"} <= set(preds.columns) and len(preds) > 0
    # the checkpoint rebuilds the toy model through the registry
    from engine.training.models import build_model

    best = torch.load(ws.artifact_dir("model", mid) / "checkpoints" / "best.pt", weights_only=True)
    assert best["kind"] == "toy"
    model = build_model(best["kind"], best["model_kwargs"])
    assert isinstance(model, ToyLinear)
    model.load_state_dict(best["model"])

    # listed by `train list` and offered / listed on the Training page
    listed = main_json(capsys, "--quiet", "train", "list")["runs"]
    assert [(r["id"], r["model"], r["status"]) for r in listed] == [(mid, "toy", "finished")]
    at = _page(TRAINING_PAGE)
    radio = at.radio[0]
    assert radio.label == "Model" and radio.options == ["DirectionPredictor", "UnifiedPatchTST", "Toy linear"]
    runs = at.dataframe[0].value
    assert list(runs["id"]) == [mid] and list(runs["model"]) == ["toy"]

    # backtested on its out-of-sample predictions by `backtest`, read as direction probabilities
    bt = main_json(capsys, "--quiet", "backtest", mid, "--horizon", "4h", "--threshold", "0.34")
    b = read_manifest(ws, bt["backtest_id"], "backtest")
    assert b.params["source"]["kind"] == "toy" and b.params["source"]["id"] == mid and b.params["horizon"] == "4h"
    assert mid in b.parents and b.metrics["bars"] > 0
    assert b.extra["oos"]["verified"] is True
    # and the Backtest page offers it with the direction reader's threshold and horizon choice
    at = _page(BACKTEST_PAGE)
    # (pickers show artifact names, ids under them: pages/artifact_widgets.by_name)
    picker = at.multiselect(key="run-models")
    assert picker.value == [mid] and read_manifest(ws, mid, "model").name in picker.options
    assert at.slider(key="run-thr").value == 0.5 and at.selectbox(key="run-h") is not None


def test_a_toy_kind_unregistered_is_refused(toy, feature_ws, ws, tmp_path, capsys):
    from engine.cli import main
    from engine.training.config import loads

    assert "toy" in model_kinds.TRAINABLE and loads("").check_for("toy")
    model_kinds.unregister("toy")
    assert "toy" not in model_kinds.TRAINABLE
    with pytest.raises(BadInput, match="unknown model 'toy'"):
        loads("").check_for("toy")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    capsys.readouterr()
    assert main(["train", "toy", "--config", str(cfg), "--featureset", feature_ws]) == 2
    assert "toy" in error_line(capsys.readouterr().err)
    assert not (ws.root / "training").exists() or not any((ws.root / "training").iterdir())  # no run folder


def test_registry_views_and_refusals():
    assert model_kinds.names(trainable=True) == ["direction", "patchtst"]
    assert model_kinds.names() == ["direction", "patchtst", "stage1", "stage2"]
    assert model_kinds.backtest_artifact_kinds() == ["model", "stage2"]
    assert model_kinds.kind_of("model", {"model": "patchtst"}).signals == "return"
    assert model_kinds.kind_of("stage2", {}).name == "stage2" and model_kinds.kind_of("stage1", {}).signals is None
    assert model_kinds.kind_of("model", {"model": "stage2"}) is None  # a stage kind never hides in a model artifact
    assert model_kinds.kind_of("ohlcv", {}) is None
    with pytest.raises(BadInput, match="unknown model kind 'nope'"):
        model_kinds.get("nope")
    with pytest.raises(BadInput, match="already registered"):
        model_kinds.register(model_kinds.get("direction"))
    with pytest.raises(BadInput, match="unknown signals"):
        model_kinds.register(model_kinds.ModelKind("odd", "Odd", "", "", signals="tea leaves"))
    with pytest.raises(BadInput, match="unknown train option"):
        model_kinds.register(model_kinds.ModelKind("odd", "Odd", "", "", cli_options=("--horizon",)))
    with pytest.raises(BadInput, match="lower-case"):
        model_kinds.register(model_kinds.ModelKind("Bad Name", "Bad", "", ""))
    with pytest.raises(BadInput, match="not trained by `train`"):
        model_kinds.get("stage2").load_task()
    from engine.training.config import loads
    from engine.training.models import DirectionPredictor

    cfg = loads("model: {direction: {hidden: 24}}")
    assert model_kinds.config_section(cfg, "direction").hidden == 24
    assert model_kinds.config_section(cfg, "patchtst") is cfg.model.patchtst
    assert model_kinds.config_section(cfg, "stage2") is None
    assert model_kinds.get("direction").load_model() is DirectionPredictor
    assert model_kinds.get("stage2").command == ("stage2", "train")


def test_train_cli_has_one_command_per_trainable_kind(capsys):
    from engine.cli import main

    for kind in ("stage1", "stage2"):  # trained by their own commands, not by `train`
        assert main(["train", kind, "--config", "test"]) == 2
        assert "invalid choice" in capsys.readouterr().err
