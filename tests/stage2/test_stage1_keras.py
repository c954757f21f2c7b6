"""Stage 1 with real Keras models: the seed's exact form (5-class LSTM .h5 + params.json with
mean/std/class_weights/metrics only) imported and used; bad models refused with nothing written;
params.json normalisation applied at inference."""
import json
import shutil

import h5py
import numpy as np
import pytest

from config.errors import BadInput, NotFound
from engine.stage2.stage1 import Stage1Model, predict_proba, window_ends
from engine.stage2.stage1_io import import_stage1, inspect_stage1, load_stage1, locate_local, parse_names
from tests.conftest import snapshot
from tests.stage2.helpers import FEATURES, seed_model

NAMES = ",".join(FEATURES)


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory):
    return seed_model(tmp_path_factory.mktemp("seed") / "v1_model" / "BTCUSDT" / "15m")


def test_seed_form_model_is_imported_with_the_names_the_user_gives(ws, seed_dir):
    info = inspect_stage1(str(seed_dir), "BTCUSDT", "15m")
    assert not info["ready"] and info["sequence_length"] == 16 and info["n_features"] == 6 and info["n_classes"] == 5
    assert info["feature_names"] is None and "names of the 6 input features" in info["missing"][0]
    assert "Total params" in info["summary"] and ws.root.exists() is False  # inspecting writes nothing
    res = import_stage1(ws, str(seed_dir.parents[2]), "BTCUSDT", "15m", feature_names=parse_names(NAMES))
    d = ws.artifact_dir("stage1", res["stage1_id"])
    assert (d / "v1_model/BTCUSDT/15m/classification.h5").read_bytes() == (seed_dir / "classification.h5").read_bytes()
    params = json.loads((d / "v1_model/BTCUSDT/15m/params.json").read_text())
    original = json.loads((seed_dir / "params.json").read_text())
    assert {k: params[k] for k in original} == original  # the seed's keys unchanged
    assert params["feature_names"] == FEATURES and params["sequence_length"] == 16
    assert params["class_names"] == ["none", "HH", "LH", "HL", "LL"]
    assert res["sources"] == {"feature_names": "user", "sequence_length": "model input shape", "class_names": "seed convention"}
    assert res["test_prediction"]["shape"] == [1, 5] and abs(sum(res["test_prediction"]["value"]) - 1) < 1e-4
    assert res["metrics"] == {"accuracy": 0.91, "val_accuracy": 0.88, "f1": {"macro": 0.5}}
    from storage.catalog import Catalog

    row = Catalog(ws).query(kind="stage1")
    assert row.id.tolist() == [res["stage1_id"]]
    # the imported model reloads from the workspace with everything resolved, and predicts
    model, man = load_stage1(ws, res["stage1_id"])
    assert man.origin == "local" and model.spec.feature_names == FEATURES
    X = np.random.default_rng(1).normal(size=(40, 6))
    p = model.predict_proba(X)
    assert np.isnan(p[:15]).all() and np.allclose(p[15:].sum(axis=1), 1, atol=1e-5)


def test_normalisation_from_params_is_applied_at_inference(tmp_path, seed_dir):
    m = Stage1Model.load(seed_dir, feature_names=FEATURES)
    rng = np.random.default_rng(2)
    X = rng.normal(loc=50.0, scale=10.0, size=(30, 6))
    valid = window_ends(np.arange(30) * 900, 900, np.ones(30, bool), 16)
    p = predict_proba(m.model, m.spec, X, valid)
    Xn = ((X - m.params.mean) / m.params.std).astype("float32")
    expect = np.asarray(m.model.predict_on_batch(np.stack([Xn[t - 15:t + 1] for t in range(15, 30)])))
    raw = np.asarray(m.model.predict_on_batch(np.stack([X[t - 15:t + 1].astype("float32") for t in range(15, 30)])))
    assert np.allclose(p[15:], expect, atol=1e-5)
    assert not np.allclose(p[15:], raw, atol=1e-3)
    X[20, 2] = np.nan  # a missing input: no window may contain that bar
    q = m.predict_proba(X)
    assert np.isnan(q[:15]).all() and np.isnan(q[20:30]).all() and np.isfinite(q[15:20]).all()


def test_missing_answers_and_mismatches_write_nothing(ws, seed_dir, tmp_path):
    before = snapshot(ws.root)
    with pytest.raises(BadInput, match="missing: the names of the 6 input features"):
        import_stage1(ws, str(seed_dir), "BTCUSDT", "15m")
    with pytest.raises(BadInput, match="5 feature names"):
        import_stage1(ws, str(seed_dir), "BTCUSDT", "15m", feature_names=FEATURES[:5])
    with pytest.raises(BadInput, match="sequence lengths disagree"):
        import_stage1(ws, str(seed_dir), "BTCUSDT", "15m", feature_names=FEATURES, sequence_length=32)
    bad = tmp_path / "mismatch"
    shutil.copytree(seed_dir, bad)
    doc = json.loads((bad / "params.json").read_text())
    doc["mean"], doc["std"] = doc["mean"][:4], doc["std"][:4]
    (bad / "params.json").write_text(json.dumps(doc))
    with pytest.raises(BadInput, match="params.json has 4 normalisation values but the model takes 6"):
        import_stage1(ws, str(bad), "BTCUSDT", "15m", feature_names=FEATURES)
    assert snapshot(ws.root) == before


def test_corrupted_and_foreign_files_are_refused(ws, seed_dir, tmp_path):
    truncated = tmp_path / "truncated"
    shutil.copytree(seed_dir, truncated)
    data = (truncated / "classification.h5").read_bytes()
    (truncated / "classification.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(BadInput, match="cannot be loaded as a Keras model"):
        import_stage1(ws, str(truncated), "BTCUSDT", "15m", feature_names=FEATURES)
    junk = tmp_path / "junk"
    shutil.copytree(seed_dir, junk)
    (junk / "classification.h5").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(BadInput, match="not an HDF5 file"):
        import_stage1(ws, str(junk), "BTCUSDT", "15m", feature_names=FEATURES)
    empty_h5 = tmp_path / "empty"
    shutil.copytree(seed_dir, empty_h5)
    with h5py.File(empty_h5 / "classification.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(BadInput, match="cannot be loaded"):
        import_stage1(ws, str(empty_h5), "BTCUSDT", "15m", feature_names=FEATURES)
    assert not ws.artifacts_dir.exists() or not any(ws.artifacts_dir.rglob("manifest.json"))


def test_wrong_shapes_are_refused(ws, tmp_path):
    from engine.stage2.tfkeras import keras

    k = keras()
    flat = tmp_path / "flat"
    flat.mkdir()
    k.Sequential([k.Input((6,)), k.layers.Dense(2, activation="softmax")]).save(str(flat / "classification.h5"))
    (flat / "params.json").write_text(json.dumps({"mean": [0] * 6, "std": [1] * 6}))
    with pytest.raises(BadInput, match="wrong input shape"):
        import_stage1(ws, str(flat), "BTCUSDT", "15m", feature_names=FEATURES)
    three = seed_model(tmp_path / "three", classes=3)
    with pytest.raises(BadInput, match="wrong output shape"):
        import_stage1(ws, str(three), "BTCUSDT", "15m", feature_names=FEATURES)
    logits = tmp_path / "logits"
    logits.mkdir()
    k.Sequential([k.Input((4, 6)), k.layers.LSTM(4), k.layers.Dense(2)]).save(str(logits / "classification.h5"))
    (logits / "params.json").write_text(json.dumps({"mean": [0] * 6, "std": [1] * 6}))
    with pytest.raises(BadInput, match="not class probabilities"):
        import_stage1(ws, str(logits), "BTCUSDT", "15m", feature_names=FEATURES)
    assert not ws.artifacts_dir.exists() or not any(ws.artifacts_dir.rglob("manifest.json"))


def test_variable_length_seed_model_needs_the_length(ws, tmp_path):
    folder = seed_model(tmp_path / "var", seq_len=None, classes=2)
    with pytest.raises(BadInput, match="missing: the sequence length"):
        import_stage1(ws, str(folder), "ETHUSDT", "1h", feature_names=FEATURES)
    res = import_stage1(ws, str(folder), "ETHUSDT", "1h", feature_names=FEATURES, sequence_length=8)
    assert res["sequence_length"] == 8 and res["sources"]["sequence_length"] == "user"
    assert res["class_names"] == ["none", "pivot"] and res["test_prediction"]["shape"] == [1, 2]


def test_locating_local_layouts(tmp_path, seed_dir):
    root = seed_dir.parents[2]
    assert locate_local(root, "BTCUSDT", "15m") == seed_dir
    assert locate_local(root / "v1_model", "BTCUSDT", "15m") == seed_dir
    assert locate_local(seed_dir / "classification.h5", "BTCUSDT", "15m") == seed_dir
    with pytest.raises(NotFound, match="no classification.h5"):
        locate_local(root, "ETHUSDT", "15m")
    with pytest.raises(NotFound):
        locate_local(tmp_path / "nowhere", "BTCUSDT", "15m")


def test_a_seed_model_already_in_the_workspace_is_completed_by_importing_its_id(ws, seed_dir):
    """Cloud Sync downloads v1_model/ trees from the Hub as stage1 artifacts in the seed's form
    (no feature names): loading one names the problem, `stage1 import <id> --features` completes it."""
    import shutil as sh

    from storage.artifacts import create_artifact

    with create_artifact(ws, "stage1", symbols=["BTCUSDT"], timeframe="15m", origin="huggingface:someone/models",
                         params={"source": "huggingface", "path": "v1_model/BTCUSDT/15m"}) as d:
        for f in ("classification.h5", "params.json"):
            sh.copyfile(seed_dir / f, d.path(f"v1_model/BTCUSDT/15m/{f}"))
        raw_id = d.id
    with pytest.raises(BadInput, match=f"complete it once: python -m engine stage1 import {raw_id}"):
        load_stage1(ws, raw_id)
    res = import_stage1(ws, raw_id, "BTCUSDT", "15m", feature_names=FEATURES)
    model, man = load_stage1(ws, res["stage1_id"])
    assert man.parents == [raw_id] and man.origin == "huggingface:someone/models" and man.params["source"] == "artifact"
    assert model.spec.feature_names == FEATURES
