"""Tuning tab of the Training page in a real browser: a study run from the CLI (small budget) shows
its selected trial with the deflated Sharpe ratio (N = completed trials) and the held-out confirmation
with their sample sizes, and Optuna's optimisation-history, parameter-importance and
parallel-coordinates charts."""

import pytest

from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def study(app_workspace):
    fid = cli_json(app_workspace, "features", "build", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                   "--start", "2026-02-20")["featureset_id"]
    return cli_json(app_workspace, "tune", "run", "--featureset", fid, "--config", "test", "--last-bars", "2000",
                    "--folds", "2", "--trials", "8", "--name", "browser study")


def test_tuning_tab_shows_the_study_and_its_charts(page, app_url, study):
    assert study["selection"]["n_complete"] >= 2, study["selection"]  # importance needs two
    open_page(page, app_url, "training", wait_text="Start training")
    page.get_by_role("tab", name="Tuning").click()
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("Start study").first.wait_for(timeout=30_000)
    wait_idle(page)
    main.get_by_text("Deflated Sharpe", exact=False).filter(visible=True).first.wait_for(timeout=30_000)
    caption = main.get_by_text("completed trials (Sharpe variance", exact=False).filter(visible=True).first
    caption.wait_for(timeout=30_000)
    text = caption.inner_text()
    assert f"N = {study['selection']['n_complete']} completed trials" in text
    assert f"{study['confirmation']['sample']['periods']} periods" in text  # the held-out sample size
    for title in ("Optimisation history", "Parameter importance", "Parallel coordinates"):
        main.get_by_text(title, exact=False).filter(visible=True).first.wait_for(timeout=30_000)
    assert main.locator(".js-plotly-plot").count() >= 3
    screenshot(page, "training-tuning")
