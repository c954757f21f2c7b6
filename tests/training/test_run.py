"""Runs in-process on the session's feature set: walk-forward folds (one model per fold, the
plans in the manifest, per-fold predictions), the purge gap, a cancelled run listed as
resumable and finished by resume, and the runs listing / comparison helpers."""
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from engine.splits import SplitPlan
from engine.training import run as run_mod
from engine.training import runs
from storage.artifacts import read_manifest

QUICK = """
data: {last_bars: 1500, context_window: 32}
model: {direction: {hidden: 16, n_blocks: 2}}
training: {epochs: 2, batch_size: 32, max_batches_per_epoch: 4, eval_batch_size: 512, early_stopping_patience: 0,
           num_threads: 1, device: cpu, seed: 5}
"""


def _cfg(tmp_path, extra=""):
    p = tmp_path / "quick.yaml"
    p.write_text(QUICK + extra)
    return p


def test_walk_forward_trains_one_model_per_fold(feature_ws, ws, tmp_path):
    cfg = _cfg(tmp_path, "split: {mode: walk_forward, n_folds: 2, initial_frac: 0.6, walk_mode: expanding}\n")
    res = run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws)
    assert res["folds"] == 2
    m = read_manifest(ws, res["run_id"], "model")
    plans = [SplitPlan.from_dict(d) for d in m.extra["folds"]]
    assert len(plans) == 2 and plans[0].test_end < plans[1].test_start  # test blocks tile the time in order
    assert plans[1].train_start == plans[0].train_start and plans[1].train_end > plans[0].train_end  # expanding
    assert m.extra["split"] == m.extra["folds"][-1]
    files = {f.path for f in m.files}
    assert {"folds/1/checkpoints/best.pt", "folds/2/checkpoints/best.pt", "folds/1/scaler.json", "checkpoints/best.pt"} <= files
    preds = pd.read_parquet(ws.artifact_dir("model", res["run_id"]) / "predictions.parquet")
    assert sorted(preds.fold.unique()) == [1, 2]
    for k, plan in enumerate(plans, start=1):
        assert plan.mask(preds.timestamp[preds.fold == k], "test").all()
    assert len(m.extra["fold_results"]) == 2


def test_purge_gap_is_at_least_the_longest_horizon(feature_ws, ws, tmp_path):
    from engine.features.store import load_feature_set

    fs = load_feature_set(ws, feature_ws)
    prep = run_mod.prepare(ws, "direction", run_mod.load_config(_cfg(tmp_path)), featureset_id=feature_ws)
    plan, w = prep.plans[0], prep.windows[0]
    step = pd.Timedelta(minutes=15)
    assert plan.purge_bars == fs.max_horizon_bars == 48
    assert plan.val_start - plan.train_end == (plan.purge_bars + 1) * step
    assert plan.test_start - plan.val_end == (plan.purge_bars + 1) * step
    # the target of the last train window (48 bars ahead at most) ends before the first validation bar
    last_train = pd.Timestamp(w.timestamps[w.ends["train"]].max(), tz="UTC")
    assert last_train + fs.max_horizon_bars * step < plan.val_start
    first_val = w.timestamps[w.ends["val"]].min()
    assert first_val >= plan.val_start.value
    # a larger purge is honoured
    prep2 = run_mod.prepare(ws, "direction", run_mod.load_config(_cfg(tmp_path, "split: {purge_bars: 96, train_frac: 0.6}\n")),
                            featureset_id=feature_ws)
    assert prep2.plans[0].val_start - prep2.plans[0].train_end == 97 * step


def test_cancelled_run_is_listed_resumable_and_resume_finishes_it(feature_ws, ws, tmp_path):
    cfg = _cfg(tmp_path)
    ref = run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws, name="reference")

    def cancel_in_epoch_2(fraction, message="", **kw):
        if message.startswith("epoch 1/2:"):
            from config.errors import Cancelled

            raise Cancelled("cancelled by the user")

    with mock.patch.object(run_mod, "progress", cancel_in_epoch_2), pytest.raises(Exception, match="cancelled"):
        run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws, name="cancelled")
    listed = {r["name"]: r for r in runs.list_runs(ws)}
    stopped = listed["cancelled"]
    assert stopped["status"] == "cancelled" and stopped["resumable"] and stopped["epochs"] == 1
    assert listed["reference"]["status"] == "finished" and listed["reference"]["val_accuracy"] is not None
    assert len(runs.history(ws, stopped["id"])) == 1 and len(runs.steps(ws, stopped["id"])) >= 1
    res = run_mod.resume_run(ws, stopped["id"])
    assert res["metrics"] == ref["metrics"]  # same seed, same data: the resumed run ends where the reference did
    table = runs.compare_table(ws, [ref["run_id"], stopped["id"]])
    assert list(table.columns) == [ref["run_id"], stopped["id"]] and "val_accuracy" in table.index
    assert np.isclose(table.loc["val_loss", ref["run_id"]], table.loc["val_loss", stopped["id"]])
