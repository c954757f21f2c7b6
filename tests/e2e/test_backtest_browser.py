"""The Backtest page in headless Chromium against a running app: stored runs (made with the
CLI, as a user would) show their metrics, equity/drawdown and trade charts; two runs compare
side by side; a sweep draws its heatmap; the Run button runs a real backtest job."""
from __future__ import annotations

import pytest

from storage.workspace import Workspace
from tests.backtest.fakes import make_model
from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def test_backtest_page_results_compare_sweep_and_run(page, app_url, app_workspace):
    # models following the contract, from the sample's real candles (no CLI creates fake models)
    ws = Workspace.open(app_workspace)
    mid = make_model(ws, "direction", ("BTCUSDT",), noise=0.8)
    s2 = make_model(ws, "stage2", ("BTCUSDT",), noise=1.0)
    runs = cli_json(app_workspace, "backtest", mid, s2, "--sl-stop", "0.03")["backtests"]
    sweep = cli_json(app_workspace, "backtest", "sweep", mid, "--thresholds", "0.4:0.6:0.1", "--sl-stops", "none,0.02")
    assert [r["bars_per_year"] for r in runs] == [35_040, 35_040] and sweep["points"] == 6

    open_page(page, app_url, "backtest", wait_text="vectorbt portfolios")
    assert page.get_by_role("heading", name="Backtest").count() >= 1

    page.get_by_role("tab", name="Results").click()
    page.get_by_text("bars/year", exact=False).first.wait_for(timeout=30_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    assert page.get_by_text("Total return").count() >= 1
    screenshot(page, "backtest-results")

    page.get_by_role("tab", name="Compare").click()
    page.get_by_text("Equity (start = 1.0)").first.wait_for(timeout=30_000)
    screenshot(page, "backtest-compare")

    page.get_by_role("tab", name="Sweep").click()
    page.get_by_text("Top grid points by").first.wait_for(timeout=30_000)
    assert page.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot g.hm").count() >= 1
    screenshot(page, "backtest-sweep")

    # run a backtest from the page: a background job, followed until its result shows
    page.get_by_role("tab", name="Run").click()
    page.get_by_role("button", name="Run backtest").click()
    page.get_by_text("Open it under Results").first.wait_for(timeout=240_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "backtest-run-done")
