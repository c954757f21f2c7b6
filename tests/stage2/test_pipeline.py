"""Stage 1 training -> Hub layout -> re-import through the Hub endpoint -> Stage 2 with
time-ordered CV, on the session feature set of the bundled sample (real candles)."""
import json

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.splits import SplitPlan
from engine.stage2.pipeline import train_stage2_pair
from engine.stage2.stage1_io import import_stage1, load_stage1
from engine.stage2.stage2 import Stage2Config, scaler_from_json
from storage.artifacts import read_manifest
from storage.catalog import Catalog
from tests.conftest import snapshot
from tests.stage2.conftest import S1_FEATURES

REPO = "klinelab/stage1-models"


def test_trained_stage1_is_saved_in_the_hub_layout_and_reimported_through_the_hub(stage1_ws, ws, hub_server):
    fsid, res = stage1_ws
    d = ws.artifact_dir("stage1", res["stage1_id"])
    params = json.loads((d / "v1_model/BTCUSDT/15m/params.json").read_text())
    assert params["feature_names"] == S1_FEATURES and params["sequence_length"] == 8
    assert params["class_names"] == ["none", "pivot"] and len(params["mean"]) == len(params["std"]) == 12
    assert set(params["class_weights"]) == {"0", "1"} and params["class_weights"]["1"] > params["class_weights"]["0"]
    man = read_manifest(ws, res["stage1_id"])
    assert man.parents == [fsid] and SplitPlan.from_dict(man.extra["split"]).purge_bars >= 48
    assert {"train", "val", "test"} <= set(res["metrics"]) and 0.5 < res["metrics"]["val"]["auc"] <= 1
    val = res["metrics"]["val"]  # each split's figures with the sample behind them
    assert 0 < val["pivots"] < val["bars"] and val["pivot_rate"] == pytest.approx(val["pivots"] / val["bars"])
    # the stored probabilities are what the saved model predicts (params.json normalisation included)
    model, _ = load_stage1(ws, res["stage1_id"])
    from engine.stage2.data import load_pair
    from engine.stage2.stage1 import window_ends

    pair = load_pair(ws, fsid, "BTCUSDT")
    X = pair.matrix(S1_FEATURES)
    p = model.predict_proba(X, window_ends(pair.ts_ns, pair.step_ns, np.isfinite(X).all(axis=1), 8))
    stored = pd.read_parquet(d / "probabilities.parquet")
    assert np.allclose(stored[["p_none", "p_pivot"]].to_numpy(), p, atol=1e-5, equal_nan=True)
    assert np.allclose(stored["signal_prob"], 1 - stored["p_none"], equal_nan=True)
    # upload the v1_model tree with the real client, then import it back through the endpoint
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    api.create_repo(REPO, repo_type="dataset")
    api.upload_folder(repo_id=REPO, repo_type="dataset", folder_path=str(d), allow_patterns=["v1_model/**"])
    assert set(hub_server.files(REPO)) >= {"v1_model/BTCUSDT/15m/classification.h5", "v1_model/BTCUSDT/15m/params.json"}
    back = import_stage1(ws, REPO, "BTCUSDT", "15m")  # names and length come from our params.json
    assert back["sources"]["feature_names"] == "params.json" and back["origin"] == f"huggingface:{REPO}"
    bman = read_manifest(ws, back["stage1_id"])
    assert bman.extra["split"] == man.extra["split"] and bman.extra["featureset_id"] == fsid
    again, _ = load_stage1(ws, back["stage1_id"])
    assert np.allclose(again.predict_proba(X[:200]), p[:200], atol=1e-6, equal_nan=True)


def test_stage2_trains_with_time_ordered_cv_and_writes_the_contract(stage1_ws, ws):
    fsid, s1 = stage1_ws
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(threshold=0.5))
    assert out["stage1_id"] == s1["stage1_id"] and out["featureset_id"] == fsid
    d = ws.artifact_dir("stage2", out["stage2_id"])
    man = read_manifest(ws, out["stage2_id"])
    assert man.parents == [fsid, s1["stage1_id"]]
    plan = SplitPlan.from_dict(man.extra["split"])
    assert plan == SplitPlan.from_dict(read_manifest(ws, s1["stage1_id"]).extra["split"])  # Stage 1's own split
    # labels 0..3 = HH LH HL LL, num_class 4
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(d / "model.txt"))
    assert booster.params.get("num_class") == "4" or booster.num_model_per_iteration() == 4
    counts = out["counts"]["per_split"]
    assert set(counts["train"]["labels"]) == {"HH", "LH", "HL", "LL"} and counts["train"]["samples"] >= 30
    # predictions on the test split for the backtest (docs/CONTRACTS.md)
    pred = pd.read_parquet(d / "predictions.parquet")
    assert list(pred.columns) == ["timestamp", "symbol", "split", "stage1_prob", "pred_class", "p_HH", "p_LH", "p_HL",
                                  "p_LL", "true_class", "base_majority", "base_previous_pivot",
                                  "base_swing_extreme_20"]
    assert (pred.split == "test").all() and (pred.symbol == "BTCUSDT").all() and len(pred) == counts["test"]["signals"]
    assert pred.timestamp.min() >= plan.test_start and pred.timestamp.max() <= plan.test_end
    assert (pred.stage1_prob >= 0.5).all() and set(pred.pred_class) <= {0, 1, 2, 3}
    assert set(pred.true_class) <= {-1, 0, 1, 2, 3} and (pred.true_class >= 0).sum() == counts["test"]["samples"]
    assert np.allclose(pred[["p_HH", "p_LH", "p_HL", "p_LL"]].sum(axis=1), 1)
    assert (pred.pred_class == pred[["p_HH", "p_LH", "p_HL", "p_LL"]].to_numpy().argmax(axis=1)).all()
    # the saved scaler (JSON) + model reproduce the stored predictions
    sig = pd.read_parquet(d / "signals.parquet")
    scaler = scaler_from_json(json.loads((d / "scaler.json").read_text()))
    from engine.stage2.data import load_pair

    pair = load_pair(ws, fsid, "BTCUSDT")
    rows = pair.frame.timestamp.isin(pred.timestamp).to_numpy()
    X = np.hstack([pair.matrix(pair.feature_names)[rows], sig.loc[rows, ["s1_p_none", "s1_p_pivot"]].to_numpy()])
    assert np.allclose(booster.predict(scaler.transform(X)), pred[["p_HH", "p_LH", "p_HL", "p_LL"]].to_numpy(), atol=1e-9)
    # 5 folds, each validation block after its training rows with the purge gap between
    cv = pd.read_csv(d / "cv.csv", parse_dates=["train_start", "train_end", "val_start", "val_end"])
    assert list(cv.fold) == [1, 2, 3, 4, 5]
    gap = pd.Timedelta(minutes=15) * man.extra["purge_bars"]
    assert (cv.train_end + gap < cv.val_start).all()
    assert (cv.val_start.iloc[1:].to_numpy() > cv.val_end.iloc[:-1].to_numpy()).all()
    assert (cv.val_end <= plan.val_end).all()  # the test split is never used by CV
    assert (cv.n_train.diff().iloc[1:] > 0).all()
    assert len(out["cv"]["folds"]) == 5 and 0 <= out["metrics"]["f1_macro"] <= 1
    # the summary report has the seed's sections
    text = (d / "summary.txt").read_text()
    for section in ("STAGE 2 TRAINING SUMMARY - BTCUSDT 15m", "Data Preparation:", "Original K-bars:", "Stage 1 Signals:",
                    "Stage 2 Valid:", "Train/Val/Test Split", "Model Performance:", "Test F1-Score (macro):",
                    "Cross-Validation (5-fold, time-ordered", "Mean Accuracy:", "+/-", "Min Accuracy:", "Max Accuracy:",
                    "Models Saved:", "model.txt", "scaler.json"):
        assert section in text, section
    # indexed, with lineage back to the candles
    cat = Catalog(ws)
    assert out["stage2_id"] in cat.query(kind="stage2").id.tolist()
    anc = cat.lineage(out["stage2_id"])["ancestors"].id.tolist()
    assert fsid in anc and s1["stage1_id"] in anc and "ohlcv-BTCUSDT-15m" in anc
    assert cat.query(kind="stage2", metric="cv.accuracy_mean", metric_min=0).id.tolist() == [out["stage2_id"]]


def test_pass_rate_threshold_and_too_few_signals(stage1_ws, ws):
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(pass_rate=0.3, use_stage1_probs=False, cv_folds=3))
    rate = out["counts"]["per_split"]["val"]["pass_rate"]  # the threshold is chosen on validation
    assert abs(rate - 0.3) < 0.01 and "s1_p_none" not in read_manifest(ws, out["stage2_id"]).extra["feature_names"]
    assert len(out["cv"]["folds"]) == 3
    before = snapshot(ws.root / "artifacts")
    with pytest.raises(BadInput, match="too few Stage 2 samples"):
        train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(threshold=0.9999))
    with pytest.raises(BadInput, match="not in the feature set"):
        train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(features=["rsi_14", "no_such_feature"]))
    assert snapshot(ws.root / "artifacts") == before
