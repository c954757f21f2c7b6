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
    from tests.training.test_fold_executor import check_folds_match_sequential

    check_folds_match_sequential(ws, feature_ws, "--executor", "ray", "--ray-address", ray_cluster)
