"""`stage2 batch`: every pair in one resumable job with per-pair progress; a failing pair is
reported and the batch goes on."""
import json

import pytest

from config.errors import BadInput
from engine import jobs
from engine.stage2.batch import STATE_FILE, read_state, results_table, run_batch
from engine.stage2.stage1_train import Stage1TrainConfig
from engine.stage2.stage2 import Stage2Config
from storage.manifest import write_json_atomic
from tests.conftest import snapshot
from tests.stage2.conftest import S1_FEATURES


def test_batch_job_reports_failures_and_goes_on(stage1_ws, ws):
    fsid, s1 = stage1_ws
    st = jobs.submit(ws, ["stage2", "batch", "--symbols", "ETHUSDT,XRPUSDT,BTCUSDT", "--timeframes", "15m",
                          "--cv-folds", "3"])
    st = jobs.wait(ws, st.id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(ws, st.id)
    state = read_state(st.id, ws)
    assert (ws.jobs_dir / st.id / STATE_FILE).is_file()
    by = {r["symbol"]: r for r in state["pairs"]}
    assert [r["symbol"] for r in state["pairs"]] == ["ETHUSDT", "XRPUSDT", "BTCUSDT"]
    assert by["ETHUSDT"]["status"] == "failed" and "no Stage 1 model for ETHUSDT 15m" in by["ETHUSDT"]["error"]
    assert by["XRPUSDT"]["status"] == "failed" and "no feature set for XRPUSDT 15m" in by["XRPUSDT"]["error"]
    assert by["BTCUSDT"]["status"] == "succeeded" and by["BTCUSDT"]["stage1_id"] == s1["stage1_id"]
    assert by["BTCUSDT"]["featureset_id"] == fsid and 0 <= by["BTCUSDT"]["accuracy"] <= 1
    assert st.result["succeeded"] == 1 and st.result["failed"] == 2
    assert by["BTCUSDT"]["stage2_id"] in st.artifacts  # the job lists what it produced
    log = jobs.log_tail(ws, st.id)
    assert "[3/3] BTCUSDT 15m: Stage 2: " in log and "[1/3] ETHUSDT 15m" in log
    table = results_table(state)
    assert table.status.tolist() == ["failed", "failed", "succeeded"] and table.loc[2, "cv_accuracy_mean"] > 0
    assert table.loc[2, "cv_folds"] == 3 and table.loc[2, "signals_test"] > 0  # the samples beside the figures


def test_resume_runs_what_is_left(stage1_ws, ws, tmp_path):
    _fsid, s1 = stage1_ws
    # a batch that died while BTC was running; ETH had failed
    opts = {"stage1": "latest", "featureset_id": None, "repo_id": None, "revision": None, "stage1_features": None,
            "sequence_length": None, "stage1_config": Stage1TrainConfig().__dict__,
            "stage2_config": Stage2Config(cv_folds=3).__dict__}
    dead = tmp_path / "dead.json"
    write_json_atomic(dead, {"options": opts, "pairs": [
        {"symbol": "ETHUSDT", "timeframe": "15m", "status": "failed", "error": "no Stage 1 model"},
        {"symbol": "BTCUSDT", "timeframe": "15m", "status": "running", "error": None}]})
    res = run_batch(ws, resume=str(dead))
    assert [r["status"] for r in res["pairs"]] == ["failed", "succeeded"] and res["resumed_from"] == str(dead)
    assert json.loads((tmp_path / "dead.json").read_text())["pairs"][1]["status"] == "running"  # the old state is kept
    # --retry-failed with a Stage 1 trained in the batch for ETH
    opts["stage1"], opts["stage1_config"] = "train", Stage1TrainConfig(sequence_length=8, units=4, epochs=1,
                                                                       features=S1_FEATURES).__dict__
    opts["stage2_config"] = Stage2Config(pass_rate=0.5, cv_folds=3).__dict__
    write_json_atomic(dead, {"options": opts, "pairs": res["pairs"]})
    again = run_batch(ws, resume=str(dead), retry_failed=True)
    eth = again["pairs"][0]
    assert eth["status"] == "succeeded", eth["error"]
    assert eth["stage1_id"].startswith("stage1-") and eth["stage1_id"] != s1["stage1_id"]
    assert again["pairs"][1]["stage2_id"] == res["pairs"][1]["stage2_id"]  # done pairs are not redone


def test_batch_without_any_usable_pair_is_refused(ws, sample_ws):
    before = snapshot(ws.root)
    with pytest.raises(BadInput, match="none of the 1 pair"):
        run_batch(ws, symbols=["BTCUSDT"], timeframes=["1h"])
    with pytest.raises(BadInput, match="needs --repo-id"):
        run_batch(ws, stage1="hub")
    assert snapshot(ws.root) == before


def test_a_pool_batch_without_any_usable_pair_gives_its_own_message(ws, sample_ws):
    """`--workers 2`: every pair lacks its inputs, so the pool gets no task at all; the batch still says
    what went wrong (it used to be `unexpected failure: ValueError` from a pool of 0 processes)."""
    from tests.conftest import run_cli

    r = run_cli("stage2", "batch", "--symbols", "BTCUSDT", "--timeframes", "1h", "--workers", "2")
    err = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(err) == 1, r.stderr
    assert "none of the 1 pair(s) produced a Stage 2 model: BTCUSDT 1h: no feature set" in err[0], r.stderr
