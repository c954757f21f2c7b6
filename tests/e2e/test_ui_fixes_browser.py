"""Issue 15 item 6 in a real browser: Enter in the Data page's path field starts no import (only
the Import button does), and ticking the Backtest page's "Custom period" shows the date and time
pickers at once, before any Run press."""
from __future__ import annotations

import time

import pytest

from engine.jobs import list_jobs
from storage.workspace import Workspace
from tests.backtest.fakes import make_model
from tests.e2e.conftest import assert_no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _imports(home) -> list:
    return [j for j in list_jobs(Workspace.open(home)) if j.command[:2] == ["data", "import"]]


def test_enter_in_the_path_field_starts_no_import(page, app_url, app_workspace, tmp_path):
    before = len(_imports(app_workspace))
    open_page(page, app_url, "data", wait_text="Coverage")
    page.get_by_role("tab", name="Import").click()
    field = page.get_by_label("... or a path on this machine (file or folder)")
    field.fill(str(tmp_path / "nothing_here_15m.csv"))
    field.press("Enter")
    time.sleep(3)
    wait_idle(page)
    assert len(_imports(app_workspace)) == before  # Enter alone: no job
    page.get_by_role("button", name="Import", exact=True).click()
    deadline = time.time() + 30
    while len(_imports(app_workspace)) == before and time.time() < deadline:
        time.sleep(0.5)
    assert len(_imports(app_workspace)) == before + 1  # the button: exactly one job
    assert_no_exception(page)


def test_backtest_custom_period_shows_its_pickers_at_once(page, app_url, app_workspace):
    make_model(Workspace.open(app_workspace), "direction", ("BTCUSDT",), noise=0.8)
    open_page(page, app_url, "backtest", wait_text="vectorbt portfolios")
    assert page.get_by_text("Start date (UTC)").count() == 0
    # the Run and the Sweep tab each have one; the hidden tab's is not clickable
    page.get_by_text("Custom period (default period:").filter(visible=True).first.click()
    page.get_by_text("Start date (UTC)").filter(visible=True).first.wait_for(timeout=15_000)
    assert page.get_by_text("End time (UTC, inclusive)").count() >= 1
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, "backtest-custom-period")
