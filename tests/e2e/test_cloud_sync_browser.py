"""Cloud Sync in a real browser against the running app: the Hub section pointed at the
Hub-compatible test server (endpoint and token typed into the page) tests the connection,
plans a klines download as a dry run, runs it, and the History tab lists it; the SSH tab
opens with its profile form."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
REPO = "klinelab/browser-klines"


def _fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def test_hub_download_through_the_page(page, app_url, app_workspace, hub_server, tmp_path):
    from tests.fixtures.klines import kline_file_bytes, resample, sample_candles

    btc_1h = resample(sample_candles("BTCUSDT"), "1h")  # the sample has 15m only: this series is new to the app
    hub_server.seed(REPO, {"klines/BTCUSDT/BTC_1h.parquet": kline_file_bytes(btc_1h, "1h", tmp_path, "b.parquet")})
    open_page(page, app_url, "", wait_text="KlineLab")  # the app's first page view (its pages register then)
    open_page(page, app_url, "cloud-sync", wait_text="Cloud Sync")
    assert page.get_by_role("heading", name="Cloud Sync").count() >= 1
    _fill(page, "Repository (owner/name)", REPO)
    _fill(page, "Endpoint", hub_server.url)
    _fill(page, "Token (kept for this session only; default: Streamlit secrets or HF_TOKEN)", hub_server.read_token)
    page.get_by_role("button", name="Test connection").first.click()
    page.get_by_text("exists (head", exact=False).first.wait_for(timeout=60_000)

    page.get_by_text("download", exact=True).first.click()
    wait_idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Group").click()
    page.get_by_role("option", name="klines - Klines (klines/{SYMBOL}/{BASE}_{tf}.parquet)").click()
    wait_idle(page)
    page.get_by_role("button", name="Plan (dry run)").click()
    page.get_by_text("Dry run:", exact=False).first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_test_id("stMetric").filter(has_text="new").count() == 1  # the plan: one new file
    screenshot(page, "cloud-sync-plan")
    page.get_by_role("button", name="Run download").click()
    page.get_by_text("succeeded: 1 file(s)", exact=False).first.wait_for(timeout=90_000)
    wait_idle(page)
    from storage.artifacts import read_manifest
    from storage.workspace import Workspace

    m = read_manifest(Workspace.open(app_workspace), "ohlcv-BTCUSDT-1h")
    assert m.metrics["rows"] == len(btc_1h)
    page.get_by_role("tab", name="History").click()
    wait_idle(page)
    screenshot(page, "cloud-sync-history")
    assert (app_workspace / "sync_history.jsonl").read_text().count('"op": "download"') == 1
    page.get_by_role("tab", name="SSH / Paperspace").click()
    page.get_by_text("Save profile").first.wait_for(timeout=30_000)
    screenshot(page, "cloud-sync-ssh")
    # the token typed into the page is nowhere on disk: workspace, job logs, the app's own log
    needle = hub_server.read_token.encode()
    assert not [p for p in app_workspace.parent.rglob("*") if p.is_file() and needle in p.read_bytes()]
