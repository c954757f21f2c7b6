"""Walk-forward folds as executor tasks (``train ... --executor local --workers 2``): the same per-fold
metrics, predictions, trades and fold files as the sequential in-process run; a failing fold fails
the run with its message and publishes nothing.

Both runs use the ``test`` preset (``training.num_threads: 1``, device cpu, seed 7): with one torch
thread in every process, CPU training is deterministic across processes: the figures came out
bit-identical here; they are compared to a tight tolerance (1e-6 relative) only so that a torch
build reordering float sums does not make the test flaky."""
import json

import numpy as np
import pandas as pd
import pytest

from config.errors import KlineLabError
from engine.training import run as run_mod
from engine.training.config import TrainRequest
from storage.artifacts import read_manifest
from tests.conftest import run_cli

SPLIT = "split: {mode: walk_forward, n_folds: 2, initial_frac: 0.6, walk_mode: expanding}\n"


def _frames_close(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        if pd.api.types.is_float_dtype(a[c]):
            np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-6, atol=1e-9, equal_nan=True)
        else:
            assert a[c].tolist() == b[c].tolist(), c


def _close(a, b, path="") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-9, nan_ok=True), path
    else:
        assert a == b, path


def check_folds_match_sequential(ws, feature_ws, *executor_args: str) -> None:
    """``train direction --executor ...`` (a CLI process) gives the per-fold results, metrics, predictions,
    trades, labels and fold files of the same run with its folds one after another in this process."""
    cfg = run_mod.custom_config(ws, "test", SPLIT)
    seq = run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws)
    r = run_cli("train", "direction", "--config", str(cfg), "--featureset", feature_ws, *executor_args, "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    par = json.loads(r.stdout)
    assert "fold 1/2 finished" in r.stderr and "fold 2/2 finished" in r.stderr  # progress per fold
    assert seq["folds"] == par["folds"] == 2
    ms, mp = read_manifest(ws, seq["run_id"], "model"), read_manifest(ws, par["run_id"], "model")
    assert ms.parents == mp.parents and ms.params == mp.params

    def files(m):  # TensorBoard event files are named by time and pid
        return {f.path for f in m.files if "/tensorboard/" not in f.path}

    assert files(ms) == files(mp)  # every fold's checkpoints, scaler, metrics, predictions, ...
    fs, fp = ms.extra["fold_results"], mp.extra["fold_results"]
    assert [f["fold"] for f in fp] == [1, 2]
    _close(fs, fp)
    _close(ms.metrics, mp.metrics)
    ds, dp = ws.artifact_dir("model", seq["run_id"]), ws.artifact_dir("model", par["run_id"])
    for name in ("predictions.parquet", run_mod.TRADES_FILE, run_mod.LABELS_FILE):
        _frames_close(pd.read_parquet(ds / name), pd.read_parquet(dp / name))
    assert not run_mod.run_dir(ws, par["run_id"]).exists()  # the working folder became the artifact


def test_folds_on_local_workers_match_the_sequential_run(feature_ws, ws):
    check_folds_match_sequential(ws, feature_ws, "--executor", "local", "--workers", "2")


def test_a_failing_fold_fails_the_run_and_publishes_nothing(feature_ws, ws, monkeypatch):
    cfg = run_mod.custom_config(ws, "test", SPLIT)
    real = run_mod._train_fold

    def second_fails(fd, run, cfg, k, n, *a, **kw):
        if k == 1:
            raise ValueError("boom in fold two")
        return real(fd, run, cfg, k, n, *a, **kw)

    monkeypatch.setattr(run_mod, "_train_fold", second_fails)
    with pytest.raises(KlineLabError, match=r"fold 2/2 failed: .*boom in fold two"):
        # workers=1: the executor runs the fold tasks in this process, where the patch applies
        run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws, executor={"executor": "local", "workers": 1})
    (d,) = [p for p in run_mod.runs_root(ws).iterdir() if (p / "run.json").is_file()]
    run = json.loads((d / "run.json").read_text())
    assert run["status"] == "failed" and "boom in fold two" in run["error"]
    assert not ws.artifact_dir("model", run["id"]).exists()  # no half-indexed model
    assert (d / "folds" / "1" / "fold_result.json").is_file()  # fold 1 is kept: `train resume` continues


def test_executor_options_of_the_request():
    req = TrainRequest.build(model="direction", config="test", featureset="fs", executor="local", workers=2)
    assert req.executor_spec() == {"executor": "local", "workers": 2, "ray_address": None}
    assert req.argv() == ["train", "direction", "--executor", "local", "--workers", "2", "--config", "test",
                          "--featureset", "fs"]  # CliRequest.argv: the executor fields come first, as in every request
    assert TrainRequest.build(model="direction", config="test").executor_spec() is None  # default: in-process
    ray = TrainRequest.build(model="direction", config="test", ray_address="10.0.0.5:6379").executor_spec()
    assert ray["executor"] == "ray"


def test_a_retried_fold_starts_clean(feature_ws, ws, monkeypatch):
    """A fold task run again after its worker died finds that attempt's files in ``folds/<k>/``: it starts
    from an empty folder, so the published model lists no file of the dead attempt."""
    cfg = run_mod.custom_config(ws, "test", SPLIT)
    real = run_mod.fold_task

    def after_a_dead_attempt(item):
        fd = run_mod._fold_dirs(run_mod.Path(item["run_dir"]), 2)[item["fold"]]
        (fd / "tensorboard").mkdir(parents=True, exist_ok=True)
        (fd / "tensorboard" / "events.out.dead-attempt").write_text("half written")
        return real(item)

    monkeypatch.setattr(run_mod, "fold_task", after_a_dead_attempt)
    # workers=1: the executor runs the fold tasks in this process, where the patch applies
    res = run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws, executor={"executor": "local", "workers": 1})
    m = read_manifest(ws, res["run_id"], "model")
    assert not [f.path for f in m.files if "dead-attempt" in f.path]
    assert {f.path.split("/")[1] for f in m.files if f.path.startswith("folds/")} == {"1", "2"}
