"""Every page of the running app opens in headless Chromium without an exception; a
screenshot of each is saved under tests/e2e/screenshots/."""
import pytest

from tests.e2e.conftest import open_page, screenshot

pytestmark = pytest.mark.e2e

PAGES = [("", "KlineLab"), ("data", "Data"), ("features", "Features"), ("analysis-report", "Analysis Report"),
         ("training", "Training"), ("stage2", "Stage 2"), ("backtest", "Backtest"), ("cloud-sync", "Cloud Sync")]


@pytest.mark.parametrize("path,title", PAGES)
def test_page_opens_without_exception(page, app_url, path, title):
    open_page(page, app_url, path, wait_text=title)
    shot = screenshot(page, f"page-{path or 'home'}")
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
    assert page.get_by_role("heading", name=title).count() >= 1


def test_data_page_shows_sample_chart(page, app_url):
    open_page(page, app_url, "data", wait_text="Coverage")
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.get_by_text("BTCUSDT").count() >= 1
    screenshot(page, "data-chart")
