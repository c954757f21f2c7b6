"""Training page in a real browser: a run started from the form with config overrides is
followed (live curves, progress) until it finishes; the Runs tab shows it with its curves and
metrics, next to a run trained from the CLI, and the Compare tab sets them side by side."""

import pytest

from tests.e2e.conftest import cli_json, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

QUICK = "data: {last_bars: 1000, context_window: 32}\ntraining: {epochs: 2, max_batches_per_epoch: 3}"


@pytest.fixture(scope="module")
def cli_run(app_workspace):
    fid = cli_json(app_workspace, "features", "build", "--symbols", "BTCUSDT,ETHUSDT", "--timeframe", "15m",
                   "--start", "2026-02-20")["featureset_id"]
    return cli_json(app_workspace, "train", "patchtst", "--config", "test", "--featureset", fid,
                    "--targets", "direction_1h,future_return_1h", "--name", "from the CLI")["run_id"]


def test_launch_follow_and_compare_runs(page, app_url, cli_run):
    open_page(page, app_url, "training", wait_text="Start training")
    page.get_by_label("Config overrides (YAML, optional)").fill(QUICK)
    page.get_by_label("Run name (optional)").fill("from the browser")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("job-train-direction", exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("finished: best epoch", exact=False).first.wait_for(timeout=240_000)
    wait_idle(page)
    assert page.locator(".js-plotly-plot").count() >= 2  # the run's loss and metric curves
    screenshot(page, "training-finished")

    page.get_by_role("tab", name="Runs").click()
    page.get_by_text(cli_run).first.wait_for(timeout=30_000)
    wait_idle(page)
    assert page.get_by_text("majority class").count() >= 1  # the selected run's metrics against the baseline
    page.get_by_role("tab", name="Compare").click()
    wait_idle(page)
    screenshot(page, "training-compare")
    assert page.get_by_text("val_loss").count() >= 1
