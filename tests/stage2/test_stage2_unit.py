"""Stage 2 on a small real table (TA-Lib features of real candles, test ZigZag labels) with a
Stage 1 probability built from the labels: label mapping 0..3, scaler JSON, too few signals."""
import json

import numpy as np
import pytest

from config.errors import BadInput
from engine.splits import chronological_split
from engine.stage2.data import PairData
from engine.stage2.stage2 import Stage2Config, lgb_names, scaler_from_json, scaler_to_json, train_stage2


def _proba(pair, noise=0.25, seed=0):
    """A Stage 1 stand-in: P(pivot) high on most pivots and on some other bars (2 classes)."""
    rng = np.random.default_rng(seed)
    p_pivot = np.clip(0.8 * pair.pivot + rng.uniform(0, 1, pair.n) * noise + 0.1 * rng.uniform(0, 1, pair.n), 0, 0.99)
    p_pivot[:5] = np.nan
    return np.c_[1 - p_pivot, p_pivot]


def _plan(pair):
    return chronological_split(pair.frame["timestamp"][pair.labelled], pair.timeframe, purge_bars=pair.purge_bars)


def test_labels_are_0_to_3_in_the_order_hh_lh_hl_ll(small_pair):
    res = train_stage2(small_pair, _proba(small_pair), ["none", "pivot"], _plan(small_pair), Stage2Config(cv_folds=3))
    assert res["booster"].num_model_per_iteration() == 4  # num_class = 4 for labels 0..3
    counts = res["counts"]["per_split"]
    for split in ("train", "val", "test"):
        cm = np.array(res["performance"][split]["confusion_matrix"])
        assert cm.shape == (4, 4)
        # rows of the confusion matrix are the true classes 0 HH, 1 LH, 2 HL, 3 LL, in that order
        assert cm.sum(axis=1).tolist() == [counts[split]["labels"][k] for k in ("HH", "LH", "HL", "LL")]
    pred = res["predictions"]
    real = pred[pred.true_class >= 0]
    assert set(real.true_class) <= {0, 1, 2, 3} and set(pred.pred_class) <= {0, 1, 2, 3}
    # a swing high (HH / LH) is told from a swing low (HL / LL) almost always: the class order is right
    high_true, high_pred = real.true_class.isin([0, 1]), real.pred_class.isin([0, 1])
    assert (high_true == high_pred).mean() > 0.8


def test_labels_outside_0_to_3_are_refused(small_pair):
    bad = small_pair.pivot_label.copy()
    bad[bad == 3] = 4  # the seed's 1..4 labelling would put LL at 4
    with pytest.raises(BadInput, match="0..3"):
        PairData(symbol="BTCUSDT", timeframe="15m", frame=small_pair.frame, pivot=small_pair.pivot, pivot_label=bad,
                 confirm_ns=small_pair.confirm_ns, feature_names=small_pair.feature_names)


def test_scaler_json_round_trip_and_safe_names(small_pair):
    res = train_stage2(small_pair, _proba(small_pair), ["none", "pivot"], _plan(small_pair),
                       Stage2Config(cv_folds=2, use_stage1_probs=False))
    doc = json.loads(json.dumps(scaler_to_json(res["scaler"], res["feature_names"])))
    s = scaler_from_json(doc)
    X = small_pair.matrix(small_pair.feature_names)[100:110]
    assert np.allclose(s.transform(X), res["scaler"].transform(X), equal_nan=True)
    with pytest.raises(BadInput, match="malformed"):
        scaler_from_json({"mean": [1]})
    assert lgb_names(["a:b", "a/b", "c"]) == ["a_b", "a_b_1", "c"]


def test_too_few_signals_is_a_clear_error(small_pair):
    with pytest.raises(BadInput, match="too few Stage 2 samples"):
        train_stage2(small_pair, _proba(small_pair), ["none", "pivot"], _plan(small_pair), Stage2Config(threshold=0.999))
    with pytest.raises(BadInput, match="shape"):
        train_stage2(small_pair, _proba(small_pair)[:10], ["none", "pivot"], _plan(small_pair), Stage2Config())
