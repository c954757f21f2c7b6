"""Trade analytics and runs tables in headless Chromium against the running app: two real
vectorbt backtests of the bundled sample (made with the CLI, as a user would), the Results tab
shows the trade list with exit reasons, the per-symbol summary, the monthly returns heatmap and
the P&L distribution, and picking a trade charts the candles around it; the Compare tab lists
both runs in the runs table and its parameter diff shows only the parameters that differ."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

PERIOD = ["--start", "2026-01-01", "--end", "2026-02-28 23:45"]


def _grid_text(page, has: str, has_not: str | None = None) -> str:
    """The text of the first dataframe whose (accessible) table holds ``has`` and not ``has_not``."""
    frames = page.get_by_test_id("stDataFrame").filter(has_text=has)
    if has_not:
        frames = frames.filter(has_not_text=has_not)
    frames.first.wait_for(timeout=30_000)
    return frames.first.text_content() or ""


def test_trade_analytics_and_runs_table(page, app_url, app_workspace):
    plain = cli_json(app_workspace, "backtest", "rule", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                     "--direction", "both", *PERIOD)
    stopped = cli_json(app_workspace, "backtest", "rule", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                       "--direction", "both", "--sl-stop", "0.01", "--tp-stop", "0.02", *PERIOD)
    assert plain["metrics"]["trades"] > 0 and stopped["metrics"]["trades"] > 0

    open_page(page, app_url, "backtest", wait_text="vectorbt portfolios")
    page.get_by_role("tab", name="Results").click()
    main = page.get_by_test_id("stMain")
    main.get_by_text("Trade analytics").first.wait_for(timeout=60_000)
    wait_idle(page)
    # the newest run (with stops) is open: its exit reasons and per-symbol rows are on the page
    summary = _grid_text(page, "P&L closed")
    assert "BTCUSDT" in summary and "ETHUSDT" in summary and "all" in summary
    reasons = _grid_text(page, "Exit reason", "Entry reason")
    assert "stop-loss" in reasons and "take-profit" in reasons and "signal" in reasons
    assert "None" not in reasons and "None" not in summary  # undefined figures show "-"
    trade_list = _grid_text(page, "Entry reason")
    assert "long signal" in trade_list or "short signal" in trade_list
    # monthly heatmap (Jan, Feb 2026) and the P&L distribution with its n
    main.get_by_text("Monthly returns", exact=False).first.wait_for(timeout=30_000)
    assert main.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot g.hm").count() >= 1
    assert main.get_by_text(f"P&L distribution of {stopped['metrics']['closed_trades']:,} closed trades",
                            exact=False).count() >= 1
    assert main.get_by_text("every trade on the candles", exact=False).count() == 1
    main.get_by_text("Trade analytics").first.scroll_into_view_if_needed()
    screenshot(page, "backtest-trade-analytics")
    main.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot g.hm").first.scroll_into_view_if_needed()
    screenshot(page, "backtest-monthly-returns")

    # pick the first trade of the list: the chart moves to the candles around it
    grid = page.get_by_test_id("stDataFrame").filter(has_text="Entry reason").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 50)  # the row-selection column of the first row
    main.get_by_text("Chart around the picked trade", exact=False).first.wait_for(timeout=30_000)
    wait_idle(page)
    screenshot(page, "backtest-trade-picked")

    # runs table and comparison on the Compare tab
    page.get_by_role("tab", name="Compare").click()
    main.get_by_text("All backtests").first.wait_for(timeout=60_000)
    wait_idle(page)
    table = _grid_text(page, "Total return CI lo")
    # both runs listed (same name: told apart by their ids' ends), with the stop parameters as columns
    assert plain["backtest_id"][-6:] in table and stopped["backtest_id"][-6:] in table
    assert "sl_stop" in table and "tp_stop" in table and "Total return CI hi" in table
    diff = _grid_text(page, "parameter", "CI lo")
    # only what differs: the stops (set on one run, "-" on the other), nothing the two runs share
    assert diff.startswith("parameter")
    assert ("sl_stop0.01-" in diff and "tp_stop0.02-" in diff) or ("sl_stop-0.01" in diff and "tp_stop-0.02" in diff)
    for same in ("timeframe", "fees", "slippage", "source", "direction", "start", "end", "symbols"):
        assert same not in diff
    main.get_by_text("Parameters that differ", exact=False).first.scroll_into_view_if_needed()
    assert "None" not in table and "NaN" not in table and "nan" not in diff
    screenshot(page, "backtest-runs-table")
