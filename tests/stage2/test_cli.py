"""The `stage1` / `stage2` commands as a user runs them (real subprocesses): --json documents,
exit 2 with one `error:` line and nothing written on bad input."""
import json

import numpy as np
import pandas as pd
import pytest

from engine.stage2.pipeline import train_stage2_pair
from engine.stage2.stage2 import Stage2Config
from storage.artifacts import read_manifest
from tests.conftest import run_cli, snapshot
from tests.stage2.conftest import S1_FEATURES
from tests.stage2.helpers import seed_model


def test_stage2_train_json(stage1_ws, ws):
    fsid, s1 = stage1_ws
    r = run_cli("stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--threshold", "0.5", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["stage1_id"] == s1["stage1_id"] and doc["featureset_id"] == fsid
    assert doc["stage2_id"].startswith("stage2-") and doc["path"] == str(ws.artifact_dir("stage2", doc["stage2_id"]))
    assert set(doc["files"]) == {"model.txt", "scaler.json", "summary.txt", "cv.csv", "predictions.parquet"}
    m = doc["metrics"]
    assert 0 <= m["accuracy"] <= 1 and 0 <= m["f1_macro"] <= 1 and len(m["confusion_matrix"]) == 4
    assert [f["fold"] for f in doc["cv"]["folds"]] == [1, 2, 3, 4, 5]
    assert {"accuracy", "f1_macro", "n_train", "n_val", "val_start"} <= set(doc["cv"]["folds"][0])
    assert doc["cv"]["summary"]["accuracy"]["std"] >= 0
    assert "[" in r.stderr and "%]" in r.stderr  # progress on stderr
    show = run_cli("stage2", "show", doc["stage2_id"])
    assert show.returncode == 0 and "STAGE 2 TRAINING SUMMARY - BTCUSDT 15m" in show.stdout


@pytest.mark.parametrize("args,msg", [
    (["stage2", "train", "--symbol", "DOGEUSDT", "--timeframe", "15m"], "no Stage 1 model for DOGEUSDT 15m"),
    (["stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--threshold", "0.99999"], "too few Stage 2 samples"),
    (["stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--threshold", "2"], "between 0 and 1"),
    (["stage2", "batch", "--symbols", "BTCUSDT", "--resume", "job-x"], "--resume continues a batch"),
])
def test_bad_requests_exit_2_and_write_nothing(stage1_ws, ws, args, msg):
    before = snapshot(ws.root / "artifacts")
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    err = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and msg in err[0], r.stderr
    assert r.stdout == "" and snapshot(ws.root / "artifacts") == before


def test_corrupted_model_exits_2(ws, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "classification.h5").write_bytes(b"<html>rate limited</html>")  # e.g. an error page saved as the model
    (d / "params.json").write_text(json.dumps({"mean": [0], "std": [1]}))
    r = run_cli("stage1", "import", str(d), "--symbol", "BTCUSDT", "--timeframe", "15m", "--features", "rsi_14")
    assert r.returncode == 2 and "error: classification.h5 is not an HDF5 file" in r.stderr
    assert not (ws.root / "artifacts" / "stage1").exists()


def test_seed_form_model_imported_by_cli_and_used_by_stage2(stage1_ws, ws, tmp_path):
    fsid, _ = stage1_ws
    from engine.stage2.data import load_pair

    pair = load_pair(ws, fsid, "BTCUSDT")
    X = pair.matrix(S1_FEATURES)
    folder = seed_model(tmp_path / "seed", n_features=len(S1_FEATURES), seq_len=8, classes=5,
                        mean=np.nanmean(X, axis=0), std=np.nanstd(X, axis=0))
    names = tmp_path / "names.txt"
    names.write_text("\n".join(S1_FEATURES))
    r = run_cli("stage1", "import", str(folder), "--symbol", "BTCUSDT", "--timeframe", "15m", "--features-file", str(names),
                "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["class_names"] == ["none", "HH", "LH", "HL", "LL"] and doc["test_prediction"]["shape"] == [1, 5]
    assert "Total params" in doc["summary"]
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(pass_rate=0.6, cv_folds=3), stage1_id=doc["stage1_id"])
    assert any("does not record the bars it was trained on" in w for w in out["warnings"])
    man = read_manifest(ws, out["stage2_id"])
    assert man.extra["stage1_classes"] == ["none", "HH", "LH", "HL", "LL"] and not man.extra["stage1_probabilities_reused"]
    assert man.extra["stage1_features"] == ["s1_p_none", "s1_p_HH", "s1_p_LH", "s1_p_HL", "s1_p_LL"]
    sig = pd.read_parquet(ws.artifact_dir("stage2", out["stage2_id"]) / "signals.parquet")
    scored = sig.signal_prob.notna()
    assert scored.sum() == len(sig) - 7  # windows of 8 bars: the first 7 bars have none
    p = sig.loc[scored, ["s1_p_none", "s1_p_HH", "s1_p_LH", "s1_p_HL", "s1_p_LL"]].to_numpy()
    assert np.allclose(sig.loc[scored, "signal_prob"], 1 - p[:, 0]) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
