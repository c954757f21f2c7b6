"""Stage 1 import from the Hub layout ``v1_model/{SYMBOL}/{tf}/`` through the real
huggingface_hub client against the Hub-compatible test server (``hub_server``)."""
import json

import numpy as np
import pytest

from config.errors import NotFound
from engine.stage2.stage1_io import import_stage1, load_stage1
from tests.conftest import snapshot
from tests.stage2.helpers import FEATURES, seed_model

REPO = "klinelab/v2-crypto-ohlcv-data"


@pytest.fixture
def seed_repo(hub_server, tmp_path):
    folder = seed_model(tmp_path / "m", classes=5)
    hub_server.seed(REPO, {"v1_model/BTCUSDT/15m/classification.h5": folder / "classification.h5",
                           "v1_model/BTCUSDT/15m/params.json": folder / "params.json"}, message="stage1 models")
    return folder


def test_seed_model_imported_from_the_hub(ws, hub_server, seed_repo):
    res = import_stage1(ws, REPO, "BTCUSDT", "15m", feature_names=FEATURES)
    assert res["source"] == "hub" and res["origin"] == f"huggingface:{REPO}" and res["path"].endswith(res["stage1_id"])
    d = ws.artifact_dir("stage1", res["stage1_id"]) / "v1_model/BTCUSDT/15m"
    assert (d / "classification.h5").read_bytes() == (seed_repo / "classification.h5").read_bytes()
    assert json.loads((ws.artifact_dir("stage1", res["stage1_id"]) / "source_params.json").read_text()) == \
        json.loads((seed_repo / "params.json").read_text())
    model, man = load_stage1(ws, res["stage1_id"])
    assert man.origin == f"huggingface:{REPO}" and man.params["repo_id"] == REPO and man.params["repo_path"] == "v1_model/BTCUSDT/15m"
    assert model.spec.class_names == ["none", "HH", "LH", "HL", "LL"]
    assert any("/resolve/" in r[1] and "classification.h5" in r[1] for r in hub_server.requests("GET"))
    p = model.predict_proba(np.random.default_rng(0).normal(size=(20, 6)))
    assert np.isfinite(p[15:]).all()


def test_hub_errors_write_nothing(ws, hub_server, seed_repo):
    before = snapshot(ws.root)
    with pytest.raises(NotFound, match="repository not found"):
        import_stage1(ws, "nobody/no-such-repo", "BTCUSDT", "15m", feature_names=FEATURES)
    with pytest.raises(NotFound, match="ETHUSDT/15m/classification.h5: file not found"):
        import_stage1(ws, REPO, "ETHUSDT", "15m", feature_names=FEATURES)
    assert snapshot(ws.root) == before
