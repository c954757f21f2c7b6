"""Sweep chunks and walk-forward folds on the real Ray cluster (head + one worker node on loopback):
``backtest sweep ... --executor ray`` gives the very JSON document and table of the in-process sweep, and
``train ... --executor ray`` the same per-fold results as the folds one after another in-process.

The Ray runs are CLI processes (drivers of their own, as a job is): an executor started in this process
would shut down the session's Ray connection that the other tests of this folder share."""
from __future__ import annotations

import json

import pandas as pd

from tests.backtest.fakes import make_model
from tests.backtest.test_sweep_executor import GRID, comparable, run_json
from tests.conftest import run_cli


def test_sweep_chunks_on_ray_equal_the_in_process_sweep(ray_cluster, sample_ws, capsys):
    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    seq, _ = run_json(capsys, "backtest", "sweep", mid, *GRID)
    p = run_cli("backtest", "sweep", mid, *GRID, "--executor", "ray", "--ray-address", ray_cluster, "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    par = json.loads(p.stdout)
    assert comparable(par) == comparable(seq)  # the whole JSON document, value for value
    pd.testing.assert_frame_equal(pd.read_parquet(par["sweep_path"]), pd.read_parquet(seq["sweep_path"]))
    assert "12 grid points in 4 chunk(s) on {'executor': 'ray'" in p.stderr  # 2 CPUs x 2 chunks each
    assert all(f"({k}/4 done, on " in p.stderr for k in range(1, 5))  # progress per finished chunk


def test_folds_on_ray_match_the_in_process_run(ray_cluster, feature_ws, ws):
    from engine.training import run as run_mod
    from storage.artifacts import read_manifest
    from tests.training.test_fold_executor import SPLIT, _close, _frames_close

    cfg = run_mod.custom_config(ws, "test", SPLIT)
    seq = run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws)
    p = run_cli("train", "direction", "--config", str(cfg), "--featureset", feature_ws,
                "--executor", "ray", "--ray-address", ray_cluster, "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    par = json.loads(p.stdout)
    assert "fold 1/2 finished" in p.stderr and "fold 2/2 finished" in p.stderr
    ms, mp = read_manifest(ws, seq["run_id"], "model"), read_manifest(ws, par["run_id"], "model")
    assert ms.parents == mp.parents and ms.params == mp.params
    fs, fp = ms.extra["fold_results"], mp.extra["fold_results"]
    assert [f["fold"] for f in fp] == [1, 2]
    _close(fs, fp)
    _close(ms.metrics, mp.metrics)
    ds, dp = ws.artifact_dir("model", seq["run_id"]), ws.artifact_dir("model", par["run_id"])
    for name in ("predictions.parquet", run_mod.TRADES_FILE, run_mod.LABELS_FILE):
        _frames_close(pd.read_parquet(ds / name), pd.read_parquet(dp / name))
    assert not run_mod.run_dir(ws, par["run_id"]).exists()
