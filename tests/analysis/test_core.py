"""The whole analysis on plain tables: train-only, and bad requests refused with a clear message."""
import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.analysis.core import AnalysisInput, run_analysis
from engine.analysis.options import AnalysisOptions
from tests.analysis.helpers import direction_input, future_return, real_features, split_labels

TRAIN_ONLY = ("statistics", "importance", "outliers", "by_class", "pairs")


def test_statistics_do_not_move_when_validation_and_test_rows_change():
    inp = direction_input(rows=8000)
    a = run_analysis(inp)
    outside = inp.split != "train"
    rng = np.random.default_rng(0)
    feats = inp.features.copy()
    feats.loc[outside, :] = rng.normal(50, 30, (int(outside.sum()), feats.shape[1]))  # scramble val + test
    target = inp.target.copy()
    target[outside] = rng.integers(0, 3, int(outside.sum()))
    b = run_analysis(AnalysisInput(feats, target, inp.split, inp.target_name, inp.target_type, inp.class_names))
    for part in TRAIN_ONLY:
        pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part), obj=part)
    np.testing.assert_array_equal(a.corr, b.corr)
    assert a.exclusions.reasons == b.exclusions.reasons and a.exclusions.included == b.exclusions.included
    assert a.class_counts == b.class_counts
    # ... while the drift, which compares with those rows, does move
    assert not np.allclose(a.drift["psi_test"], b.drift["psi_test"])
    assert b.drift["drifted"].all()


def test_train_rows_do_move_the_statistics():
    inp = direction_input(rows=8000)
    a = run_analysis(inp)
    feats = inp.features.copy()
    feats.loc[inp.split == "train", "rsi_14"] += 1.0
    b = run_analysis(AnalysisInput(feats, inp.target, inp.split, inp.target_name, inp.target_type, inp.class_names))
    sa, sb = a.statistics.set_index("feature"), b.statistics.set_index("feature")
    assert sb.loc["rsi_14", "mean"] == pytest.approx(sa.loc["rsi_14", "mean"] + 1.0)


def test_summary_counts_and_regression_target():
    feats = real_features(rows=6000)
    y = future_return(rows=6000)
    r = run_analysis(AnalysisInput(feats, y, split_labels(6000), "future_return_4h", "regression"),
                     AnalysisOptions(low_importance_pct=0))
    s = r.summary()
    assert s["n_features"] == 7 and s["n_included"] + s["n_excluded"] == 7
    assert s["train_rows"] == 4200 and s["val_rows"] + s["test_rows"] == 6000 - 4200 - 32
    assert len(r.class_names) == 3 and set(r.by_class["class"]) == {0, 1, 2}
    assert r.mi_rows == min(AnalysisOptions().mi_max_rows, int(np.isfinite(y[:4200]).sum()))


@pytest.mark.parametrize("change,match", [
    (lambda i: setattr(i, "target", np.where(i.target == 2, 1, i.target)), r"class 2 \(UP\) has 0"),
    (lambda i: setattr(i, "target", np.where(i.target == 2, 7, i.target)), "does not declare"),
    (lambda i: setattr(i, "target", i.target + 0.5), "non-integer"),
    (lambda i: setattr(i, "split", np.where(np.arange(len(i.split)) < 30, "train", "test")), "only 30 train rows"),
    (lambda i: setattr(i, "features", i.features.assign(rsi_14=i.features["rsi_14"].astype(str))), "not numeric"),
    (lambda i: setattr(i, "target_type", "ordinal"), "unknown target type"),
])
def test_bad_requests_are_refused(change, match):
    inp = direction_input(rows=3000)
    change(inp)
    with pytest.raises(BadInput, match=match):
        run_analysis(inp)


def test_a_class_with_too_few_rows_names_it():
    inp = direction_input(rows=3000)
    up = np.flatnonzero((inp.target == 2) & (inp.split == "train"))
    inp.target[up[5:]] = 1
    with pytest.raises(BadInput, match=r"class 2 \(UP\) has 5; at least 20"):
        run_analysis(inp)
    run_analysis(inp, AnalysisOptions(min_class_rows=5))  # allowed when the user lowers the bar


@pytest.mark.parametrize("kw", [{"corr_threshold": 1.5}, {"mi_max_rows": 5}, {"missing_threshold_pct": 120},
                                {"low_importance_pct": -1}, {"ks_threshold": 0}])
def test_bad_options(kw):
    with pytest.raises(BadInput):
        AnalysisOptions(**kw)
