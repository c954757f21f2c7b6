"""Issue 12 item 4: Stage 2 reports what a trader would get.  Figures over ALL Stage 1 signal bars
("no pivot" is its own class, always wrong) next to the pivot-only figure, baselines on the same bars
recomputable from the stored files, out-of-fold Stage 1 probabilities on the train split, and the
threshold chosen on validation.  On the bundled sample (real candles) with the tiny test Stage 1."""
import json

import numpy as np
import pandas as pd
import pytest

from engine.stage2 import evidence as ev
from engine.stage2.pipeline import train_stage2_pair
from engine.stage2.stage2 import Stage2Config
from storage.artifacts import read_manifest
from tests.conftest import run_cli

BASES = ["majority", "previous_pivot", "swing_extreme_20"]


# -- units ------------------------------------------------------------------------------------------------
def test_batched_macro_f1_matches_sklearn_reference():
    """The vectorised macro-F1 used by the bootstrap equals sklearn's f1_score(average="macro") (the
    reference implementation) on random 5-class truths and 4-class predictions, resample by resample."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    t = rng.choice(5, size=(40, 57), p=[0.1, 0.1, 0.2, 0.2, 0.4])
    p = rng.choice(4, size=(40, 57))
    t[0] = 2  # a resample holding one class only
    got = ev.macro_f1_stat(t * 8 + p)
    want = [f1_score(a, b, average="macro", zero_division=0) for a, b in zip(t, p)]
    assert np.allclose(got, want, atol=1e-12)
    assert ev.macro_f1(t[1], p[1]) == pytest.approx(want[1])


def test_baselines_on_a_hand_built_series():
    ns = np.arange(10, dtype="int64") * 900_000_000_000
    #           0    1   2   3   4   5   6   7   8   9
    label = np.array([-1, 0, -1, 2, -1, 1, -1, -1, -1, -1])
    confirm = np.full(10, -1, dtype="int64")
    confirm[1], confirm[3], confirm[5] = ns[2], ns[6], ns[7]  # the HL at bar 3 is confirmed after the LH at 5 is not
    prev = ev.previous_pivot_class(ns, label, confirm, fallback=3)
    assert prev.tolist() == [3, 3, 0, 0, 0, 0, 2, 1, 1, 1]  # confirm_time <= bar; none yet -> fallback
    high = np.array([10, 12, 11, 9, 10, 11.5, 11, 13, 8, 8.5])
    low = high - 1
    close = np.array([9.5, 11.9, 10.2, 8.1, 9.9, 11.0, 10.1, 12.9, 7.1, 8.4])
    got = ev.swing_extreme_class(ns, high, low, close, label, confirm, window=3)
    # bar 0: high & low extreme (first bar) -> close location 0.5 -> high side, no swing high yet -> HH
    # bar 2: no extreme; close loc 0.2 -> low side; no confirmed swing low -> LL
    # bar 5: 3-bar high; last confirmed swing high (bar 1, high 12) -> 11.5 < 12 -> LH
    # bar 7: 3-bar high 13 > last confirmed swing high (bar 1 until bar 7: bar 5's LH confirmed at 7, high 11.5) -> HH
    # bar 8: 3-bar low 7 < last confirmed swing low (bar 3, low 8) -> LL
    assert got[[0, 2, 5, 7, 8]].tolist() == [0, 3, 1, 0, 3]


def test_split_evidence_counts_non_pivots_as_wrong_and_warns():
    truth = np.array([0, 4, 4, 1, 4, 2, 3, 4])
    pred = np.array([0, 0, 1, 1, 2, 2, 0, 3])
    base = {"majority": np.full(8, 0), "previous_pivot": np.array([1, 0, 0, 0, 1, 3, 2, 1])}
    e = ev.split_evidence("test", truth, pred, base, bars=100, days=1.0)
    assert e["accuracy_signals"] == pytest.approx(3 / 8) and e["accuracy_pivots"] == pytest.approx(3 / 4)
    assert e["signals"] == 8 and e["pivots"] == 4 and e["no_pivot"] == 4
    assert e["class_shares"]["no_pivot"] == pytest.approx(0.5)
    assert e["baselines"] == {"majority": pytest.approx(1 / 8), "previous_pivot": pytest.approx(0.0)}
    assert e["uncertainty"]["accuracy_signals"][0] <= e["accuracy_signals"] <= e["uncertainty"]["accuracy_signals"][1]
    assert e["uncertainty"]["method"]["resamples"] == 1000 and "stationary" in e["uncertainty"]["method"]["method"]
    text = " ".join(e["warnings"])
    assert "fewer than 30" in text and "1.0 days" in text and "not pivots" in text
    json.dumps(e, allow_nan=False)


# -- Stage 1 out-of-fold -----------------------------------------------------------------------------------
def test_locally_trained_stage1_stores_out_of_fold_train_probabilities(stage1_ws, ws):
    _, s1 = stage1_ws
    d = ws.artifact_dir("stage1", s1["stage1_id"])
    df = pd.read_parquet(d / "probabilities.parquet")
    man = read_manifest(ws, s1["stage1_id"])
    info = man.extra["oof"]
    assert info["folds"] == 3 and info["purge_bars"] >= 48 and info["oof_bars"] > 0
    has = df.oof_fold >= 0
    assert set(df.loc[has, "split"]) == {"train"} and df.loc[~has, "oof_p_pivot"].isna().all()
    assert np.isfinite(df.loc[has, ["oof_p_none", "oof_p_pivot"]].to_numpy()).all()
    assert np.allclose(df.loc[has, ["oof_p_none", "oof_p_pivot"]].sum(axis=1), 1, atol=1e-5)
    # out-of-fold differs from what the final model (trained on these bars) says
    diff = (df.loc[has, "oof_p_pivot"] - df.loc[has, "p_pivot"]).abs()
    assert diff.mean() > 1e-3
    # each fold's block lies after its training windows plus the purge gap, in time order
    gap = pd.Timedelta(minutes=15) * info["purge_bars"]
    for f in info["per_fold"]:
        assert pd.Timestamp(f["train_end"]) + gap < pd.Timestamp(f["start"])
        blk = df[df.oof_fold == f["fold"]]
        assert len(blk) == f["predicted"] and blk.timestamp.min() == pd.Timestamp(f["start"])
    assert df.loc[has, "oof_fold"].is_monotonic_increasing
    assert info["first_block_bars"] > 0 and info["train_bars"] == info["oof_bars"] + info["first_block_bars"]


# -- Stage 2 evidence --------------------------------------------------------------------------------------
def _check_split(doc_split: dict, truth: np.ndarray, pred: np.ndarray, bases: dict[str, np.ndarray]) -> None:
    piv = truth != ev.NO_PIVOT
    assert doc_split["signals"] == len(truth) and doc_split["pivots"] == int(piv.sum())
    assert doc_split["accuracy_signals"] == pytest.approx(float((truth == pred).mean()))
    assert doc_split["accuracy_pivots"] == pytest.approx(float((truth[piv] == pred[piv]).mean()))
    from sklearn.metrics import f1_score

    assert doc_split["macro_f1_signals"] == pytest.approx(f1_score(truth, pred, average="macro", zero_division=0))
    for b in BASES:
        assert doc_split["baselines"][b] == pytest.approx(float((bases[b] == truth).mean())), b
        assert doc_split["baselines_pivots"][b] == pytest.approx(float((bases[b][piv] == truth[piv]).mean())), b
    lo, hi = doc_split["uncertainty"]["accuracy_signals"]
    assert lo <= doc_split["accuracy_signals"] <= hi and 0 <= lo < hi <= 1
    assert doc_split["sample"]["signals"] == len(truth) and doc_split["sample"]["days"] > 0


def test_stage2_figures_over_all_signal_bars_and_baselines_recomputed_from_stored_files(stage1_ws, ws):
    _, s1 = stage1_ws
    r = run_cli("stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--threshold", "0.5", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    json.dumps(doc, allow_nan=False)  # valid JSON: no NaN / Infinity anywhere
    assert doc["stage1_oof"] is True and doc["stage1_oof_info"]["folds"] == 3
    assert "no pivot" in doc["no_pivot_class"] and set(doc["baseline_rules"]) == set(BASES)
    assert doc["threshold_choice"] == {"value": 0.5, "chosen_on": "given"} and set(doc["pass_rates"]) == {"train", "val", "test"}
    d = ws.artifact_dir("stage2", doc["stage2_id"])
    pred = pd.read_parquet(d / "predictions.parquet")
    sig = pd.read_parquet(d / "signals.parquet")
    # test: every test signal bar (real pivot or not) is a prediction row; a non-pivot counts as wrong
    assert len(pred) == doc["test"]["signals"] == int((sig.signal & (sig.split == "test")).sum())
    truth = np.where(pred.true_class >= 0, pred.true_class, ev.NO_PIVOT)
    _check_split(doc["test"], truth, pred.pred_class.to_numpy(), {b: pred[f"base_{b}"].to_numpy() for b in BASES})
    assert doc["test"]["no_pivot"] == int((pred.true_class < 0).sum()) > 0
    assert doc["test"]["accuracy_signals"] < doc["test"]["accuracy_pivots"]
    # val: the same from signals.parquet
    v = sig[sig.signal & (sig.split == "val")]
    assert (v.pred_class >= 0).all() and (sig.loc[~(sig.signal & sig.split.isin(["val", "test"])), "pred_class"] == -1).all()
    _check_split(doc["val"], ev.signal_truth(v.pivot_label.to_numpy()), v.pred_class.to_numpy(),
                 {b: v[f"base_{b}"].to_numpy() for b in BASES})
    # the stored baselines follow their rules: recomputed here from the stored labels and the candles
    man = read_manifest(ws, doc["stage2_id"])
    train_samples = sig[sig.signal & (sig.split == "train") & (sig["pivot"] == 1)]
    majority = int(train_samples.pivot_label.value_counts().idxmax())
    assert (sig.base_majority == majority).all() and man.extra["evidence"]["majority_class"] == ev.LABEL_NAMES[majority]
    conf = sig.confirm_time
    for i in sig.index[sig.signal & (sig.split == "test")][:60]:
        known = sig[(conf <= sig.timestamp[i]) & (sig["pivot"] == 1)]
        want = int(known.sort_values(["confirm_time", "timestamp"]).pivot_label.iloc[-1]) if len(known) else majority
        assert sig.base_previous_pivot[i] == want
    from engine.data.store import load_candles

    c = load_candles(ws, "BTCUSDT", "15m").set_index("timestamp").reindex(sig.timestamp)
    hi, lo, cl = (c[k].to_numpy() for k in ("high", "low", "close"))
    for i in sig.index[sig.signal & (sig.split == "test")][:60]:
        is_hi, is_lo = hi[i] >= hi[max(0, i - 19):i + 1].max(), lo[i] <= lo[max(0, i - 19):i + 1].min()
        high_side = is_hi if is_hi != is_lo else (cl[i] - lo[i]) / (hi[i] - lo[i]) >= 0.5
        known = sig[(conf <= sig.timestamp[i]) & sig.pivot_label.isin([0, 1] if high_side else [2, 3])]
        last = known.sort_values(["confirm_time", "timestamp"]).index[-1] if len(known) else None
        if high_side:
            want = 0 if last is None or hi[i] > hi[last] else 1
        else:
            want = 2 if last is not None and lo[i] > lo[last] else 3
        assert sig.base_swing_extreme_20[i] == want, i
    # Stage 2 trained on OUT-OF-FOLD Stage 1 probabilities on its train rows, in-sample ones elsewhere
    s1p = pd.read_parquet(ws.artifact_dir("stage1", s1["stage1_id"]) / "probabilities.parquet")
    tr = (sig.split == "train").to_numpy()
    assert np.allclose(sig.loc[tr, "s1_p_pivot"], s1p.loc[tr, "oof_p_pivot"], equal_nan=True)
    assert not np.allclose(sig.loc[tr & s1p.oof_p_pivot.notna().to_numpy(), "s1_p_pivot"],
                           s1p.loc[tr & s1p.oof_p_pivot.notna().to_numpy(), "p_pivot"])
    assert np.allclose(sig.loc[~tr, "s1_p_pivot"], s1p.loc[~tr, "p_pivot"], equal_nan=True)
    assert sig.loc[tr, "s1_oof"].sum() == s1p.oof_p_pivot.notna().sum() and not sig.loc[~tr, "s1_oof"].any()
    assert not (sig.signal & tr & s1p.oof_p_pivot.isna().to_numpy()).any()  # the first block never trains Stage 2
    # `stage2 show --json` gives the same document; the warnings are in it and in the summary
    show = json.loads(run_cli("stage2", "show", doc["stage2_id"], "--json").stdout)
    for k in ("val", "test", "stage1_oof", "pass_rates", "threshold_choice"):
        assert show[k] == doc[k], k
    assert show["warnings"] == doc["warnings"] and set(doc["test"]["warnings"]) <= set(doc["warnings"])
    text = (d / "summary.txt").read_text()
    assert "What a trader would get (ALL Stage 1 signal bars" in text and "Accuracy (pivots only" in text
    assert "out-of-fold (3 time-ordered folds" in text
    assert man.metrics["test_accuracy_signals"] == pytest.approx(doc["test"]["accuracy_signals"])
    t = doc["test"]
    print(f"sample 15m test: {t['signals']} signals ({t['pivots']} pivots), accuracy over signals "
          f"{t['accuracy_signals']:.3f} {t['uncertainty']['accuracy_signals']}, macro F1 {t['macro_f1_signals']:.3f}, "
          f"pivots only {t['accuracy_pivots']:.3f}; baselines {t['baselines']}; pass rates {doc['pass_rates']}")


def test_threshold_from_a_pass_rate_is_chosen_on_validation(stage1_ws, ws):
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(pass_rate=0.3, use_stage1_probs=False, cv_folds=3))
    sig = pd.read_parquet(ws.artifact_dir("stage2", out["stage2_id"]) / "signals.parquet")
    val = sig.loc[(sig.split == "val") & sig.signal_prob.notna(), "signal_prob"]
    assert out["threshold"] == pytest.approx(float(np.quantile(val, 0.7)))
    assert out["pass_rates"]["val"] == pytest.approx(0.3, abs=0.01)
    assert out["threshold_choice"] == {"value": out["threshold"], "chosen_on": "validation"}
    assert all(out["pass_rates"][s] is not None for s in ("train", "val", "test"))


def test_imported_stage1_says_oof_is_impossible(stage1_ws, ws):
    from engine.stage2.stage1_io import import_stage1

    fsid, s1 = stage1_ws
    folder = ws.artifact_dir("stage1", s1["stage1_id"]) / "v1_model" / "BTCUSDT" / "15m"
    imp = import_stage1(ws, str(folder), "BTCUSDT", "15m")
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(threshold=0.5, cv_folds=3), stage1_id=imp["stage1_id"],
                            featureset_id=fsid)
    assert out["stage1_oof"] is False and "imported" in out["stage1_oof_note"]
    assert any("out-of-fold probabilities are impossible" in w for w in out["warnings"])
    assert out["test"]["signals"] > 0 and "baselines" in out["val"]


def test_stage1_without_room_for_folds_still_trains_and_says_why(small_pair):
    """Too many folds for the train split (purge included): the Stage 1 model stands, without
    out-of-fold probabilities, and the reason is recorded for Stage 2's warning."""
    from engine.stage2.stage1_train import Stage1TrainConfig, probabilities_frame, train_stage1

    res = train_stage1(small_pair, Stage1TrainConfig(sequence_length=8, units=4, epochs=1, patience=0, oof_folds=3000))
    assert res["oof"] is None and res["oof_info"]["folds"] == 0
    assert res["oof_info"]["error"].startswith("no out-of-fold probabilities:")
    df = probabilities_frame(small_pair, res["proba"], ["none", "pivot"], res["split"], res["oof"], res["oof_fold"])
    assert not any(c.startswith("oof_") for c in df.columns)
