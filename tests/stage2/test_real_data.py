"""On real candles from ../shared/data (BTC/USDT 1h from a second source, 2024 -> 2026): Stage 1
trained, saved in the Hub layout, re-imported through the Hub-compatible endpoint, Stage 2
trained with 5-fold time-ordered CV from the re-imported model, summary written, all indexed."""
import numpy as np
import pandas as pd
import pytest

from engine.stage2.pipeline import train_stage1_pair, train_stage2_pair
from engine.stage2.stage1_io import import_stage1
from engine.stage2.stage1_train import Stage1TrainConfig
from engine.stage2.stage2 import Stage2Config
from storage.catalog import Catalog
from tests.stage2.conftest import S1_FEATURES

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]
REPO = "klinelab/zigzag-models"


def test_real_1h_candles_end_to_end(ws, shared_data, hub_server):
    from engine.data.importer import import_path
    from engine.features.pipeline import build_feature_set

    import_path(ws, shared_data / "binance-spot-1h-2018" / "BTC_USDT-1h.feather", symbol="BTCUSDT", timeframe="1h")
    fs = build_feature_set(ws, ["BTCUSDT"], "1h", start="2024-01-01", end="2026-05-16")["featureset_id"]
    s1 = train_stage1_pair(ws, "BTCUSDT", "1h", Stage1TrainConfig(sequence_length=16, units=8, epochs=3, patience=1,
                                                                  features=S1_FEATURES), featureset_id=fs)
    assert s1["split"]["timeframe"] == "1h" and s1["metrics"]["test"]["auc"] > 0.5
    # the v1_model tree goes to the Hub through the real client and comes back through the endpoint
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    api.create_repo(REPO, repo_type="dataset")
    info = api.upload_folder(repo_id=REPO, repo_type="dataset", folder_path=s1["path"], allow_patterns=["v1_model/**"])
    assert info.oid and len(hub_server.commits(REPO)) == 2  # the repo's first commit + this one
    back = import_stage1(ws, REPO, "BTCUSDT", "1h")
    assert back["feature_names"] == S1_FEATURES and back["sequence_length"] == 16 and back["origin"] == f"huggingface:{REPO}"
    out = train_stage2_pair(ws, "BTCUSDT", "1h", Stage2Config(pass_rate=0.15), stage1_id=back["stage1_id"],
                            featureset_id=fs)
    assert len(out["cv"]["folds"]) == 5 and out["counts"]["samples"] > 100
    from storage.artifacts import read_manifest

    assert read_manifest(ws, out["stage2_id"]).extra["split"] == s1["split"]  # Stage 1's split survived the round trip
    assert not any("does not record" in w for w in out["warnings"])
    folds = pd.DataFrame(out["cv"]["folds"])
    assert (pd.to_datetime(folds.val_start).diff().dropna() > pd.Timedelta(0)).all()
    text = (ws.artifact_dir("stage2", out["stage2_id"]) / "summary.txt").read_text()
    assert "STAGE 2 TRAINING SUMMARY - BTCUSDT 1h" in text and "Mean Accuracy:" in text
    # the re-imported model sees the bars exactly as the trained one did
    sig = pd.read_parquet(ws.artifact_dir("stage2", out["stage2_id"]) / "signals.parquet")
    orig = pd.read_parquet(ws.artifact_dir("stage1", s1["stage1_id"]) / "probabilities.parquet")
    assert np.allclose(sig.signal_prob.to_numpy(), orig.signal_prob.to_numpy(), atol=1e-5, equal_nan=True)
    cat = Catalog(ws)
    kinds = dict(zip(*np.unique(cat.query().kind, return_counts=True)))
    assert kinds.get("stage1") == 2 and kinds.get("stage2") == 1 and kinds.get("features") == 1
    anc = cat.lineage(out["stage2_id"])["ancestors"].id.tolist()
    assert {fs, back["stage1_id"], "ohlcv-BTCUSDT-1h"} <= set(anc)
    print(f"real 1h: {out['counts']['bars']} bars, {out['counts']['samples']} Stage 2 samples, test accuracy "
          f"{out['metrics']['accuracy']:.3f}, macro F1 {out['metrics']['f1_macro']:.3f}, CV "
          f"{out['cv']['summary']['accuracy']['mean']:.3f} +/- {out['cv']['summary']['accuracy']['std']:.3f}")
    # what a trader would get: every test signal bar, next to the baselines on the same bars
    t = out["test"]
    assert out["stage1_oof"] is False and t["signals"] >= t["pivots"] > 0
    assert t["accuracy_signals"] <= t["accuracy_pivots"] and set(t["baselines"]) == {"majority", "previous_pivot",
                                                                                     "swing_extreme_20"}
    print(f"real 1h test: {t['signals']} signals ({t['pivots']} pivots), accuracy over signals {t['accuracy_signals']:.3f} "
          f"{t['uncertainty']['accuracy_signals']}, macro F1 {t['macro_f1_signals']:.3f}, pivots only "
          f"{t['accuracy_pivots']:.3f}; baselines {t['baselines']} / pivots only {t['baselines_pivots']}; "
          f"pass rates {out['pass_rates']}")
    # a Stage 1 trained here gives Stage 2 out-of-fold probabilities on its train rows
    own = train_stage2_pair(ws, "BTCUSDT", "1h", Stage2Config(pass_rate=0.15), stage1_id=s1["stage1_id"], featureset_id=fs)
    o = own["test"]
    assert own["stage1_oof"] is True and own["threshold_choice"]["chosen_on"] == "validation"
    print(f"real 1h, OOF Stage 1: {o['signals']} signals ({o['pivots']} pivots), accuracy over signals "
          f"{o['accuracy_signals']:.3f} {o['uncertainty']['accuracy_signals']}, pivots only {o['accuracy_pivots']:.3f}; "
          f"baselines {o['baselines']}; pass rates {own['pass_rates']}")
