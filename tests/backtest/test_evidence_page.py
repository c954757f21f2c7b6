"""The Backtest page's single-run view shows the evidence where the numbers are: CI ranges and
sample sizes beside the figures, warning badges, the warnings, the costs used, why a run made
no trade, the walk-forward folds and their spread; never "inf" / "nan" / "None"."""
from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from engine.backtest.params import BacktestParams
from engine.backtest.run import rule_source, run_backtest
from engine.backtest.sources import load_model_source
from tests.backtest.fakes import make_model
from tests.conftest import ROOT

PAGE = str(ROOT / "pages" / "backtest.py")
BAD = re.compile(r"\b(inf|-inf|nan|NaN|None|Infinity)\b")


def _texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.success, *at.warning])


def test_single_run_view_shows_cis_samples_warnings_costs_and_reasons(sample_ws):
    ws = sample_ws
    short = run_backtest(ws, rule_source(ws, symbols=["BTCUSDT"], timeframe="15m", fast=12, slow=40),
                         BacktestParams(start="2026-01-10", end="2026-01-11 07:45"))
    mid = make_model(ws, "direction", ("BTCUSDT",), noise=0.5, walk_forward_folds=3)
    src = load_model_source(ws, mid)
    wf = run_backtest(ws, src, BacktestParams())
    none = run_backtest(ws, src, BacktestParams(threshold=1.0))
    assert none["metrics"]["trades"] == 0

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    at.selectbox(key="res-pick").set_value(short["backtest_id"]).run()
    assert not at.exception, at.exception
    text = _texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sharpe"] == "-"  # 32 hours: not annualised, the period return instead
    assert "period return" in text and "95% CI" in text and "n = 128 bars" in text
    assert "< 90 days: not annualised" in text and "< 30 closed trades" in text  # badges
    for w in short["warnings"]:
        assert any(x.value == w for x in at.warning), w
    assert "Costs used: fee 0.1% per fill" in text and "direction long (default (engine.costs))" in text
    assert not BAD.search(text) and not any(BAD.search(str(v)) for v in metrics.values()), text

    at.selectbox(key="res-pick").set_value(none["backtest_id"]).run()
    assert not at.exception
    assert any(i.value == none["trades_explanation"] for i in at.info)
    assert "highest P(up)" in none["trades_explanation"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Profit factor"] == "-" and metrics["Win rate"] == "-"
    assert not BAD.search(_texts(at))

    at.selectbox(key="res-pick").set_value(wf["backtest_id"]).run()
    assert not at.exception
    assert "Spread over the folds" in _texts(at)
    spread = next(d.value for d in at.dataframe if list(d.value.columns) == ["min", "median", "max", "folds"])
    assert list(spread.index) == ["sharpe", "return", "max_drawdown"]
    folds = next(d.value for d in at.dataframe if "closed_trades" in d.value.columns and "fold" in d.value.columns)
    assert len(folds) == 3 and {"bars", "days", "sharpe", "return", "max_drawdown"} <= set(folds.columns)
