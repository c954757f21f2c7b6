"""Sweep chunks as executor tasks (``backtest sweep ... --executor local --workers 2``): the grid's cells in
contiguous chunks on local processes give the very JSON document and table of the in-process sweep, with
progress per chunk; a failing chunk fails the sweep with one error line and writes nothing.  (The same
sweep on a Ray cluster: tests/executor/test_ray_sweep_folds.py.)"""
from __future__ import annotations

import json

import pandas as pd

from engine.backtest import sweep as sweep_mod
from engine.cli import main
from tests.backtest.fakes import make_model
from tests.conftest import snapshot

# 3 thresholds x 2 stop-losses x 2 take-profits = 12 cells; 2 workers -> 4 chunks of 3 cells, which do not
# line up with the thresholds' blocks of 4
GRID = ("--thresholds", "0:0.002:0.001", "--sl-stops", "none,0.02", "--tp-stops", "none,0.03", "--direction", "both")


def comparable(doc: dict) -> dict:
    """A sweep's JSON document without what names its own artifact (id, paths, the text that quotes them)."""
    bid = doc["backtest_id"]
    out = {k: v for k, v in doc.items() if k not in ("backtest_id", "sweep_path", "_text")}
    return json.loads(json.dumps(out).replace(bid, "<id>"))


def run_json(capsys, *argv: str) -> tuple[dict, str]:
    capsys.readouterr()
    rc = main([*argv, "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err[-3000:]
    return json.loads(out.out), out.err


def test_chunk_ranges_cover_the_cells_in_order():
    assert sweep_mod.chunk_ranges(12, 4) == [(0, 3), (3, 6), (6, 9), (9, 12)]
    assert sweep_mod.chunk_ranges(5, 4) == [(0, 1), (1, 2), (2, 4), (4, 5)]
    assert sweep_mod.chunk_ranges(2, 8) == [(0, 1), (1, 2)]  # never an empty chunk
    assert sweep_mod.chunk_ranges(7, 1) == [(0, 7)]


def test_sweep_chunks_on_local_workers_equal_the_in_process_sweep(sample_ws, capsys):
    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    seq, seq_err = run_json(capsys, "backtest", "sweep", mid, *GRID)
    par, par_err = run_json(capsys, "backtest", "sweep", mid, *GRID, "--executor", "local", "--workers", "2")
    assert "chunk" not in seq_err  # without an executor option: the whole grid in this process, as before
    assert seq["points"] == par["points"] == 12 and seq["selection"]["best"] is not None
    _diff(comparable(seq), comparable(par))
    assert comparable(par) == comparable(seq)  # the whole JSON document, value for value
    pd.testing.assert_frame_equal(pd.read_parquet(par["sweep_path"]), pd.read_parquet(seq["sweep_path"]))
    for k in range(1, 5):  # progress per finished chunk
        assert f"({k}/4 done, on " in par_err
    assert "12 grid points in 4 chunk(s) on {'executor': 'local', 'workers': 2}" in par_err


def test_a_failing_chunk_fails_the_sweep_with_one_line_and_writes_nothing(sample_ws, capsys, monkeypatch):
    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    real, calls = sweep_mod.grid_chunk, []

    def second_chunk_fails(item):
        calls.append(item["cells"])
        if len(calls) == 2:
            raise ValueError("boom in the second chunk")
        return real(item)

    monkeypatch.setattr(sweep_mod, "grid_chunk", second_chunk_fails)
    before = snapshot(sample_ws.root / "artifacts")
    capsys.readouterr()
    # workers=1: the executor runs the chunks in this process, where the patch applies (2 chunks of 6 cells)
    rc = main(["backtest", "sweep", mid, *GRID, "--executor", "local", "--workers", "1"])
    err = capsys.readouterr().err
    assert rc != 0 and calls == [(0, 6), (6, 12)]
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert lines == [("error: sweep grid chunk 2/2 (cells 7-12) failed: unexpected failure: ValueError: boom in the "
                      "second chunk")], err
    assert snapshot(sample_ws.root / "artifacts") == before  # no half-written sweep


def test_the_vectorbt_path_in_chunks_equals_it_in_one_piece(sample_ws):
    """Where the grid kernel does not apply (here: ``fast=False``), the chunks run ``Portfolio.from_signals``
    and still give the in-process figures."""
    from engine.backtest.params import BacktestParams
    from engine.backtest.sources import load_model_source

    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    kw = {"thresholds": [0.0, 0.001, 0.002], "sl_stops": [None, 0.02], "tp_stops": [None], "fast": False}
    src = load_model_source(sample_ws, mid)
    one = sweep_mod.sweep(sample_ws, src, BacktestParams(direction="both"), **kw)
    chunked = sweep_mod.sweep(sample_ws, src, BacktestParams(direction="both"), **kw,
                              executor={"executor": "local", "workers": 1})
    pd.testing.assert_frame_equal(one["table"], chunked["table"])
    assert json.dumps(one["selection"]) == json.dumps(chunked["selection"])


def test_a_job_cancel_while_the_chunks_run_cancels_the_sweep_and_writes_nothing(sample_ws):
    """A sweep job on 2 local workers cancelled while its chunks run (the job's SIGTERM): the driver stops as
    cancelled (its own `error:` line, not a kill), and no sweep is written."""
    import time

    from engine import jobs

    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    before = snapshot(sample_ws.root / "artifacts")
    st = jobs.submit(sample_ws, ["backtest", "sweep", mid, *GRID, "--executor", "local", "--workers", "2"])
    deadline = time.monotonic() + 120
    while "chunk(s) on" not in jobs.log_tail(sample_ws, st.id):  # handed to the workers, which are still starting
        assert time.monotonic() < deadline and jobs.get(sample_ws, st.id).status in ("queued", "running"), \
            jobs.log_tail(sample_ws, st.id)
        time.sleep(0.05)
    c = jobs.cancel(sample_ws, st.id, grace_s=30)
    log = jobs.log_tail(sample_ws, st.id)
    assert c.status == "cancelled", (c.error, log)
    assert "error: cancelled by the user" in log and "written" not in log, log
    assert snapshot(sample_ws.root / "artifacts") == before


def _diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            _diff(a.get(k), b.get(k), f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]")
    elif a != b:
        print("DIFF", path, repr(a)[:200], repr(b)[:200])
