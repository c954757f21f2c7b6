"""The whole pipeline through the UI only (issue 15 item 8): from an empty workspace (the app started
with ``KLINELAB_NO_SAMPLE=1``) the walk imports the bundled sample on the Data page, builds a small
feature set, runs and opens an analysis report, trains a tiny model, trains Stage 1 and Stage 2,
backtests the model and the Stage 2 model in one job, compares the two backtests, runs a small sweep,
trains a second run and compares the two training runs, and renames, tags and deletes artifacts in the
manage panel - no CLI set-up, one app, one browser tab (2.5-4 min on a loaded 2-core machine).

After each step it asserts on what the user sees: the new artifact's name in the pickers and tables,
no "None" / "NaN" / "nan" / "Infinity" in any table sent to the page (the tables' Arrow data is read
from the app's websocket: the grid draws on a canvas, and a missing value is drawn as a faded "None"
that its accessible text leaves out), charts with data points (or a message drawn on them), and no
exception.  One screenshot a step under tests/e2e/screenshots/ (walk-NN-*.png).  The steps run in order
and share the app; a step whose predecessor failed is skipped."""
from __future__ import annotations

import math
import re
import time

import pytest

from tests.e2e.conftest import assert_no_exception, click_until, running_app, screenshot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # one app walked end to end, minutes

JOB_TIMEOUT = 240_000  # ms: a job on a loaded 2-core machine
UI_TIMEOUT = 60_000
BAD_CELL = re.compile(r"^-?(None|NaN|nan|Infinity|inf)$")
BAD_TEXT = re.compile(r"(?<![\w.])-?(NaN|nan|Infinity)(?![\w])")  # "None" is an English word: cells only


class TableLog:
    """Every dataframe and table the app sends to the page (ForwardMsg deltas on the websocket),
    checked for what the grid would show as None / NaN / Infinity."""

    def __init__(self, page) -> None:
        self.frames: list[bytes] = []
        self.socket = None
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        """A page (re)load opens a new session: only its frames count (the old one's may still arrive)."""
        self.socket = ws
        self.frames.clear()
        ws.on("framereceived", lambda payload: self._frame(ws, payload))

    def _frame(self, ws, payload) -> None:
        if ws is self.socket and isinstance(payload, (bytes, bytearray)):
            self.frames.append(bytes(payload))

    def reset(self) -> None:
        self.frames.clear()

    def tables(self) -> list[tuple[str, str, object]]:
        """(element type, placeholder, pyarrow Table) of every dataframe / table received since reset."""
        import pyarrow as pa
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        out = []
        for raw in list(self.frames):
            msg = ForwardMsg.FromString(raw)
            if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
                continue
            el = msg.delta.new_element
            kind = el.WhichOneof("type")
            if kind not in ("dataframe", "table"):
                continue
            proto = getattr(el, kind)
            data = proto.arrow_data.data
            if not data:
                continue
            table = pa.ipc.open_stream(data).read_all()
            out.append((kind, getattr(proto, "placeholder", "") or "", table))
        return out

    def problems(self) -> list[str]:
        found = []
        for kind, placeholder, table in self.tables():
            cols = [c for c in table.column_names if not c.startswith("__index_level_")]
            head = ", ".join(cols[:6])
            for c in table.column_names:
                col = table.column(c)
                values = col.to_pylist()
                for i, v in enumerate(values):
                    bad = None
                    if v is None and kind == "dataframe" and not placeholder:
                        bad = "a missing value (drawn as None)"
                    elif (isinstance(v, float) and (math.isinf(v) or math.isnan(v))) or \
                            (isinstance(v, str) and (BAD_CELL.match(v.strip()) or BAD_TEXT.search(v))):
                        bad = repr(v)
                    if bad:
                        found.append(f"{kind} [{head}]: column {c!r} row {i}: {bad}")
                        break  # one per column is enough to say where
        return found


def visible_text_problems(page) -> list[str]:
    """What the page shows as text: the grids' accessible cells, st.table cells and metric values
    (None / NaN / Infinity), and its visible text (NaN / Infinity: "None" is an English word there)."""
    main = page.get_by_test_id("stMain")
    found = []
    for loc, what in ((main.locator('[data-testid="stDataFrame"] [role="gridcell"]'), "grid cell"),
                      (main.locator('[data-testid="stTable"] td, [data-testid="stTable"] th'), "table cell"),
                      (main.get_by_test_id("stMetricValue"), "metric")):
        for t in loc.all_text_contents():
            t = t.strip()
            if BAD_CELL.match(t) or BAD_TEXT.search(t):
                found.append(f"{what}: {t!r}")
    text = main.inner_text()  # captions, markdown, alerts of the visible part
    found += [f"text: ...{text[max(0, m.start() - 60):m.end() + 20]!r}" for m in BAD_TEXT.finditer(text)]
    return found


CHART_JS = """el => {
  const points = (el._fullData || el.data || []).filter(t => t.visible !== false).map(t => {
    if (typeof t._length === 'number' && t._length > 0) return t._length;
    for (const k of ['x', 'y', 'z', 'values', 'dimensions', 'cells', 'lat']) {
      const v = t[k]; if (v && v.length) return v.length;
    }
    return 0;
  }).reduce((a, b) => a + b, 0);
  const notes = ((el.layout || {}).annotations || []).map(a => a.text || '').join(' ');
  return [points, notes];
}"""


def visible_charts(page):
    """The visible plotly charts of the main area (a locator)."""
    return page.get_by_test_id("stMain").locator(".js-plotly-plot").filter(visible=True)


def wait_chart(page, nth: int = 0) -> None:
    """Wait until the main area shows at least ``nth + 1`` visible charts."""
    visible_charts(page).nth(nth).wait_for(timeout=UI_TIMEOUT)


def charts_shown(page) -> list[tuple[int, str]]:
    """(data points, annotation text) of every visible plotly chart of the main area."""
    return [tuple(c.evaluate(CHART_JS)) for c in visible_charts(page).all()]


def check_seen(walk, step: str, *, charts: int = 0, message: str | None = None) -> None:
    """What the user sees after a step: no exception, no None/NaN/Infinity in the tables sent to the
    page or shown as text, every visible chart with data points or a message on it (at least ``charts``
    charts), ``message`` (when given) on the page.  Saves the step's screenshot."""
    page = walk.page
    wait_idle(page)
    assert_no_exception(page)
    shot = screenshot(page, f"walk-{step}")
    assert shot.stat().st_size > 20_000
    problems = walk.tables.problems() + visible_text_problems(page)
    assert not problems, f"{step}: the page shows undefined values:\n" + "\n".join(sorted(set(problems))[:40])
    shown = charts_shown(page)
    # a chart without data must say why on itself (e.g. "no cell traded")
    assert all(n > 0 or note.strip() for n, note in shown), f"{step}: an empty chart without a message ({shown})"
    assert len(shown) >= charts, f"{step}: {len(shown)} chart(s) shown, {charts} expected"
    if message:
        assert page.get_by_test_id("stMain").get_by_text(message, exact=False).count() >= 1


class Walk:
    def __init__(self, url, root, page, tables) -> None:
        self.url, self.root, self.page, self.tables = url, root, page, tables
        self.done: dict[str, object] = {}

    def open(self, path: str, wait_text: str) -> None:
        self.tables.reset()
        self.page.goto(f"{self.url}/{path}", wait_until="domcontentloaded")
        self.page.get_by_test_id("stMain").get_by_text(wait_text, exact=False).first.wait_for(timeout=UI_TIMEOUT)
        wait_idle(self.page)
        assert_no_exception(self.page)

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"an earlier step did not finish: {', '.join(missing)}")

    def wait_job(self, done_text: str) -> None:
        """Wait for the job a form started: its success message, or fail with its error."""
        page = self.page
        main = page.get_by_test_id("stMain")
        done = main.get_by_text(done_text, exact=False)
        failed = main.get_by_text(re.compile(r"job `?job-[^`]*`?: (failed|cancelled)"))
        error = main.locator('[data-testid="stAlertContentError"]')
        done.or_(failed).or_(error).first.wait_for(timeout=JOB_TIMEOUT)
        if not done.count():
            texts = [t[:800] for t in error.all_inner_texts()] + [t[:300] for t in failed.all_inner_texts()]
            raise AssertionError(f"the job did not succeed: {texts}")
        wait_idle(page)
        done.first.scroll_into_view_if_needed()  # the step's screenshot shows the result

    def name_of(self, artifact_id: str) -> str:
        from storage.artifacts import read_manifest
        from storage.workspace import Workspace

        return read_manifest(Workspace.open(self.root), artifact_id).name

    def ids(self, kind: str) -> list[str]:
        from storage.artifacts import list_manifests
        from storage.workspace import Workspace

        return [m.id for m in sorted(list_manifests(Workspace.open(self.root), kind), key=lambda m: m.created_at)]


@pytest.fixture(scope="module")
def walk(browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-walk") / "workspace"
    t0 = time.time()
    with running_app(root, env={"KLINELAB_NO_SAMPLE": "1"}) as url:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        w = Walk(url, root, page, TableLog(page))
        try:
            yield w
        finally:
            ctx.close()
            print(f"\npipeline walk: {time.time() - t0:.0f} s")


def shown_in(page, label: str) -> str:
    """What the visible selectbox / multiselect labelled ``label`` shows: its value and its chosen items."""
    box = page.get_by_role("combobox", name=label, exact=True).filter(visible=True).first
    box.wait_for(timeout=UI_TIMEOUT)
    holder = page.get_by_test_id("stSelectbox").or_(page.get_by_test_id("stMultiSelect")).filter(has=box).first
    return f"{box.input_value()} {holder.inner_text()}"


def open_tab(page, name: str) -> None:
    """Click a tab until it is the selected one (a click that lands while a rerun redraws the page can
    be lost on a loaded machine)."""
    from playwright.sync_api import expect

    tab = page.get_by_test_id("stMain").get_by_role("tab", name=name, exact=True)
    for attempt in range(3):
        tab.click()
        try:
            expect(tab).to_have_attribute("aria-selected", "true", timeout=10_000)
        except AssertionError:
            if attempt == 2:
                raise
            continue
        wait_idle(page)
        if tab.get_attribute("aria-selected") == "true":
            return


def _pick(page, label: str, option: str, *, multi: bool = False) -> None:
    """Choose ``option`` in the selectbox / multiselect labelled ``label`` (typing to filter)."""
    box = page.get_by_role("combobox", name=label, exact=True).filter(visible=True).first
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option).first.click()
    if multi:
        page.keyboard.press("Escape")
    wait_idle(page)


def test_01_import_the_sample_on_the_data_page(walk):
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    walk.open("", "Recent artifacts")
    assert main.get_by_text("No artifacts yet", exact=False).count() == 1  # the app imported nothing by itself
    walk.open("data", "Coverage")
    assert main.get_by_text("No candles yet", exact=False).count() == 1
    open_tab(page, "Import")
    page.get_by_text("Bundled sample", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Import the bundled sample").click()
    walk.wait_job("Imported")
    imported = page.get_by_test_id("stDataFrame").filter(has_text="added_rows").filter(visible=True).first
    imported.wait_for(timeout=UI_TIMEOUT)
    assert "BTCUSDT" in imported.text_content()
    check_seen(walk, "01-data-import")
    walk.open("data", "Coverage")
    main.locator(".js-plotly-plot").first.wait_for(timeout=UI_TIMEOUT)
    table = page.get_by_test_id("stDataFrame").first.text_content()
    for sym in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        assert sym in table
    check_seen(walk, "01-data-imported", charts=1)
    walk.done["sample"] = True


def test_02_build_a_feature_set(walk):
    walk.needs("sample")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    walk.open("features", "Build features")
    symbols = page.get_by_role("combobox", name="Symbols")
    symbols.click()
    page.keyboard.press("Backspace")  # the defaults are BTC, ETH, SOL: drop SOL
    page.keyboard.press("Escape")
    wait_idle(page)
    picked = shown_in(page, "Symbols")
    assert "BTCUSDT" in picked and "ETHUSDT" in picked and "SOLUSDT" not in picked
    page.get_by_role("spinbutton", name="year, From (UTC, optional)").click()
    page.keyboard.type("2026")
    page.keyboard.type("01")
    page.keyboard.type("01")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Build features").click()
    walk.wait_job("audit: no leaking feature")
    fid = walk.ids("features")[-1]
    name = walk.name_of(fid)
    assert main.get_by_text(fid, exact=False).count() >= 1
    check_seen(walk, "02-features-built")
    walk.open("features", "Build features")
    open_tab(page, "Feature sets")
    main.get_by_text("Leakage audit passed", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    wait_chart(page)
    assert name in shown_in(page, "Feature set")  # the picker shows the set's name
    check_seen(walk, "02-features-set", charts=1)
    walk.done["features"] = (fid, name)


def test_03_run_and_open_an_analysis_report(walk):
    walk.needs("features")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    _, fname = walk.done["features"]
    walk.open("analysis-report", "Analysis Report")
    open_tab(page, "New report")
    assert fname in shown_in(page, "Feature set")
    page.get_by_role("button", name="Run analysis").click()
    walk.wait_job("is ready")
    rid = walk.ids("analysis")[-1]
    open_tab(page, "Report")
    main.locator('[data-testid="stMetric"]').first.wait_for(timeout=UI_TIMEOUT)
    wait_chart(page)
    assert walk.name_of(rid) in shown_in(page, "Report")
    assert main.get_by_text("direction_4h", exact=False).count() >= 1
    check_seen(walk, "03-analysis-report", charts=1)
    walk.done["report"] = rid


def _train_tiny(walk, name: str, *, seed: int | None = None) -> None:
    """Start a one-epoch, three-batch training run named ``name`` from the open Training page and wait."""
    page = walk.page
    seed_part = "" if seed is None else f", seed: {seed}"
    page.get_by_label("Config overrides (YAML, optional)").fill(
        "data: {last_bars: 3000, context_window: 32}\n"
        f"training: {{epochs: 1, max_batches_per_epoch: 3{seed_part}}}")
    page.get_by_label("Run name (optional)").fill(name)
    page.get_by_role("button", name="Start training").click()
    walk.wait_job("finished: best epoch")


def test_04_train_a_tiny_model(walk):
    walk.needs("features")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    _, fname = walk.done["features"]
    walk.open("training", "Start training")
    assert fname in shown_in(page, "Feature set")
    _train_tiny(walk, "walk model")
    wait_chart(page, 1)
    check_seen(walk, "04-training-finished", charts=2)
    mid = walk.ids("model")[-1]
    assert walk.name_of(mid) == "walk model"
    walk.open("training", "Start training")
    open_tab(page, "Runs")
    main.get_by_text("majority class").filter(visible=True).first.wait_for(timeout=UI_TIMEOUT)
    assert "walk model" in shown_in(page, "Run")
    check_seen(walk, "04-training-runs", charts=2)
    walk.done["model"] = mid


def test_05_train_stage1_and_stage2(walk):
    walk.needs("features")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    walk.open("stage2", "Stage 1 models")
    page.get_by_test_id("stButtonGroup").get_by_text("Train", exact=True).click()  # the Stage 1 source
    wait_idle(page)
    page.get_by_label("Sequence length", exact=True).fill("8")
    page.get_by_label("LSTM units", exact=True).fill("8")
    page.get_by_label("Epochs", exact=True).fill("1")
    page.get_by_role("button", name="Train Stage 1").click()
    walk.wait_job("is ready")
    s1 = walk.ids("stage1")[-1]
    main.get_by_text("Stage 1 models").first.wait_for(timeout=UI_TIMEOUT)
    assert walk.name_of(s1) in shown_in(page, "Details of")
    check_seen(walk, "05-stage1-trained", charts=1)

    open_tab(page, "Train Stage 2")
    page.get_by_text("Target pass rate (validation split)").click()
    page.get_by_label("Target pass rate %", exact=True).fill("30")
    page.get_by_text("LightGBM and cross-validation").click()
    page.get_by_label("CV folds", exact=True).fill("2")
    page.get_by_label("Boosting rounds", exact=True).fill("20")
    page.get_by_role("button", name="Train Stage 2").click()
    walk.wait_job("trained: see the Results tab")
    s2 = walk.ids("stage2")[-1]
    open_tab(page, "Results")
    main.locator('[data-testid="stMetric"]').filter(has_text="Test macro F1").first.wait_for(timeout=UI_TIMEOUT)
    assert walk.name_of(s2) in shown_in(page, "Model")
    check_seen(walk, "05-stage2-results", charts=2)
    walk.done["stage2"] = s2


def test_06_backtest_the_models_and_compare(walk):
    walk.needs("model", "stage2")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    s2 = walk.done["stage2"]
    walk.open("backtest", "vectorbt portfolios")
    if "walk model" not in shown_in(page, "Model(s)"):
        _pick(page, "Model(s)", "walk model", multi=True)
    _pick(page, "Model(s)", walk.name_of(s2), multi=True)
    text = shown_in(page, "Model(s)")
    assert "walk model" in text and walk.name_of(s2) in text
    page.get_by_role("button", name="Run backtest").click()
    walk.wait_job("Open it under Results")
    bids = walk.ids("backtest")
    assert len(bids) == 2
    check_seen(walk, "06-backtest-run")

    open_tab(page, "Results")
    main.get_by_text("bars/year", exact=False).filter(visible=True).first.wait_for(timeout=UI_TIMEOUT)
    wait_chart(page)
    check_seen(walk, "06-backtest-results", charts=1)

    open_tab(page, "Compare")
    main.get_by_text("All backtests").filter(visible=True).first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page)
    picked = shown_in(page, "Backtests")
    for b in bids:
        assert walk.name_of(b) in picked
    check_seen(walk, "06-backtest-compare", charts=1)
    walk.done["backtests"] = bids


def test_07_run_a_small_sweep(walk):
    walk.needs("model")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    walk.open("backtest", "vectorbt portfolios")
    open_tab(page, "Sweep")
    _pick(page, "Model", "walk model")
    # the tiny model's probabilities stay near 1/3: low thresholds, both directions, so that cells trade
    page.get_by_role("textbox", name="Thresholds").fill("0.3,0.35")
    _pick(page, "Direction", "both")
    page.get_by_role("textbox", name="Stop-losses").fill("none,0.02")
    page.get_by_role("textbox", name="Stop-losses").press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="Run sweep").click()
    walk.wait_job("grid points (grid kernel")
    main.get_by_text("Top grid points by").filter(visible=True).first.wait_for(timeout=UI_TIMEOUT)
    assert main.get_by_text(re.compile(r"4 grid points .*; [1-9] traded")).count() == 1, "no cell of the sweep traded"
    sid = [b for b in walk.ids("backtest") if b not in walk.done.get("backtests", [])][-1]
    assert walk.name_of(sid) in shown_in(page, "Sweep")
    check_seen(walk, "07-sweep", charts=1)
    walk.done["sweep"] = sid


def _manage_on_home(walk, label: str) -> None:
    page = walk.page
    walk.open("", "Recent artifacts")
    _pick(page, "Rename, tag, note or delete an artifact", label)
    expander = page.get_by_text("Rename, tag, note, delete").first
    if not page.get_by_role("button", name="Delete ...").is_visible():
        expander.click()
    wait_idle(page)


def test_08_train_a_second_run_and_compare_the_runs(walk):
    walk.needs("model")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    walk.open("training", "Start training")
    _train_tiny(walk, "second run", seed=1)
    walk.open("training", "Start training")
    open_tab(page, "Compare")
    main.get_by_text("All training runs").filter(visible=True).first.wait_for(timeout=UI_TIMEOUT)
    wait_chart(page)
    for label in ("Runs", "Runs to compare"):
        picked = shown_in(page, label)
        assert "walk model" in picked and "second run" in picked, (label, picked)
    check_seen(walk, "08-training-compare", charts=2)


def test_09_rename_tag_and_delete(walk):
    walk.needs("model")
    page, main = walk.page, walk.page.get_by_test_id("stMain")

    mid = walk.done["model"]
    _manage_on_home(walk, "walk model")
    assert main.get_by_text(mid).count() >= 1
    page.get_by_label("Name", exact=True).fill("walk model v2")
    tags = page.get_by_role("combobox", name="Tags")
    tags.click()
    tags.fill("walked")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_role("button", name="Save").click()
    main.get_by_text("Saved: walk model v2", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    check_seen(walk, "09-renamed")
    walk.open("", "Recent artifacts")
    recent = page.get_by_test_id("stDataFrame").filter(has_text="walk model v2")  # the recent-artifacts table
    recent.first.wait_for(timeout=UI_TIMEOUT)
    assert "walked" in recent.first.text_content()  # its tag
    walk.open("backtest", "vectorbt portfolios")
    box = page.get_by_role("combobox", name="Model(s)", exact=True).filter(visible=True).first
    box.click()
    box.fill("walk model")
    page.get_by_role("option", name="walk model v2").first.wait_for(timeout=UI_TIMEOUT)  # the new name in the picker
    assert page.get_by_role("option", name="walk model", exact=True).count() == 0  # not the old one
    page.keyboard.press("Escape")

    # delete the sweep (nothing was made from it)
    sweep = walk.done.get("sweep") or walk.done.get("report")
    assert sweep, "nothing to delete"
    name = walk.name_of(sweep)
    _manage_on_home(walk, name)
    dialog = page.get_by_role("dialog")
    click_until(page, page.get_by_role("button", name="Delete ..."), dialog.get_by_role("button", name="Delete", exact=True))
    dialog.get_by_role("button", name="Delete", exact=True).click()
    main.get_by_text(f"Deleted {name}", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    from storage.workspace import Workspace

    assert not Workspace.open(walk.root).artifact_dir("backtest", sweep).exists()
    check_seen(walk, "09-deleted")
    walk.open("", "Recent artifacts")
    recent = page.get_by_test_id("stDataFrame").filter(has_text="walk model v2")
    recent.first.wait_for(timeout=UI_TIMEOUT)
    assert sweep not in recent.first.text_content()
    walk.done["managed"] = True


def test_10_jobs_panel_shows_what_happened(walk):
    """Home's Jobs panel after the walk: every job, newest first, the artifact a job made opens by
    name, and the kind / status filters narrow the list (issue 15 item 5)."""
    walk.needs("model")
    page, main = walk.page, walk.page.get_by_test_id("stMain")
    from engine.jobs import list_jobs
    from storage.workspace import Workspace

    states = list_jobs(Workspace.open(walk.root))
    n = len(states)
    assert n >= 8, f"the walk started {n} jobs"
    walk.open("", "Jobs")
    main.get_by_text(f"{n:,} of {n:,} jobs match", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    tables = [t for _, _, t in walk.tables.tables() if {"created", "kind", "status"} <= set(t.column_names)]
    assert tables, "no jobs table was sent to the page"
    created = [str(v) for v in tables[-1].column("created").to_pylist()]
    assert created == sorted(created, reverse=True), created  # newest first
    # the training job made the model: open it from the panel, shown under its (new) name
    mid = walk.done["model"]
    _pick(page, "Artifact made by a job", mid)
    main.get_by_text(f"{walk.name_of(mid)} · created", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    # filters: kind backtest, then status succeeded
    nb = sum(1 for s in states if s.command and s.command[0] == "backtest")
    assert 0 < nb < n
    _pick(page, "Kind", "backtest", multi=True)
    main.get_by_text(f"{nb:,} of {n:,} jobs match", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    ok = sum(1 for s in states if s.command and s.command[0] == "backtest" and s.status == "succeeded")
    _pick(page, "Status", "succeeded", multi=True)
    main.get_by_text(f"{ok:,} of {n:,} jobs match", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    check_seen(walk, "10-jobs")
