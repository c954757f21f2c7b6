"""The Stage 2 page in headless Chromium against the running app: a feature set and a small
Stage 1 are made with the CLI in the app's workspace, then a Stage 2 is trained from the page
(a background job followed to the end) and its results are read in the Results tab."""

import pytest

from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

FEATURES = "logret_1,logret_4,close_location,rsi_14,stoch_k_14,bb_pctb_20,atr_pct_14,volume_z_20"


@pytest.fixture(scope="module")
def stage1_in_app(app_workspace):
    cli_json(app_workspace, "features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2025-12-01",
             "--families", "returns,momentum,volatility,volume")
    return cli_json(app_workspace, "stage1", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--features", FEATURES,
                    "--sequence-length", "8", "--units", "8", "--epochs", "2")["stage1_id"]


def test_stage2_page_trains_and_shows_results(page, app_url, stage1_in_app):
    open_page(page, app_url, "stage2", wait_text="Stage 1 models")
    assert page.get_by_text(stage1_in_app).count() >= 1
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=30_000)
    wait_idle(page)
    screenshot(page, "stage2-stage1")
    page.get_by_role("tab", name="Train Stage 2").click()
    page.get_by_text("Target pass rate (validation split)").click()
    page.get_by_label("Target pass rate %", exact=True).fill("30")
    page.get_by_role("button", name="Train Stage 2").click()
    done = page.get_by_text("trained: see the Results tab", exact=False)
    failed = page.locator('[data-testid="stAlertContentError"]')
    done.or_(failed).first.wait_for(timeout=120_000)
    assert failed.count() == 0, failed.first.inner_text()
    wait_idle(page)
    page.get_by_role("tab", name="Results").click()
    # the metric card (a models table elsewhere on the page has a hidden "test macro F1" header too)
    page.locator('[data-testid="stMetric"]').filter(has_text="Test macro F1").first.wait_for(timeout=30_000)
    assert page.get_by_text("CV accuracy").count() >= 1
    # the headline is the accuracy over every signal bar, with the best baseline beside it
    assert page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy, all").count() == 1
    assert page.locator('[data-testid="stMetric"]').filter(has_text="Best baseline, same bars").count() == 1
    # two charts in the Results tab (confusion matrix, CV folds); charts of hidden tabs don't count
    page.locator(".js-plotly-plot:visible").nth(1).wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "stage2-results")
