"""Browser tests of the Analysis Report: run an analysis from the page as a background job,
browse the result, search a feature; and open the self-contained HTML report in headless
Chromium with the network cut off, showing its charts.  Screenshots in tests/e2e/screenshots/."""
import os

import pytest

from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
STATE: dict = {}


@pytest.fixture(scope="module")
def featureset(app_workspace):
    """A small feature set in the app's workspace, made with the CLI (the app holds only the sample)."""
    return cli_json(app_workspace, "features", "build", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                    "--start", "2026-01-10", "--quiet")["featureset_id"]


def _report_id(app_workspace, featureset) -> str:
    if "report_id" not in STATE:  # the page test did not leave one: make it with the CLI
        STATE["report_id"] = cli_json(app_workspace, "analyze", featureset, "--target", "direction_4h",
                                      "--quiet")["report_id"]
    return STATE["report_id"]


def test_run_an_analysis_from_the_page_and_browse_it(page, app_url, app_workspace, featureset):
    open_page(page, app_url, "analysis-report", wait_text="Analysis Report")
    page.get_by_role("tab", name="New report").click()
    page.get_by_role("button", name="Run analysis").click()
    page.get_by_text("is ready", exact=False).first.wait_for(timeout=240_000)
    text = page.get_by_text("is ready", exact=False).first.inner_text()
    STATE["report_id"] = next(w for w in text.split() if w.startswith("analysis-"))
    wait_idle(page)
    page.get_by_role("tab", name="Report", exact=True).click()
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.get_by_text("direction_4h", exact=False).count() >= 1
    screenshot(page, "analysis-report")
    page.get_by_role("tab", name="Feature", exact=True).click()
    box = page.get_by_role("combobox", name="Search a feature")
    box.click()
    box.fill("rsi_14")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_text("Highly correlated with", exact=False).or_(page.get_by_text("Included in the whitelist")).first.wait_for(
        timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "analysis-feature-card")


def test_html_report_opens_offline_and_shows_its_charts(browser, app_workspace, featureset):
    rid = _report_id(app_workspace, featureset)
    html = app_workspace / "artifacts" / "analysis" / rid / "feature_analysis_report.html"
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=True)
    requested = []

    def no_network(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requested.append(route.request.url)
            route.abort()

    ctx.route("**/*", no_network)
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pg.goto(html.as_uri(), wait_until="load")
        pg.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
        n_plots = pg.locator(".js-plotly-plot").count()
        assert n_plots >= 6
        assert pg.locator(".js-plotly-plot .main-svg").count() >= n_plots  # every chart drew
        assert pg.get_by_role("heading", name="Exclusions").count() == 1
        # the tables sort on a click on their header
        first = pg.locator("#imp tbody tr td").nth(1).inner_text()
        pg.locator("#imp thead th", has_text="rank").click()
        pg.locator("#imp thead th", has_text="rank").click()
        assert pg.locator("#imp tbody tr td").nth(1).inner_text() != first
        shot = screenshot(pg, "analysis-html-report")
        assert shot.stat().st_size > 50_000
    finally:
        ctx.close()
    assert requested == [] and errors == [], (requested[:5], errors[:5])
    assert os.path.getsize(html) < 15_000_000
