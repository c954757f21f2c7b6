"""Charts of issue 15 item 4 in a real browser: the Features page's funding-rate chart of the
sample's perpetual, and the ZigZag text labels bounded at the longest window (markers on every pivot)."""

import pytest

from engine.plots.features import MAX_PIVOT_LABELS
from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built_set(app_workspace):
    return cli_json(app_workspace, "features", "build", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                    "--start", "2026-02-20")["featureset_id"]


def test_funding_chart_of_the_sample_perpetual(page, app_url, built_set):
    open_page(page, app_url, "features", wait_text="Features")
    page.get_by_role("tab", name="Funding").click()
    panel = page.get_by_role("tabpanel", name="Funding")
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert panel.locator(".js-plotly-plot .gtitle", has_text="BTCUSDT-PERP funding rate").count() == 1
    for name in ("longs pay", "shorts pay", "cumulative"):
        assert panel.locator(".js-plotly-plot .legendtext", has_text=name).count() == 1
    assert panel.get_by_text("funding events every 8 h", exact=False).count() == 1
    assert panel.locator(".js-plotly-plot .scatterlayer .trace path.js-line").count() >= 3  # the lines are drawn
    screenshot(page, "features-funding")


def test_zigzag_labels_bounded_at_the_longest_window(page, app_url, built_set):
    open_page(page, app_url, "features", wait_text="Features")
    page.get_by_role("tab", name="Feature sets").click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    knob = page.get_by_test_id("stSlider").filter(has_text="Days shown").locator('input[type="range"]')
    knob.focus()
    page.keyboard.press("End")  # 90 days
    wait_idle(page)
    chart = page.get_by_role("tabpanel", name="Feature sets").locator(".js-plotly-plot").first
    labels = [t for t in chart.locator(".scatterlayer .textpoint text").all_text_contents() if t.strip()]
    markers = chart.locator(".scatterlayer .points path.point").count()
    assert 0 < len(labels) <= MAX_PIVOT_LABELS and set(labels) <= {"HH", "LH", "HL", "LL"}
    assert markers >= len(labels)
    if markers > MAX_PIVOT_LABELS:  # more pivots than labels: exactly the largest swings are labelled
        assert len(labels) == MAX_PIVOT_LABELS
    screenshot(page, "features-zigzag-90d")
