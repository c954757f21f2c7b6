"""`python -m engine train ...` as a user runs it, on the session's feature set of the bundled
sample: both models train with config/test.yaml into complete model artifacts; bad input exits
2 and writes nothing; a SIGKILLed job resumes to exactly the metrics of an uninterrupted run."""
import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
import torch

from engine.splits import SplitPlan
from storage.artifacts import read_manifest
from storage.catalog import Catalog
from tests.conftest import run_cli, snapshot

CONTRACT_FILES = {"config.yaml", "scaler.json", "checkpoints/best.pt", "checkpoints/last.pt", "metrics.csv",
                  "predictions.parquet"}
HORIZONS = ("15m", "1h", "4h", "12h")


def _train(*args):
    r = run_cli("train", *args, "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _check_artifact(ws, res, fid):
    m = read_manifest(ws, res["run_id"], "model")
    files = {f.path for f in m.files}
    assert CONTRACT_FILES <= files and any(f.startswith("tensorboard/events.out.tfevents") for f in files)
    assert m.parents == [fid] and m.params["model"] == res["model"] and m.timeframe == "15m"
    plan = SplitPlan.from_dict(m.extra["split"])
    assert plan.purge_bars >= 48 and plan.val_start - plan.train_end >= pd.Timedelta(minutes=15 * 49)
    for name in ("best.pt", "last.pt"):
        torch.load(ws.artifact_dir("model", res["run_id"]) / "checkpoints" / name, weights_only=True)
    scaler = json.loads((ws.artifact_dir("model", res["run_id"]) / "scaler.json").read_text())
    assert scaler["feature_names"] == m.extra["feature_names"] and len(scaler["center"]) == len(scaler["scale"])
    preds = pd.read_parquet(res["predictions"])
    assert (preds.split == "test").all() and preds.timestamp.dt.tz is not None
    assert plan.mask(preds.timestamp, "test").all()  # predictions only for test bars
    assert not preds.duplicated(["symbol", "timestamp"]).any()
    assert Catalog(ws).lineage(res["run_id"])  # indexed, with its lineage
    hist = pd.read_csv(ws.artifact_dir("model", res["run_id"]) / "metrics.csv")
    assert {"val_win_rate", "val_profit_factor", "val_directional_accuracy", "train_loss", "val_loss"} <= set(hist.columns)
    return m, preds


def test_train_direction_cli_makes_a_complete_artifact(feature_ws, ws):
    res = _train("direction", "--config", "test", "--featureset", feature_ws)
    m, preds = _check_artifact(ws, res, feature_ws)
    cols = [f"p_{c}_{h}" for h in HORIZONS for c in ("down", "flat", "up")]
    assert set(cols) <= set(preds.columns)
    p = preds[cols].to_numpy().reshape(len(preds), 4, 3)
    assert np.allclose(p.sum(axis=2), 1, atol=1e-5)
    assert m.extra["horizons"] == list(HORIZONS)
    for k in ("accuracy", "baseline_accuracy", "win_rate", "directional_accuracy"):
        assert k in res["metrics"]["val"]
    assert not (ws.root / "training" / res["run_id"]).exists()  # the working folder became the artifact


def test_train_patchtst_cli_all_24_targets(feature_ws, ws):
    res = _train("patchtst", "--config", "test", "--featureset", feature_ws)
    m, preds = _check_artifact(ws, res, feature_ws)
    targets = {t["name"]: t for t in m.extra["targets"]}
    assert len(targets) == 24
    for name, t in targets.items():
        if t["type"] == "regression":
            assert f"pred_{name}" in preds
        else:
            k = t["n_classes"] if t["type"] == "multiclass" else 2
            assert all(f"p_{name}_{i}" in preds for i in range(k))
    # regression predictions are back in the target's units (returns are small numbers)
    assert preds["pred_future_return_1h"].abs().median() < 0.05


def test_train_patchtst_target_subset_and_report_whitelist(feature_ws, ws):
    from storage.artifacts import create_artifact

    with create_artifact(ws, "analysis", name="hand-made report", parents=[feature_ws]) as d:
        d.path("included_features.txt").write_text("# whitelist\nrsi_14\nlogret_1\n\nadx_14\n")
        rid = d.id
    res = _train("patchtst", "--config", "test", "--featureset", feature_ws, "--targets", "direction_1h,future_return_1h",
                 "--report", rid)
    m = read_manifest(ws, res["run_id"], "model")
    assert [t["name"] for t in m.extra["targets"]] == ["direction_1h", "future_return_1h"]
    assert sorted(m.extra["feature_names"]) == ["adx_14", "logret_1", "rsi_14"] and m.parents == [feature_ws, rid]


@pytest.mark.parametrize("args,needle", [
    (["direction", "--config", "test", "--featureset", "features-nope"], "no artifact with id 'features-nope'"),
    (["patchtst", "--config", "{bad}", "--featureset", "{fid}"], "training: unknown key(s) 'epochz'"),
    (["patchtst", "--config", "{purge}", "--featureset", "{fid}"], "shorter than the longest target horizon"),
    (["resume", "model-nope"], "no unfinished training run"),
])
def test_bad_input_exits_2_and_writes_nothing(feature_ws, ws, tmp_path, args, needle):
    (tmp_path / "bad.yaml").write_text("training: {epochz: 3}\n")
    (tmp_path / "purge.yaml").write_text("split: {purge_bars: 10}\n")
    subs = {"{fid}": feature_ws, "{bad}": str(tmp_path / "bad.yaml"), "{purge}": str(tmp_path / "purge.yaml")}
    before = snapshot(ws.root)
    r = run_cli("train", *[subs.get(a, a) for a in args], "--json")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and needle in lines[-1] and r.stdout == ""
    assert snapshot(ws.root) == before


def test_more_bad_input_is_refused_before_anything_is_written(feature_ws, ws, tmp_path):
    """The same checks in-process (each CLI start costs seconds of imports)."""
    from config.errors import BadInput, NotFound
    from engine.training.run import start_run
    from storage.artifacts import create_artifact

    with create_artifact(ws, "analysis", name="report of another set", parents=["features-other"]) as d:
        d.path("included_features.txt").write_text("rsi_14\n")
        other = d.id
    with create_artifact(ws, "analysis", name="no whitelist", parents=[feature_ws]) as d:
        d.path("summary.txt").write_text("x\n")
        bare = d.id
    cases = [
        ({"model": "direction", "config": "test"}, BadInput, "no feature set given"),
        ({"model": "patchtst", "config": "nope.yaml", "featureset_id": feature_ws}, BadInput, "does not exist"),
        ({"model": "patchtst", "config": "test", "featureset_id": feature_ws, "targets": ["future_return_3d"]}, BadInput,
         "unknown target(s) future_return_3d"),
        ({"model": "patchtst", "config": "test", "featureset_id": feature_ws, "targets": ["direction_1h", "direction_1h"]},
         BadInput, "listed twice"),
        ({"model": "direction", "config": "{syms}", "featureset_id": feature_ws}, BadInput, "DOGEUSDT not in feature set"),
        ({"model": "direction", "config": "{excl}", "featureset_id": feature_ws}, BadInput, "data.exclude names unknown"),
        ({"model": "direction", "config": "{dates}", "featureset_id": feature_ws}, BadInput, "no rows left"),
        ({"model": "direction", "config": "{ctx}", "featureset_id": feature_ws}, BadInput, "too few rows (300)"),
        ({"model": "direction", "config": "test", "featureset_id": feature_ws, "report_id": other}, BadInput,
         "not from feature set"),
        ({"model": "direction", "config": "test", "featureset_id": feature_ws, "report_id": bare}, NotFound,
         "no included_features.txt"),
        ({"model": "direction", "config": "test", "featureset_id": feature_ws, "report_id": "analysis-nope"}, NotFound,
         "no analysis artifact"),
    ]
    files = {"{syms}": "data: {symbols: [DOGEUSDT]}", "{excl}": "data: {exclude: [not_a_feature]}",
             "{dates}": "data: {start: 2030-01-01}", "{ctx}": "data: {last_bars: 300, context_window: 96}"}
    for key, text in files.items():
        (tmp_path / f"{key[1:-1]}.yaml").write_text(text + "\n")
    before = snapshot(ws.root)
    for kw, exc, needle in cases:
        if kw["config"] in files:
            kw["config"] = str(tmp_path / f"{kw['config'][1:-1]}.yaml")
        with pytest.raises(exc) as e:
            start_run(ws, **kw)
        assert needle in str(e.value), (kw, str(e.value))
    assert snapshot(ws.root) == before


def test_remote_forwards_the_train_arguments_to_the_sync_module(ws, monkeypatch):
    """Our side of the contract with engine/sync/remote_jobs.py: the same command, minus --remote."""
    import sys
    import types
    from argparse import Namespace

    from engine.training.cli import cmd_train

    calls = []
    stub = types.ModuleType("engine.sync.remote_jobs")
    stub.submit_remote_train = lambda w, host, args: calls.append((w, host, args)) or {"id": "job-remote-1", "host": host}
    monkeypatch.setitem(sys.modules, "engine.sync.remote_jobs", stub)
    args = Namespace(model="patchtst", config="production", featureset="features-x", report=None, targets="direction_1h",
                     name="gpu run", remote="paperspace")
    assert cmd_train(args, ws) == {"id": "job-remote-1", "host": "paperspace"}
    assert calls == [(ws, "paperspace", ["train", "patchtst", "--config", "production", "--featureset", "features-x",
                                         "--targets", "direction_1h", "--name", "gpu run"])]
    assert not (ws.root / "training").exists()  # nothing trained here


def test_remote_is_refused_without_the_sync_module(feature_ws, ws, monkeypatch, capsys):
    """A build without Cloud Sync: the import of engine.sync.remote_jobs fails -> a clear refusal, exit 2."""
    import sys

    from engine.cli import main

    monkeypatch.setitem(sys.modules, "engine.sync.remote_jobs", None)  # makes the import raise ImportError
    before = snapshot(ws.root)
    rc = main(["train", "direction", "--config", "test", "--featureset", feature_ws, "--remote", "gpu1"])
    assert rc == 2 and "remote training is not available in this build" in capsys.readouterr().err
    assert snapshot(ws.root) == before


KILL_CONFIG = """
data: {last_bars: 1500, context_window: 48}
model: {direction: {hidden: 16, n_blocks: 2}}
training: {epochs: 3, batch_size: 32, lr: 0.003, max_batches_per_epoch: 8, eval_batch_size: 256,
           early_stopping_patience: 0, num_threads: 1, device: cpu, seed: 11, checkpoint_every_steps: 2}
"""


def test_sigkilled_job_resumes_to_the_metrics_of_an_uninterrupted_run(feature_ws, ws, tmp_path):
    from engine import jobs

    cfg = tmp_path / "kill.yaml"
    cfg.write_text(KILL_CONFIG)
    job = jobs.submit(ws, ["train", "direction", "--config", str(cfg), "--featureset", feature_ws])
    # wait for a checkpoint taken inside the second of three epochs, then SIGKILL the job's process group
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:
        found = list((ws.root / "training").glob("*/checkpoints/last.pt")) if (ws.root / "training").is_dir() else []
        if found:
            try:
                state = torch.load(found[0], weights_only=True)["state"]
            except (EOFError, RuntimeError, OSError):
                state = None
            if state and state["epoch"] >= 1 and state["batch"] > 0:
                break
        assert jobs.get(ws, job.id).status in ("queued", "running"), jobs.log_tail(ws, job.id)
        time.sleep(0.05)
    else:
        pytest.fail("no mid-epoch checkpoint within 120 s")
    os.killpg(job.pid, signal.SIGKILL)
    time.sleep(0.3)
    assert jobs.get(ws, job.id).status == "failed"  # the process died: recorded as such
    run_id = found[0].parent.parent.name
    assert not ws.artifact_dir("model", run_id).exists()
    listed = {r["id"]: r for r in json.loads(run_cli("train", "list", "--json").stdout)["runs"]}
    assert listed[run_id]["status"] == "interrupted" and listed[run_id]["resumable"]

    r = run_cli("train", "resume", run_id, "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming at epoch" in r.stderr
    resumed = json.loads(r.stdout)
    ref = _train("direction", "--config", str(cfg), "--featureset", feature_ws)
    assert resumed["run_id"] == run_id and resumed["metrics"] == ref["metrics"]
    a, b = pd.read_parquet(resumed["predictions"]), pd.read_parquet(ref["predictions"])
    pd.testing.assert_frame_equal(a, b)
    ha = pd.read_csv(ws.artifact_dir("model", run_id) / "metrics.csv").drop(columns="epoch_time_s")
    hb = pd.read_csv(ws.artifact_dir("model", ref["run_id"]) / "metrics.csv").drop(columns="epoch_time_s")
    pd.testing.assert_frame_equal(ha, hb)
    assert read_manifest(ws, run_id, "model").extra["resumes"] == 1
    # a finished run cannot be resumed again
    again = run_cli("train", "resume", run_id)
    assert again.returncode == 2 and "already finished" in again.stderr
