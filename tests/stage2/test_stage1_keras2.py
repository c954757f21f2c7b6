"""Stage 1 files as Keras 2 really wrote them (issue 13): the suite writes tf.keras-2.15-layout and
Keras-2.3-layout .h5 files with h5py (tests/fixtures/keras2_h5.py), imports each without editing
it, checks the predictions against a NumPy forward pass with the same weights, and runs Stage 2
on top; every refusal exits 2 with one `error:` line and writes nothing."""
import json

import h5py
import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.stage2.stage1 import normalize, parse_params, window_ends
from engine.stage2.stage1_io import import_stage1, inspect_stage1, load_stage1
from tests.conftest import run_cli, snapshot
from tests.fixtures.keras2_h5 import np_stage1, params_json, stage1_model, write_h5
from tests.stage2.conftest import S1_FEATURES

F6 = ["f1", "f2", "f3", "f4", "f5", "f6"]
SMALL = {"units": (16, 8), "dense": 8, "n_features": 6, "timesteps": 5}


def _windows(Xn: np.ndarray, ends: np.ndarray, L: int) -> np.ndarray:
    return np.stack([Xn[t - L + 1:t + 1] for t in ends])


@pytest.mark.parametrize("layout,rnn,output", [
    ("2.15", "LSTM", "softmax5"),   # the seed's classification.h5
    ("2.15", "LSTM", "softmax2"),
    ("2.15", "LSTM", "sigmoid"),    # the seed's detection.h5
    ("2.15", "GRU", "softmax5"),
    ("2.3", "LSTM", "softmax5"),    # standalone Keras 2.3.1: no InputLayer
    ("2.3", "GRU", "sigmoid"),      # Keras 2.3 GRU: reset_after=False
])
def test_keras2_file_is_imported_unchanged_and_predicts_like_numpy(ws, tmp_path, layout, rnn, output):
    folder = tmp_path / "v1_model" / "BTCUSDT" / "15m"
    weights = stage1_model(folder / "classification.h5", layout=layout, rnn=rnn, output=output, **SMALL)
    params_json(folder, n_features=6, classes={"softmax5": 5}.get(output, 2), form="nested", timesteps=5,
                feature_names=F6)
    before = snapshot(folder)
    res = import_stage1(ws, str(tmp_path), "BTCUSDT", "15m")
    assert snapshot(folder) == before  # the user's files are only read
    d = ws.artifact_dir("stage1", res["stage1_id"]) / "v1_model/BTCUSDT/15m"
    assert (d / "classification.h5").read_bytes() == (folder / "classification.h5").read_bytes()
    k = res["keras"]
    assert k["keras_version"] == {"2.15": "2.15.0", "2.3": "2.3.1"}[layout] and k["backend"] == "tensorflow"
    assert k["weights_checked"] == {"layers": 4, "arrays": 10, "values": sum(a.size for w in weights.values() for a in w)}
    if layout == "2.15":
        assert any("time_major=False dropped" in r for r in k["rewrites"])
        assert any("batch_input_shape -> batch_shape" in r for r in k["rewrites"])
    else:
        assert any("Sequential without an InputLayer" in r and "(None, 5, 6)" in r for r in k["rewrites"])
    assert res["output_kind"] == ("sigmoid" if output == "sigmoid" else "softmax")
    assert res["sources"]["feature_names"] == "params.json data_info.feature_names"
    assert res["sources"]["sequence_length"] == "model input shape" and res["input_shape"] == [None, 5, 6]
    assert res["class_names"] == (["none", "HH", "LH", "HL", "LL"] if output == "softmax5" else ["none", "pivot"])
    # the reloaded model predicts what a NumPy forward pass with the file's weights gives
    m, man = load_stage1(ws, res["stage1_id"])
    assert man.extra["keras"]["rewrites"] == k["rewrites"] and m.spec.output_kind == res["output_kind"]
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 6)) * m.params.std + m.params.mean
    p = m.predict_proba(X)
    ref = np_stage1(_windows(normalize(X, m.spec).astype("float64"), np.arange(4, 60), 5), weights, rnn=rnn,
                    output=output)
    if output == "sigmoid":
        ref = np.concatenate([1 - ref, ref], axis=1)  # (P(none), P(pivot))
    assert np.isnan(p[:4]).all() and np.allclose(p[4:], ref, atol=2e-5)
    assert np.allclose(1 - p[4:, 0], ref[:, 1:].sum(axis=1), atol=2e-5)  # signal = P(pivot)
    tp = res["test_prediction"]
    assert tp["shape"] == [1, len(res["class_names"])] and abs(sum(tp["value"]) - 1) < 1e-4


def _feature_stats(ws, fsid):
    from engine.stage2.data import load_pair

    pair = load_pair(ws, fsid, "BTCUSDT")
    X = pair.matrix(S1_FEATURES)
    return pair, X, np.nanmean(X, axis=0), np.nanstd(X, axis=0)


@pytest.mark.parametrize("rnn,output", [("LSTM", "softmax5"), ("LSTM", "softmax2"), ("LSTM", "sigmoid"),
                                        ("GRU", "softmax5")])
def test_stage2_runs_on_imported_keras2_models(feature_ws, ws, tmp_path, rnn, output):
    from engine.stage2.pipeline import train_stage2_pair
    from engine.stage2.stage2 import Stage2Config

    pair, X, mean, std = _feature_stats(ws, feature_ws)
    folder = tmp_path / "m"
    weights = stage1_model(folder / ("detection.h5" if output == "sigmoid" else "classification.h5"), rnn=rnn,
                           output=output, units=(16, 8), dense=8, n_features=len(S1_FEATURES), timesteps=8)
    params_json(folder, n_features=len(S1_FEATURES), classes=5, mean=mean, std=std)
    src = folder / "detection.h5" if output == "sigmoid" else folder
    s1 = import_stage1(ws, str(src), "BTCUSDT", "15m", feature_names=S1_FEATURES)
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(pass_rate=0.3), stage1_id=s1["stage1_id"],
                            featureset_id=feature_ws)
    assert out["counts"]["samples"] >= 30 and 0 <= out["metrics"]["accuracy"] <= 1
    sig = pd.read_parquet(ws.artifact_dir("stage2", out["stage2_id"]) / "signals.parquet")
    assert len(sig) == pair.n and (sig.timestamp.to_numpy() == pair.frame["timestamp"].to_numpy()).all()
    # Stage 1's signal as Stage 2 used it = the NumPy reference on the same normalised windows
    valid = window_ends(pair.ts_ns, pair.step_ns, np.isfinite(X).all(axis=1), 8)
    ends = np.flatnonzero(valid)
    Xn = ((X - mean) / (std + 1e-8)).astype("float32").astype("float64")
    ref = np_stage1(_windows(Xn, ends, 8), weights, rnn=rnn, output=output)
    expect = ref[:, 0] if output == "sigmoid" else 1 - ref[:, 0]
    assert np.allclose(sig.signal_prob.to_numpy()[ends], expect, atol=5e-5)
    assert np.isnan(sig.signal_prob.to_numpy()[~valid]).all()
    cols = ["s1_p_none", "s1_p_pivot"] if output != "softmax5" else [f"s1_p_{c}" for c in ("none", "HH", "LH", "HL", "LL")]
    assert set(cols) <= set(sig.columns)


def test_seed_keras215_file_from_the_hub_then_stage2_train(feature_ws, ws, tmp_path, hub_server):
    """The seed's exact Stage 1 (tf.keras 2.15: LSTM(128) > LSTM(64) > Dense(32) > Dense(5)) in the
    Hub layout v1_model/{SYMBOL}/{tf}/, imported with `stage1 import`, then `stage2 train`."""
    _, _X, mean, std = _feature_stats(ws, feature_ws)
    folder = tmp_path / "seed"
    stage1_model(folder / "classification.h5", n_features=len(S1_FEATURES), timesteps=10)
    params_json(folder, n_features=len(S1_FEATURES), classes=5, mean=mean, std=std)
    repo = "zongowo111/v2-crypto-ohlcv-data"
    hub_server.seed(repo, {"v1_model/BTCUSDT/15m/classification.h5": folder / "classification.h5",
                           "v1_model/BTCUSDT/15m/params.json": folder / "params.json"}, message="seed stage1")
    r = run_cli("stage1", "import", repo, "--symbol", "BTCUSDT", "--timeframe", "15m",
                "--features", ",".join(S1_FEATURES), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["origin"] == f"huggingface:{repo}" and doc["keras"]["keras_version"] == "2.15.0"
    assert doc["keras"]["output"] == "5-class softmax" and doc["input_shape"] == [None, 10, 12]
    assert doc["keras"]["weights_checked"]["layers"] == 4 and doc["sequence_length"] == 10
    r = run_cli("stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--stage1", doc["stage1_id"],
                "--featureset", feature_ws, "--pass-rate", "0.3", "--json")
    assert r.returncode == 0, r.stderr
    s2 = json.loads(r.stdout)
    assert s2["stage1_id"] == doc["stage1_id"] and s2["featureset_id"] == feature_ws
    assert set(s2["files"]) >= {"model.txt", "predictions.parquet"} and len(s2["cv"]["folds"]) == 5


# -- refusals -------------------------------------------------------------------------------------
def _lambda_model(path):
    stage1_model(path, **SMALL)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        cfg["config"]["layers"].insert(2, {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                                           "config": {"name": "lambda", "function": ["4wEAAAAAAAAA", None, None],
                                                      "function_type": "lambda", "module": "__main__"}})
        f.attrs.modify("model_config", json.dumps(cfg))


def _edit(path, fn, **kw):
    stage1_model(path, **(SMALL | kw))
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        fn(cfg["config"]["layers"])
        f.attrs.modify("model_config", json.dumps(cfg))


def _embedding(layers):
    layers[0]["config"]["batch_input_shape"] = [None, 5]
    layers.insert(1, {"class_name": "Embedding", "config": {"name": "embedding", "input_dim": 1000, "output_dim": 6}})


def _weights_only(path):
    w = stage1_model(path.with_name("full.h5"), **SMALL)
    names = {k: [f"{k}/kernel:0", f"{k}/recurrent_kernel:0", f"{k}/bias:0"][:len(v)] for k, v in w.items()}
    write_h5(path, {}, list(w), w, names, version="2.15.0", layout="2.15", include_config=False)


def _truncate(path):
    stage1_model(path, **SMALL)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


REFUSALS = {
    "lfs": (lambda p: p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:"
                                   + "0" * 64 + "\nsize 2500144\n"), "is a Git LFS pointer"),
    "weights_only": (_weights_only, "holds only weights"),
    "regression": (lambda p: stage1_model(p, layout="2.3", output="linear1", **SMALL), "is a regression model"),
    "three_classes": (lambda p: stage1_model(p, output="softmax3", **SMALL), "is a 3-class softmax classifier"),
    "lambda": (_lambda_model, "contains a Lambda layer"),
    "tokens": (lambda p: _edit(p, _embedding), "is a token model"),
    "hard_sigmoid": (lambda p: _edit(p, lambda ls: ls[1]["config"].update(recurrent_activation="hard_sigmoid")),
                     "recurrent_activation='hard_sigmoid'"),
    "time_major": (lambda p: _edit(p, lambda ls: ls[1]["config"].update(time_major=True)), "time-major LSTM"),
    "custom": (lambda p: _edit(p, lambda ls: ls.__setitem__(-1, dict(ls[-1], class_name="MyAttention"))),
               "'MyAttention'"),
    "truncated": (_truncate, "cannot be loaded as a Keras model"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_every_refusal_exits_2_with_one_error_line_and_writes_nothing(ws, tmp_path, case):
    make, msg = REFUSALS[case]
    folder = tmp_path / "m"
    folder.mkdir()
    make(folder / "classification.h5")
    params_json(folder, n_features=6)
    before = snapshot(ws.root)
    r = run_cli("stage1", "import", str(folder), "--symbol", "BTCUSDT", "--timeframe", "15m", "--features", ",".join(F6))
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and msg in err[0], r.stderr
    assert "classification.h5" in err[0] and r.stdout == "" and snapshot(ws.root) == before
    if case in ("regression", "three_classes", "tokens"):
        assert "a Stage 1 model takes windows (batch, sequence length, features)" in err[0]
    if case == "lfs":
        assert "git lfs pull" in r.stderr


def test_params_json_as_an_lfs_pointer_is_named(ws, tmp_path):
    folder = tmp_path / "m"
    stage1_model(folder / "classification.h5", **SMALL)
    (folder / "params.json").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "1" * 64
                                        + "\nsize 2048\n")
    with pytest.raises(BadInput, match="params.json is a Git LFS pointer") as e:
        import_stage1(ws, str(folder), "BTCUSDT", "15m", feature_names=F6)
    assert "git lfs pull" in e.value.hint and not ws.root.exists()


# -- stage1 inspect shows what the file is ------------------------------------------------------------
def test_inspect_shows_version_translation_shape_kind_and_a_prediction(ws, tmp_path):
    folder = tmp_path / "m"
    stage1_model(folder / "detection.h5", output="sigmoid", **SMALL)
    params_json(folder, n_features=6)
    r = run_cli("stage1", "inspect", str(folder / "detection.h5"), "--symbol", "BTCUSDT", "--timeframe", "15m")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "file: Keras 2.15.0 (tensorflow); output: one sigmoid unit (P(pivot))" in out
    assert "translation to Keras 3: 4 rewrite(s)" in out and "time_major=False dropped" in out
    assert "input shape (None, 5, 6), output shape (None, 1)" in out
    assert "test prediction (one window at the training mean): shape (1, 1)" in out
    assert "missing: the names of the 6 input features" in out and not ws.root.exists()
    info = inspect_stage1(str(folder / "detection.h5"), "BTCUSDT", "15m", feature_names=F6)
    assert info["ready"] and info["keras"]["output_kind"] == "sigmoid"
    assert info["test_prediction"]["shape"] == [1, 2] and len(info["test_prediction"]["raw"]) == 1


# -- params.json variants -----------------------------------------------------------------------------
def test_params_variants_of_the_seed_repo(tmp_path):
    nested = params_json(tmp_path / "a", n_features=20, form="nested", timesteps=10)
    p = parse_params(nested)
    assert p.sequence_length == 10 and p.found["sequence_length"] == "params.json config.timesteps"
    assert p.n_features == 20 and p.metrics["detection"]["auc"] == 0.81
    assert set(p.class_weights) == {"0", "1", "2", "3", "4"}
    from engine.stage2.stage1 import examine

    info = examine((None, 10, 20), (None, 5), p)
    assert info["sources"]["sequence_length"] == "model input shape" and not info["problems"]
    bad = examine((None, 10, 18), (None, 5), parse_params(dict(nested, mean=[0] * 18, std=[1] * 18)))
    assert any("config.features says 20 features but the model takes 18" in x for x in bad["problems"])
    clash = examine((None, 12, 20), (None, 5), p)
    assert any("sequence lengths disagree" in x for x in clash["problems"])
    fast = parse_params({"normalization": {"mean": [0.0] * 4, "std": [1e-8, 1.0, 1.0, 1.0]},
                         "optimization": {"features": 4, "timesteps": 7}, "metrics": {"clf_acc": 0.9, "det_acc": 0.8},
                         "class_weights": {"0": 1.0, "1": 9.0}})
    assert fast.sequence_length == 7 and fast.std[0] == 1e-8 and "std <= 1e-7" in fast.notes[0]
    named = parse_params({"mean": [0, 0], "std": [1, 1], "data_info": {"feature_columns": ["a", "b"]}})
    assert named.feature_names == ["a", "b"] and named.found["feature_names"] == "params.json data_info.feature_columns"
    for doc, msg in [({"mean": [0], "std": [1], "config": {"timesteps": 0}}, "config.timesteps must be a positive"),
                     ({"mean": [0], "std": [1], "class_weights": {"none": 1}}, "class_weights must map class numbers"),
                     ({"mean": [0], "std": [1], "sequence_length": 5, "config": {"timesteps": 6}}, "config.timesteps = 6")]:
        with pytest.raises(BadInput, match=msg):
            parse_params(doc)


# -- the real files other tools wrote (../shared/data/external-formats) ----------------------------------
@pytest.fixture
def ext(shared_data):
    d = shared_data / "external-formats"
    if not d.is_dir():
        pytest.skip(f"{d} is not present")
    return d


@pytest.mark.shared_data
def test_real_keras27_file_loads_with_its_weights(ext):
    from engine.stage2.keras_h5 import load_h5
    from tests.fixtures.keras2_h5 import np_lstm

    path = ext / "mediapipe-violence_action2.h5"
    before = path.read_bytes()
    h5 = load_h5(path)
    assert h5.keras_version == "2.7.0" and h5.output_desc == "5-class softmax"
    assert sum("time_major=False dropped" in r for r in h5.rewrites) == 3
    assert h5.weights_checked == {"layers": 6, "arrays": 15, "values": 205061}
    with h5py.File(path, "r") as f:
        mw = f["model_weights"]
        w = {n: [np.asarray(mw[n][x]) for x in mw[n].attrs["weight_names"]] for n in
             ("lstm_21", "lstm_22", "lstm_23", "dense_21", "dense_22", "dense_23")}
    x = np.random.default_rng(0).normal(scale=0.1, size=(3, 30, 132))
    relu = (lambda v: np.maximum(v, 0))
    h = np_lstm(x, w["lstm_21"], return_sequences=True, act=relu)
    h = np_lstm(h, w["lstm_22"], return_sequences=True, act=relu)
    h = np_lstm(h, w["lstm_23"], return_sequences=False, act=relu)
    for n in ("dense_21", "dense_22"):
        h = np.maximum(h @ w[n][0] + w[n][1], 0)
    z = h @ w["dense_23"][0] + w["dense_23"][1]
    ref = np.exp(z - z.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    got = np.asarray(h5.model.predict_on_batch(x.astype("float32")))
    assert np.allclose(got, ref, atol=1e-4)
    assert path.read_bytes() == before


@pytest.mark.shared_data
def test_real_keras231_file_builds_then_is_refused_as_regression(ext, ws, tmp_path):
    from engine.stage2.keras_h5 import _build, load_weights, read_header, translate

    path = ext / "andrreww_BTCUSDT.h5"
    head = read_header(path)
    cfg, rewrites, fixes = translate(head["model_config"], path.name, head["keras_version"])
    model = _build(cfg)  # Keras 2.3.1 without an InputLayer: no "expected ndim=3, found ndim=4"
    assert tuple(model.inputs[0].shape) == (None, 22, 7)
    assert any("moved into an InputLayer" in r for r in rewrites) and any("lstm_2: batch_input_shape dropped" in r
                                                                         for r in rewrites)
    checked = load_weights(model, path, fixes)
    assert checked["layers"] == 4 and checked["arrays"] == 10
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "classification.h5").write_bytes(path.read_bytes())
    params_json(folder, n_features=7)
    with pytest.raises(BadInput, match=r"Keras 2\.3\.1\) is a regression model \(last layer Dense\(1, linear\)"):
        import_stage1(ws, str(folder), "BTCUSDT", "1d", feature_names=[f"x{i}" for i in range(7)])
    assert not ws.root.exists() or not any(ws.root.rglob("manifest.json"))


@pytest.mark.shared_data
@pytest.mark.parametrize("name,msg", [
    ("brenda_crypto_lstm_model.h5", r"\(Keras 3\.12\.0\) is a 3-class softmax classifier"),
    ("nebula_lstm_classifier_lfs_pointer.h5", r"is a Git LFS pointer \(130-byte text"),
    ("andrreww_BTCUSDT.h5", "is a regression model"),
])
def test_real_foreign_files_are_refused_by_the_cli(ext, ws, tmp_path, name, msg):
    import re

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / name).write_bytes((ext / name).read_bytes())
    params_json(folder, n_features=9)
    r = run_cli("stage1", "import", str(folder / name), "--symbol", "BTCUSDT", "--timeframe", "1d",
                "--features", ",".join(f"x{i}" for i in range(9)))
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and re.search(msg, err[0]), r.stderr
    assert not ws.root.exists() or not any(ws.root.rglob("manifest.json"))


# -- the Stage 2 page ----------------------------------------------------------------------------------
def test_page_shows_the_files_keras_version_translation_and_output(sample_ws, ws, tmp_path):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    folder = tmp_path / "m"
    stage1_model(folder / "detection.h5", layout="2.3", output="sigmoid", **SMALL)
    params_json(folder, n_features=6)
    import_stage1(ws, str(folder / "detection.h5"), "BTCUSDT", "15m", feature_names=F6)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "stage2.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    captions = " ".join(c.value for c in at.caption)
    assert "Output: one sigmoid unit (P(pivot)); input shape (None, 5, 6)" in captions
    assert "File written by Keras 2.3.1 (tensorflow); weights checked against the file: 4 layers, 10 arrays" in captions
    assert "Translation to Keras 3: 1 rewrite(s), in memory (the file is not edited)." in captions
    assert any(e.label == "Translation applied" for e in at.expander)
    # the page's inspect view of the same file (what the job's result holds)
    info = inspect_stage1(str(folder / "detection.h5"), "BTCUSDT", "15m", feature_names=F6)

    def view(result):
        from pages.stage2_widgets import show_inspection

        show_inspection(result)

    at = AppTest.from_function(view, args=(info,), default_timeout=30)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Input shape"] == "(None, 5, 6)" and metrics["Output"] == "one sigmoid unit (P(pivot))"
    assert "Test prediction shape (1, 2)" in " ".join(m.value for m in at.markdown)
    assert "File written by Keras 2.3.1" in " ".join(c.value for c in at.caption)


# -- CuDNN layers, Bidirectional, functional models --------------------------------------------------------
def _to_cudnn(w: list[np.ndarray], gates: int) -> list[np.ndarray]:
    """Keras -> CuDNN layout, Keras 2's own ``convert_lstm_weights`` / ``convert_gru_weights`` with
    ``from_cudnn=False`` (tf.keras saving/hdf5_format.py ``_convert_rnn_weights``)."""
    k, u, b = w
    kernels = np.hstack([x.T.reshape(x.shape, order="C") for x in np.hsplit(k, gates)])
    rec = np.hstack([x.T for x in np.hsplit(u, gates)])
    bias = np.tile(0.5 * b, 2) if gates == 4 else np.asarray(b).reshape(-1)
    return [kernels, rec, bias.astype("float32")]


def _variant(path, kind: str):
    from tests.fixtures.keras2_h5 import _wrap, dense_config, rnn_config

    rng = np.random.default_rng(5)
    bis = [None, 5, 6]
    cls = {"cudnnlstm": "LSTM", "cudnngru": "GRU"}.get(kind, "LSTM")
    gates = 3 if cls == "GRU" else 4

    def rnn_w(f_in, u):
        b = rng.normal(0, 0.1, size=(2, gates * u) if cls == "GRU" else (gates * u,))
        return [rng.normal(0, 0.4, size=(f_in, gates * u)).astype("float32"),
                rng.normal(0, 0.3, size=(u, gates * u)).astype("float32"), b.astype("float32")]

    dense = [rng.normal(0, 0.4, size=(16 if kind == "bidirectional" else 8, 5)).astype("float32"),
             rng.normal(0, 0.1, size=5).astype("float32")]
    inp = {"class_name": "InputLayer", "config": {"batch_input_shape": bis, "dtype": "float32", "sparse": False,
                                                  "ragged": False, "name": "input_1"}}
    out_cfg = dense_config("2.7", "dense", 5, "softmax")
    if kind.startswith("cudnn"):
        w = rnn_w(6, 8)
        c = {k: v for k, v in rnn_config("2.3", cls, "rnn", 8, return_sequences=False, batch_input_shape=bis).items()
             if k not in ("activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout",
                          "implementation", "unroll", "reset_after")}
        layers = [{"class_name": "CuDNNLSTM" if cls == "LSTM" else "CuDNNGRU", "config": c},
                  {"class_name": "Dense", "config": out_cfg}]
        config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}
        saved = _to_cudnn(w, gates)
        names = {"rnn": ["rnn/kernel:0", "rnn/recurrent_kernel:0", "rnn/bias:0"], "dense": ["dense/kernel:0", "dense/bias:0"]}
        write_h5(path, config, ["rnn", "dense"], {"rnn": saved, "dense": dense}, names, version="2.2.4", layout="2.3")
        return {"rnn": w, "dense": dense}, cls
    if kind == "bidirectional":
        fw, bw = rnn_w(6, 8), rnn_w(6, 8)
        inner = _wrap("2.15", "LSTM", rnn_config("2.15", "LSTM", "lstm", 8, return_sequences=False))
        layers = [_wrap("2.15", "InputLayer", inp["config"]),
                  _wrap("2.15", "Bidirectional", {"name": "bidirectional", "trainable": True, "dtype": "float32",
                                                  "layer": inner, "merge_mode": "concat"}, bis),
                  _wrap("2.15", "Dense", out_cfg, [None, 16])]
        config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
        names = {"bidirectional": [f"bidirectional/{d}_lstm/lstm_cell/{n}:0" for d in ("forward", "backward")
                                   for n in ("kernel", "recurrent_kernel", "bias")],
                 "dense": ["dense/kernel:0", "dense/bias:0"]}
        write_h5(path, config, ["bidirectional", "dense"], {"bidirectional": fw + bw, "dense": dense}, names,
                 version="2.15.0", layout="2.15")
        return {"fw": fw, "bw": bw, "dense": dense}, "bidirectional"
    # a functional model as tf.keras 2.7 wrote it (class Functional, nested-list inbound_nodes)
    w = rnn_w(6, 8)
    layers = [dict(inp, name="input_1", inbound_nodes=[]),
              {"class_name": "LSTM", "config": rnn_config("2.7", "LSTM", "lstm", 8, return_sequences=False),
               "name": "lstm", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
              {"class_name": "Dense", "config": out_cfg, "name": "dense", "inbound_nodes": [[["lstm", 0, 0, {}]]]}]
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [["dense", 0, 0]]}}
    names = {"lstm": [f"lstm/lstm_cell/{n}:0" for n in ("kernel", "recurrent_kernel", "bias")],
             "dense": ["dense/kernel:0", "dense/bias:0"]}
    write_h5(path, config, ["input_1", "lstm", "dense"], {"lstm": w, "dense": dense}, names, version="2.7.0",
             layout="2.15")
    return {"rnn": w, "dense": dense}, "LSTM"


@pytest.mark.parametrize("kind,rewrite", [("cudnnlstm", "CuDNNLSTM -> LSTM"), ("cudnngru", "CuDNNGRU -> GRU"),
                                          ("bidirectional", "inner layer 'lstm' given module keras.layers"),
                                          ("functional", "InputLayer 'input_1': batch_input_shape -> batch_shape")])
def test_cudnn_bidirectional_and_functional_files(tmp_path, kind, rewrite):
    from engine.stage2.keras_h5 import load_h5
    from tests.fixtures.keras2_h5 import np_gru, np_lstm

    path = tmp_path / "classification.h5"
    w, how = _variant(path, kind)
    h5 = load_h5(path)
    assert any(rewrite in r for r in h5.rewrites), h5.rewrites
    assert h5.output_desc == "5-class softmax" and h5.weights_checked["layers"] == 2
    x = np.random.default_rng(9).normal(size=(4, 5, 6))
    if how == "bidirectional":
        h = np.concatenate([np_lstm(x, w["fw"], return_sequences=False),
                            np_lstm(x[:, ::-1], w["bw"], return_sequences=False)], axis=1)
    else:
        h = (np_lstm if how == "LSTM" else np_gru)(x, w["rnn"], return_sequences=False)
    z = h @ w["dense"][0] + w["dense"][1]
    ref = np.exp(z - z.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    assert np.allclose(np.asarray(h5.model.predict_on_batch(x.astype("float32"))), ref, atol=2e-5)


def test_hostile_sizes_are_refused_before_anything_is_allocated(tmp_path):
    from engine.stage2.keras_h5 import load_h5

    huge = tmp_path / "huge_units.h5"
    _edit(huge, lambda ls: ls[1]["config"].update(units=10_000_000))
    with pytest.raises(BadInput, match="has units=10000000 in 'lstm': far beyond a Stage 1 model"):
        load_h5(huge)
    long = tmp_path / "long_input.h5"
    _edit(long, lambda ls: ls[0]["config"].update(batch_input_shape=[None, 10 ** 9, 6]))
    with pytest.raises(BadInput, match="far beyond a Stage 1 model"):
        load_h5(long)
    # a weight dataset whose shape disagrees with the config is refused before it is read
    bad = tmp_path / "bad_shape.h5"
    stage1_model(bad, **SMALL)
    with h5py.File(bad, "r+") as f:
        g = f["model_weights/dense_1/dense_1"]
        del g["kernel:0"]
        g.create_dataset("kernel:0", shape=(4000, 4000), dtype="float32", compression="gzip")  # compresses to ~nothing
    with pytest.raises(BadInput, match="layer 'dense_1' has weights of shapes"):
        load_h5(bad)


# -- files saved by the Keras 2 code base itself (tf_keras, the continuation of tf.keras 2.15) ---------------
@pytest.fixture(scope="module")
def k2():
    from engine.stage2.tfkeras import keras

    keras()  # Keras 3 first, as in the product
    return pytest.importorskip("tf_keras")


def _seed_arch(k2, output: str, rnn: str = "LSTM"):
    R = getattr(k2.layers, rnn)
    units, act = {"softmax5": (5, "softmax"), "softmax2": (2, "softmax"), "sigmoid": (1, "sigmoid")}[output]
    return k2.Sequential([R(16, input_shape=(5, 6), return_sequences=True), k2.layers.Dropout(0.2), R(8),
                          k2.layers.Dropout(0.2), k2.layers.Dense(8, activation="relu"), k2.layers.Dropout(0.2),
                          k2.layers.Dense(units, activation=act)])


@pytest.mark.parametrize("rnn,output", [("LSTM", "softmax5"), ("LSTM", "softmax2"), ("LSTM", "sigmoid"),
                                        ("GRU", "softmax5")])
def test_files_saved_by_keras2_itself_predict_as_keras2_does(k2, tmp_path, rnn, output):
    from engine.stage2.keras_h5 import load_h5

    k2.utils.set_random_seed(1)
    m = _seed_arch(k2, output, rnn)
    m.compile(optimizer="adam", loss="binary_crossentropy" if output == "sigmoid" else "sparse_categorical_crossentropy")
    path = tmp_path / "classification.h5"
    m.save(str(path))
    h5 = load_h5(path)
    assert h5.keras_version == k2.__version__ and any("time_major=False dropped" in r for r in h5.rewrites)
    x = np.random.default_rng(2).normal(size=(16, 5, 6)).astype("float32")
    assert np.allclose(h5.model.predict_on_batch(x), m.predict(x, verbose=0), atol=1e-6)


def test_the_fixture_writer_matches_what_keras2_writes(k2, tmp_path):
    """The h5py writer (tests/fixtures/keras2_h5.py) against a file tf_keras saved: same model_config
    (but for the layer names' numbering and initializer seeds), same attributes and their HDF5
    string types, same weight groups and weight names."""
    k2.backend.clear_session()  # layer names numbered from 0, as in a fresh Colab session
    k2.utils.set_random_seed(1)
    m = _seed_arch(k2, "softmax5")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    real, ours = tmp_path / "real.h5", tmp_path / "ours.h5"
    m.save(str(real))
    stage1_model(ours, units=(16, 8), dense=8, n_features=6, timesteps=5)

    def describe(p):
        with h5py.File(p, "r") as f:
            cfg = json.loads(f.attrs["model_config"])
            layers = [(lc["class_name"], sorted(lc)) for lc in cfg["config"]["layers"]]
            keys = [sorted(set(lc["config"]) - {"optional"}) for lc in cfg["config"]["layers"]]
            kinds = {k: h5py.check_string_dtype(f.attrs.get_id(k).dtype).encoding for k in f.attrs}
            mw = f["model_weights"]
            groups = {}

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    groups[name.split("/", 1)[1]] = obj.shape
            mw.visititems(visit)
            wn = {n: [x.decode() if isinstance(x, bytes) else x for x in mw[n].attrs["weight_names"]]
                  for n in _names_of(mw)}
            return {"top": sorted(cfg), "config": sorted(cfg["config"]), "layers": layers, "keys": keys,
                    "attr_types": kinds, "mw_attrs": sorted(mw.attrs), "groups": groups, "weight_names": wn,
                    "root": sorted(f.keys()), "training": sorted(json.loads(f.attrs["training_config"]))}

    a, b = describe(real), describe(ours)
    for key in a:
        assert a[key] == b[key], (key, a[key], b[key])


def _names_of(mw):
    return [x.decode() if isinstance(x, bytes) else x for x in mw.attrs["layer_names"]]


@pytest.mark.parametrize("arch", ["bidirectional", "functional", "batchnorm_conv"])
def test_other_keras2_architectures_saved_by_keras2_itself(k2, tmp_path, arch):
    from engine.stage2.keras_h5 import load_h5

    k2.utils.set_random_seed(3)
    L = k2.layers
    if arch == "bidirectional":
        m = k2.Sequential([L.Bidirectional(L.LSTM(8), input_shape=(5, 6)), L.Dense(2, activation="softmax")])
    elif arch == "functional":
        inp = k2.Input((5, 6))
        h = L.GRU(8, return_sequences=True)(inp)
        h = L.concatenate([L.GlobalAveragePooling1D()(h), L.LSTM(4)(h)])
        m = k2.Model(inp, L.Dense(1, activation="sigmoid")(h))
    else:
        m = k2.Sequential([L.Conv1D(8, 3, padding="causal", input_shape=(5, 6)), L.BatchNormalization(),
                           L.Activation("relu"), L.LSTM(8), L.Dense(5), L.Softmax()])
    path = tmp_path / "classification.h5"
    m.save(str(path))
    h5 = load_h5(path)
    x = np.random.default_rng(4).normal(size=(8, 5, 6)).astype("float32")
    assert np.allclose(h5.model.predict_on_batch(x), m.predict(x, verbose=0), atol=1e-5)
    assert h5.weights_checked["layers"] == len([ly for ly in m.layers if ly.weights])


def test_hard_sigmoid_is_refused_only_in_keras2_files(tmp_path):
    from engine.stage2.keras_h5 import translate

    cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 5, 6], "name": "in"}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "recurrent_activation": "hard_sigmoid"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 5, "activation": "softmax"}}]}}
    with pytest.raises(BadInput, match=r"clip\(0.2x \+ 0.5, 0, 1\) in Keras 2"):
        translate(cfg, "x.h5", "2.3.1")
    out, rewrites, _ = translate(cfg, "x.h5", "3.12.0")  # Keras 3 wrote it with Keras 3's meaning
    assert out["config"]["layers"][1]["config"]["recurrent_activation"] == "hard_sigmoid" and rewrites == []
