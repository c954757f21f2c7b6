"""AppTest of the Backtest page with the sample, a contract-shaped model built from real
candles, stored backtests and a sweep: it renders without an exception, shows the key
content (metrics, charts, comparison, heatmap) fast, and its Run button starts a real
backtest job whose result the page then shows."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from engine import jobs
from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest, run_sweep
from engine.backtest.sources import load_model_source
from tests.backtest.fakes import make_model
from tests.conftest import ROOT

PAGE = str(ROOT / "pages" / "backtest.py")


@pytest.fixture
def bt_ws(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT", "ETHUSDT"), noise=0.8)
    src = load_model_source(sample_ws, mid)
    a = run_backtest(sample_ws, src, BacktestParams(sl_stop=0.03))
    b = run_backtest(sample_ws, rule_source(sample_ws, symbols=["BTCUSDT"], timeframe="15m", period_of=mid), BacktestParams())
    s = run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.4, 0.5, 0.6], sl_stops=[None, 0.02], tp_stops=[None],
                  metric="sharpe")
    return sample_ws, mid, a["backtest_id"], b["backtest_id"], s["backtest_id"]


def _texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.success, *at.warning])


def test_page_shows_results_comparison_and_sweep(bt_ws):
    ws, _mid, a, b, _s = bt_ws
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    at.run()  # warm render (its speed: benchmarks/bench_ui.py, not a timed assertion)
    assert not at.exception
    assert at.title[0].value == "Backtest"
    assert [tab.label for tab in at.tabs] == ["Run", "Results", "Compare", "Sweep"]
    assert [m.label for m in at.metric][:3] == ["Total return", "Sharpe", "Max drawdown"]
    at.selectbox(key="res-pick").set_value(b).run()  # the rule's run
    text = _texts(at)
    assert "35,040 bars/year" in text and "plain rule (no training period)" in text
    # charts: equity + drawdown, trades on candles, overlaid equity curves, sweep heatmap
    charts = at.get("plotly_chart")
    # + trade analytics (trades coloured by P&L, monthly returns, P&L distribution) and the runs explorer
    # of the Compare tab (overlaid equity, metric with its CI; parallel coordinates from 3 runs on)
    assert len(charts) == 9  # 4 + 3 (trade analytics) + 2 (runs explorer)
    # the compare table holds both runs side by side
    tables = [d.value for d in at.dataframe]
    side = next(tb for tb in tables if tb.shape[1] == 2 and "Sharpe" in tb.index)
    from storage.artifacts import read_manifest

    names = {read_manifest(ws, a).name, read_manifest(ws, b).name}  # the runs by name (issue 15)
    assert len(names) == 2 and set(side.columns) == names
    top = next(tb for tb in tables if "threshold" in tb.columns and "sl_stop" in tb.columns)
    assert len(top) == 6
    # the sweep's selection-bias corrections and held-out check beside the heatmap, in plain words
    labels = [m.label for m in at.metric]
    assert "Deflated Sharpe ratio" in labels and "PBO" in labels
    assert "Held-out confirmation" in text and "ways to cut the selection part" in text
    held = next(tb for tb in tables if "held-out part" in tb.columns)
    assert {"Sharpe", "Closed trades", "Bars"} <= set(held.index)
    # pick the model's run in Results: two symbols, per-symbol table, verified out-of-sample
    at.selectbox(key="res-pick").set_value(a).run()
    assert not at.exception and "out-of-sample verified" in _texts(at)
    assert at.selectbox(key=f"res-sym-{a}").options == ["BTCUSDT", "ETHUSDT"]
    assert any(list(d.value.index) == ["BTCUSDT", "ETHUSDT"] for d in at.dataframe)


def test_run_button_starts_a_backtest_job_and_the_page_shows_its_result(bt_ws):
    ws, mid, *_ = bt_ws
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.slider(key="run-thr").set_value(0.55)
    at.number_input(key="run-sl").set_value(0.02)
    at.button[0].click().run()  # "Run backtest"
    assert not at.exception, at.exception
    job_id = at.session_state["backtest.job_id"]
    st_ = jobs.get(ws, job_id)
    cmd = st_.command
    assert cmd[:2] == ["backtest", mid] and "--threshold" in cmd and cmd[cmd.index("--threshold") + 1] == "0.55"
    assert cmd[cmd.index("--sl-stop") + 1] == "0.02" and "--json" in cmd
    done = jobs.wait(ws, job_id, timeout=300)
    assert done.status == "succeeded", jobs.log_tail(ws, job_id)
    new_id = done.result["backtest_id"]
    assert done.result["bars_per_year"] == 35_040 and new_id in done.artifacts
    at.run()  # the job panel notices the end and reruns once
    at.run()
    assert not at.exception
    assert at.session_state["backtest.result_id"] == new_id
    assert at.selectbox(key="res-pick").value == new_id


def test_page_with_no_models_and_no_backtests(sample_ws):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "No backtests yet" in text and "Run at least two backtests" in text
    # without models the source defaults to the plain rule, on the sample's series
    assert at.radio(key="run-src").value == "Plain rule (SMA crossover)"
    assert "BTCUSDT" in at.multiselect(key="run-rsyms-15m").options


def test_the_sweep_form_can_run_the_grid_on_local_workers(bt_ws):
    """The sweep form's executor expander: its default adds nothing to the command (the whole grid in the job's
    process); "local processes" with 2 workers starts ``backtest sweep ... --executor local --workers 2``."""
    ws, mid, *_ = bt_ws
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert at.selectbox(key="sweep-executor").value == ""  # default: no executor option
    next(t for t in at.text_input if t.label == "Thresholds").set_value("0.5,0.6")
    next(t for t in at.text_input if t.label == "Stop-losses").set_value("none,0.02")
    at.selectbox(key="sweep-executor").set_value("local").run()  # the Workers input is enabled for local
    at.number_input(key="sweep-workers").set_value(2)
    at.button(key="sweep-go").click().run()
    assert not at.exception, at.exception
    job_id = at.session_state["backtest.sweep_job_id"]
    cmd = jobs.get(ws, job_id).command
    assert cmd[:3] == ["backtest", "sweep", mid] and cmd[cmd.index("--executor") + 1] == "local"
    assert cmd[cmd.index("--workers") + 1] == "2" and "--ray-address" not in cmd
    done = jobs.wait(ws, job_id, timeout=300)
    assert done.status == "succeeded", jobs.log_tail(ws, job_id)
    assert done.result["points"] == 4
