"""Artifacts by name in a real browser (issue 15 item 1): rename a model on the Home page and find the
new name in the Backtest page's model picker; tag it; delete is refused while a backtest descends
from it (the dialog lists the backtest), then deletes both when asked to.  Its own app and workspace
(the other browser tests keep theirs untouched)."""
from __future__ import annotations

import pytest

from storage.artifacts import read_manifest
from storage.workspace import Workspace
from tests.backtest.fakes import make_model
from tests.e2e.conftest import assert_no_exception, cli_json, click_until, open_page, running_app, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def names_app(tmp_path_factory):
    from engine.data.sources.sample import import_sample

    root = tmp_path_factory.mktemp("e2e-names") / "workspace"
    ws = Workspace.open(root)
    import_sample(ws)
    mid = make_model(ws, "direction", ("BTCUSDT",), noise=0.8)
    bid = cli_json(root, "backtest", mid)["backtest_id"]
    with running_app(root) as url:
        yield url, ws, mid, bid


def _pick_on_home(page, url: str, typed: str, option: str) -> None:
    open_page(page, url, "", wait_text="Recent artifacts")
    box = page.get_by_role("combobox", name="Rename, tag, note or delete an artifact")
    box.click()
    box.fill(typed)
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)
    page.get_by_text("Rename, tag, note, delete").first.click()  # open the expander
    wait_idle(page)


def test_rename_on_home_shows_in_the_backtest_picker_and_delete_refuses_with_descendants(page, browser, names_app):
    from playwright.sync_api import expect  # (the browser fixture skips when playwright is missing)

    url, ws, mid, bid = names_app
    assert read_manifest(ws, mid).name == "fake direction"
    _pick_on_home(page, url, "fake dir", "fake direction")
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text(mid).count() >= 1  # the id, under the picker
    name_box = page.get_by_label("Name", exact=True)
    name_box.fill("BTC trend model v2")
    tags = page.get_by_role("combobox", name="Tags")
    tags.click()
    tags.fill("keep")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # close the tag list (it hides the rest of the page from the accessibility tree)
    wait_idle(page)
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: BTC trend model v2", exact=False).first.wait_for(timeout=30_000)
    assert_no_exception(page)
    m = read_manifest(ws, mid)
    assert (m.name, m.tags) == ("BTC trend model v2", ["keep"])
    # the picker on this page shows the new name too (not the stale label it was chosen by)
    home_pick = page.get_by_test_id("stSelectbox").filter(has_text="Rename, tag, note or delete an artifact").first
    expect(home_pick.locator("input")).to_have_value("BTC trend model v2", timeout=30_000)
    screenshot(page, "names-home-renamed")

    # another page, another session: the Backtest page's model picker shows the new name, not the id
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        open_page(other, url, "backtest", wait_text="vectorbt portfolios")
        picker = other.get_by_test_id("stMultiSelect").filter(has_text="Model(s)").first
        picker.get_by_text("BTC trend model v2").wait_for(timeout=30_000)
        assert mid not in picker.inner_text()
        screenshot(other, "names-backtest-picker")
    finally:
        other.context.close()

    # delete: refused while the backtest descends from it; the dialog names it
    wait_idle(page)
    delete = page.get_by_role("button", name="Delete ...")
    if not delete.is_visible():
        page.get_by_text("Rename, tag, note, delete").first.click()  # open the expander again (closed by the rerun)
    dialog = page.get_by_role("dialog")
    refusal = dialog.get_by_text("1 other artifact(s) were made from it", exact=False)
    click_until(page, delete, refusal)
    dialog.get_by_role("button", name="Delete", exact=True).click()
    wait_idle(page)
    dialog.get_by_text("is used by 1 other artifact(s)", exact=False).wait_for(timeout=30_000)
    assert bid in dialog.inner_text()
    assert ws.artifact_dir("model", mid).is_dir() and ws.artifact_dir("backtest", bid).is_dir()
    screenshot(page, "names-delete-refused")

    # asked explicitly: both go, and the catalog with them
    dialog.get_by_text("Delete these 1 too").click()
    wait_idle(page)
    dialog.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_text("Deleted BTC trend model v2 and 1 artifact(s) made from it", exact=False).first.wait_for(timeout=30_000)
    assert_no_exception(page)
    assert not ws.artifact_dir("model", mid).exists() and not ws.artifact_dir("backtest", bid).exists()
    from storage.catalog import Catalog

    assert not {mid, bid} & set(Catalog(ws).query()["id"])
