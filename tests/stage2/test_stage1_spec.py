"""params.json (seed form and ours), what a model's shapes tell, windows and the signal column
(no TensorFlow needed)."""
import json

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput, NotFound
from engine.stage2.filtering import pass_rate_curve, pass_rates, signal_mask, threshold_for_rate
from engine.stage2.stage1 import (
    CLASS_NAMES,
    examine,
    normalize,
    parse_params,
    read_params,
    resolve_spec,
    signal_probability,
    window_ends,
)

SEED = {"mean": [1.0, 2.0, 3.0], "std": [0.5, 1.0, 2.0], "class_weights": {"0": 1.0, "1": 9.0},
        "metrics": {"accuracy": 0.9}}


def test_seed_params_parse_and_keep_every_key():
    p = parse_params(SEED)
    assert p.mean.tolist() == [1.0, 2.0, 3.0] and p.std.tolist() == [0.5, 1.0, 2.0]
    assert p.feature_names is None and p.sequence_length is None and p.class_names is None
    assert p.raw == SEED


def test_nested_normalisation_is_read():
    p = parse_params({"normalization": {"mean": [0, 1], "scale": [1, 2]}})
    assert p.std.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("doc,msg", [
    ({"class_weights": {}}, "no normalisation mean/std"),
    ({"mean": [1, 2], "std": [1]}, "mean has 2 values but std has 1"),
    ({"mean": [1, float("nan")], "std": [1, 1]}, "NaN"),
    ({"mean": [1], "std": [-1]}, "negative"),
    ({"mean": ["a"], "std": [1]}, "not numbers"),
    ({"mean": [1], "std": [1], "sequence_length": 0}, "sequence_length"),
    ({"mean": [1, 2], "std": [1, 1], "feature_names": ["a", "a"]}, "repeats"),
    ([1, 2], "not a JSON object"),
])
def test_bad_params_are_named(doc, msg):
    with pytest.raises(BadInput, match=msg):
        parse_params(doc)


def test_read_params_errors(tmp_path):
    with pytest.raises(NotFound):
        read_params(tmp_path / "params.json")
    (tmp_path / "params.json").write_text("{not json")
    with pytest.raises(BadInput, match="not valid JSON"):
        read_params(tmp_path / "params.json")


def test_shape_tells_length_and_count_but_never_names():
    info = examine((None, 16, 3), (None, 5), parse_params(SEED))
    assert info["sequence_length"] == 16 and info["sources"]["sequence_length"] == "model input shape"
    assert info["class_names"] == CLASS_NAMES[5] and info["sources"]["class_names"] == "seed convention"
    assert info["feature_names"] is None and any("names of the 3 input features" in m for m in info["missing"])
    with pytest.raises(BadInput, match="missing: the names of the 3 input features"):
        resolve_spec((None, 16, 3), (None, 5), parse_params(SEED))
    spec = resolve_spec((None, 16, 3), (None, 5), parse_params(SEED), feature_names=["a", "b", "c"])
    assert spec.feature_names == ["a", "b", "c"] and spec.sources["feature_names"] == "user"


def test_variable_length_model_needs_the_length():
    with pytest.raises(BadInput, match="missing: the sequence length"):
        resolve_spec((None, None, 3), (None, 2), parse_params(SEED), feature_names=["a", "b", "c"])
    spec = resolve_spec((None, None, 3), (None, 2), parse_params(SEED), feature_names=["a", "b", "c"], sequence_length=24)
    assert spec.sequence_length == 24 and spec.sources["sequence_length"] == "user"


@pytest.mark.parametrize("shape_in,shape_out,kw,msg", [
    ((None, 3), (None, 2), {}, "wrong input shape"),
    ((None, 16, 3), (None, 3), {}, "wrong output shape"),
    ((None, 16, 4), (None, 2), {"feature_names": list("abcd")}, "params.json has 3 normalisation values but the model takes 4"),
    ((None, 16, 3), (None, 2), {"feature_names": ["a", "b"]}, "2 feature names"),
    ((None, 16, 3), (None, 2), {"feature_names": list("abc"), "sequence_length": 8}, "sequence lengths disagree"),
])
def test_mismatches_are_errors(shape_in, shape_out, kw, msg):
    with pytest.raises(BadInput, match=msg):
        resolve_spec(shape_in, shape_out, parse_params(SEED), **kw)


def test_our_params_and_contradicting_user_answers():
    ours = dict(SEED, feature_names=["a", "b", "c"], sequence_length=16, class_names=["none", "pivot"])
    spec = resolve_spec((None, 16, 3), (None, 2), parse_params(ours))
    assert spec.sources == {"feature_names": "params.json", "sequence_length": "model input shape", "class_names": "params.json"}
    with pytest.raises(BadInput, match="differ from those in params.json"):
        resolve_spec((None, 16, 3), (None, 2), parse_params(ours), feature_names=["c", "b", "a"])
    with pytest.raises(BadInput, match="names 2 classes but the model outputs 5"):
        resolve_spec((None, 16, 3), (None, 5), parse_params(ours))
    completed = spec.completed_params(parse_params(SEED))
    assert completed["mean"] == SEED["mean"] and completed["class_weights"] == SEED["class_weights"]
    assert completed["feature_names"] == ["a", "b", "c"] and completed["sequence_length"] == 16
    json.dumps(completed)


def test_normalisation_uses_params_and_zero_std_is_noted():
    spec = resolve_spec((None, 4, 3), (None, 2), parse_params({"mean": [1, 2, 3], "std": [2, 0, 4]}),
                        feature_names=list("abc"))
    assert spec.notes and "std 0" in spec.notes[0]
    out = normalize(np.array([[3.0, 5.0, 11.0]]), spec)
    assert out.tolist() == [[1.0, 3.0, 2.0]]
    with pytest.raises(BadInput, match="takes 3 features"):
        normalize(np.zeros((2, 2)), spec)


def test_window_ends_skip_gaps_and_missing_rows():
    step = 900 * 10**9
    ts = np.arange(12, dtype="int64") * step
    ts[7:] += step  # a one-bar gap before row 7
    ok = np.ones(12, dtype=bool)
    ok[3] = False
    got = window_ends(ts, step, ok, 3)
    # windows of 3 bars ending at t: need t>=2, rows t-2..t ok, no gap inside
    assert np.flatnonzero(got).tolist() == [2, 6, 9, 10, 11]
    assert not window_ends(ts[:2], step, ok[:2], 3).any()


@pytest.mark.parametrize("classes", [2, 5])
def test_signal_is_one_minus_the_no_pivot_column(classes):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(classes), size=50)
    sig = signal_probability(p)
    assert np.allclose(sig, 1 - p[:, 0]) and np.allclose(sig, p[:, 1:].sum(axis=1))
    assert not np.allclose(sig, p[:, 0])  # the seed read the wrong column
    if classes == 5:
        assert not np.allclose(sig, p[:, -1])


def test_pass_rates_thresholds_and_curve():
    sig = np.r_[np.nan, np.linspace(0, 1, 100)]
    split = np.array(["train"] * 61 + ["val"] * 20 + ["test"] * 20, dtype=object)
    r = pass_rates(sig, split, 0.5)
    assert r["train"]["bars"] == 61 and r["train"]["scored"] == 60
    assert r["train"]["signals"] == 10 and r["test"]["signals"] == 20 and r["test"]["pass_rate"] == 1.0
    t = threshold_for_rate(sig, 0.04)
    assert 0.95 < t < 0.97 and signal_mask(sig, t).sum() == 4
    curve = pass_rate_curve(sig, split, np.array([0.0, 0.5, 1.01]))
    tr = curve[curve.split == "train"]
    assert tr.pass_rate.tolist() == [1.0, 10 / 60, 0.0]
    with pytest.raises(BadInput):
        threshold_for_rate(sig, 0)


def test_small_pair_labels_are_0_to_3_with_confirmation(small_pair):
    p = small_pair
    assert set(np.unique(p.pivot_label)) == {-1, 0, 1, 2, 3}
    piv = p.pivot == 1
    assert (p.confirm_ns[piv] > p.ts_ns[piv]).all() and (p.confirm_ns[~piv] == -1).all()
    assert p.purge_bars >= p.max_horizon_bars and p.purge_bars >= p.confirm_lag_bars
    assert not p.labelled[-1]  # bars after the last confirmation have no known label
    assert isinstance(p.frame["timestamp"].iloc[0], pd.Timestamp)


def test_explore_threshold_counts_stage2_samples():
    from engine.stage2.filtering import explore_threshold

    frame = pd.DataFrame({"split": ["train"] * 4 + ["val"] * 2 + ["test"] * 2,
                          "signal_prob": [np.nan, 0.9, 0.2, 0.7, 0.8, 0.1, 0.6, 0.65],
                          "pivot": [0, 1, 1, 0, 1, 0, 0, 1]})
    e = explore_threshold(frame, 0.6).set_index("split")
    assert e.loc["train", "scored"] == 3 and e.loc["train", "signals"] == 2 and e.loc["train", "stage2_samples"] == 1
    assert e.loc["train", "pivots_kept"] == 0.5 and e.loc["test", "pass_rate"] == 1.0
    assert e.loc["val", "pivot_precision"] == 1.0
