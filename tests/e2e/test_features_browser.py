"""Features page in a real browser: a stored set shows its audit, badges and the chart with
ZigZag pivots; the Build form starts a job whose progress is followed until the result shows."""

import pytest

from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built_set(app_workspace):
    return cli_json(app_workspace, "features", "build", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                    "--start", "2026-02-20")["featureset_id"]


def test_feature_set_tab_shows_audit_and_chart(page, app_url, built_set):
    open_page(page, app_url, "features", wait_text="Features")
    page.get_by_role("tab", name="Feature sets").click()
    page.get_by_text("Leakage audit passed", exact=False).first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text(built_set).count() >= 1
    # the ZigZag pivots are drawn on the candles (legend entries of the pivot types)
    assert page.locator(".js-plotly-plot .legendtext", has_text="ZigZag").count() >= 1
    assert page.locator(".js-plotly-plot .legendtext", has_text="HH").count() >= 1
    shot = screenshot(page, "features-set")
    assert shot.stat().st_size > 30_000


def test_build_form_runs_a_job_to_completion(page, app_url, app_workspace):
    open_page(page, app_url, "features", wait_text="Build features")
    # the date field is a react-aria group of spin buttons: type into the year, the rest follows
    page.get_by_role("spinbutton", name="year, From (UTC, optional)").click()
    page.keyboard.type("2026")
    page.keyboard.type("02")
    page.keyboard.type("20")  # the last ~7 weeks of the sample: a quick build
    page.keyboard.press("Escape")  # close the calendar pop-over
    screenshot(page, "features-build-form")
    page.get_by_role("button", name="Build features").click()
    page.get_by_text("job-features-build", exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("audit: no leaking feature", exact=False).first.wait_for(timeout=240_000)
    wait_idle(page)
    screenshot(page, "features-built")
    assert page.get_by_text("24 targets", exact=False).count() >= 1
    from engine.jobs import list_jobs
    from storage.workspace import Workspace

    job = next(j for j in list_jobs(Workspace.open(app_workspace)) if j.command[:2] == ["features", "build"])
    assert "--start" in job.command and job.command[job.command.index("--start") + 1] == "2026-02-20"
