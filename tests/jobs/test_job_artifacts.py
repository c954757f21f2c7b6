"""A job records the artifacts it MADE (what it published), never the inputs its result names under
``*_id`` keys (issue 15: the jobs panel links "the artifact a job made")."""
from __future__ import annotations

from engine import jobs
from storage.artifacts import create_artifact, recording_published
from tests.backtest.fakes import make_model


def _run_job(ws, *args: str):
    st = jobs.wait(ws, jobs.submit(ws, list(args)).id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(ws, st.id, 3000)
    return st


def test_features_build_then_analyze_jobs_record_only_what_they_made(sample_ws):
    ws = sample_ws
    built = _run_job(ws, "features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-02-01",
                     "--families", "returns,time")
    fid = built.result["featureset_id"]
    assert built.artifacts == [fid]
    # the analysis result names its input feature set under `featureset_id`: not an artifact the job made
    analysed = _run_job(ws, "analyze", fid, "--target", "direction_1h", "--low-importance-pct", "0")
    rid = analysed.result.get("report_id") or analysed.result["id"]
    assert analysed.result.get("featureset_id") == fid  # the input is still in the result ...
    assert analysed.artifacts == [rid]  # ... but the job lists the report only
    # a second build of the same feature set is a cache hit: nothing published, nothing made
    again = _run_job(ws, "features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-02-01",
                     "--families", "returns,time")
    assert again.result["featureset_id"] == fid and again.artifacts == []


def test_backtest_job_records_the_backtest_not_the_model(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=0.8)
    st = _run_job(sample_ws, "backtest", mid, "--threshold", "0.55")
    assert st.result["model_id"] == mid
    assert st.artifacts == [st.result["backtest_id"]]


def test_recording_published_sees_only_what_is_published_inside_the_block(ws):
    with create_artifact(ws, "archive", name="before") as before:
        before.path("a.txt").write_text("a")
    with recording_published() as made:
        with create_artifact(ws, "archive", name="inside") as inside:
            inside.path("b.txt").write_text("b")
        try:
            with create_artifact(ws, "archive", name="failed") as failed:
                failed.path("c.txt").write_text("c")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    with create_artifact(ws, "archive", name="after") as after:
        after.path("d.txt").write_text("d")
    assert made == [inside.id]
    assert before.id not in made and failed.id not in made and after.id not in made
