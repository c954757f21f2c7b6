"""A first visit straight to a deep link shows the app's own navigation, not Streamlit's legacy
list of every file in pages/ (scripts/serve.py switches the legacy mode off)."""
import pytest

from tests.e2e.conftest import open_page, running_app

pytestmark = pytest.mark.e2e


def test_deep_link_shows_the_routed_navigation(page, app_workspace):
    with running_app(app_workspace) as url:  # a fresh server: this is its very first request
        open_page(page, url, "backtest", wait_text="Backtest")
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    for title in ("Home", "Data", "Features", "Analysis Report", "Training", "Stage 2", "Backtest", "Cloud Sync"):
        assert title in nav
    assert "ui" not in nav.split("\n") and "features widgets" not in nav
