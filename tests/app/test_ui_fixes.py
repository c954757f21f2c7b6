"""Issue 15 items 4-6 as the user sees them: controls that reveal other controls work at once
(the backtest's custom period), the default request of a form is accepted, Enter in a form's
text field does not submit it, the Home jobs panel (newest first by created time, paged,
filtered, a failed job's error, the artifacts a job made, no job rows in "Recent artifacts"),
the candle chart's note when it aggregates, and the chart / table formatting fixes."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engine import jobs
from engine.backtest.sources import model_period
from engine.jobs.state import JobState, job_dir, write_state
from storage.artifacts import read_manifest
from tests.backtest.fakes import make_model
from tests.conftest import ROOT

BACKTEST = str(ROOT / "pages" / "backtest.py")


def _texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.error])


def _forms(node):
    """Every st.form block of the rendered page (the element tree keeps them as blocks)."""
    for child in getattr(node, "children", {}).values():
        if getattr(child, "type", None) == "form":
            yield child
        yield from _forms(child)


# -- item 6: no dead controls ------------------------------------------------------------------

def test_backtest_custom_period_pickers_appear_at_once_and_the_default_is_accepted(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=0.8)
    t0, t1 = model_period(read_manifest(sample_ws, mid))
    at = AppTest.from_file(BACKTEST, default_timeout=60).run()
    assert not at.exception, at.exception
    assert not [d for d in at.date_input if d.key == "run-start"]  # not ticked: no pickers
    at.checkbox(key="run-custom").check().run()  # no Run press: the pickers show right away
    assert not at.exception, at.exception
    start, end = at.date_input(key="run-start"), at.date_input(key="run-end")
    assert start.value == t0.date() and end.value == t1.date()
    assert at.time_input(key="run-start-t").value.strftime("%H:%M") == f"{t0:%H:%M}"
    assert at.time_input(key="run-end-t").value.strftime("%H:%M") == f"{t1:%H:%M}"
    at.button(key="run-go").click().run()
    assert not at.exception, at.exception
    cmd = jobs.get(sample_ws, at.session_state["backtest.job_id"]).command
    # the default period with its exact times, not cut to whole days (which reached into the
    # validation split and was refused as in-sample)
    assert cmd[cmd.index("--start") + 1] == f"{t0.tz_convert(None):%Y-%m-%d %H:%M:%S}"
    assert cmd[cmd.index("--end") + 1] == f"{t1.tz_convert(None):%Y-%m-%d %H:%M:%S}"
    done = jobs.wait(sample_ws, at.session_state["backtest.job_id"], timeout=300)
    assert done.status == "succeeded", (done.error, jobs.log_tail(sample_ws, done.id))
    # the sweep tab's pickers also show at once, and its sizing controls are live (no form)
    at.checkbox(key="sweep-custom").check().run()
    assert at.date_input(key="sweep-start").value == t0.date()
    assert not list(_forms(at._tree))  # the backtest page has no form left


def test_enter_in_a_text_field_never_submits_a_form(sample_ws):
    """Enter in the Data page's path field started an import by itself: every form of the pages
    that start jobs takes its submission from its button only."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    seen = {}
    for page in ("pages/data.py", "pages/features.py", "pages/training.py", "pages/stage2.py", "pages/cloud_sync.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        for f in _forms(at._tree):
            seen[f.proto.form.form_id] = f.proto.form.enter_to_submit
    assert "import-file" in seen
    assert seen and not any(seen.values()), seen
    # the path alone, without the button, starts nothing
    at.switch_page("pages/data.py").run()
    at.text_input[0].set_value("/tmp/somewhere.csv").run()
    assert "data.job_id" not in at.session_state


# -- item 5: the Home jobs panel ---------------------------------------------------------------

def _job(ws, jid: str, created: str, *, status: str = "succeeded", name: str = "", command=("data", "import"),
         message: str = "", error: str | None = None, artifacts=()) -> None:
    job_dir(ws, jid).mkdir(parents=True, exist_ok=True)
    write_state(ws, JobState(id=jid, command=list(command), name=name or jid, status=status, created_at=created,
                             started_at=created, ended_at=created, progress=1.0, message=message, error=error,
                             artifacts=list(artifacts)))


def test_home_jobs_panel_newest_first_paged_filtered_with_errors_and_artifacts(sample_ws):
    from storage.catalog import Catalog

    art = Catalog(sample_ws).query(kind="ohlcv", limit=1)["id"].iloc[0]
    # folder names sort the other way round from the created times (the old listing's order)
    _job(sample_ws, "job_zzz_old", "2026-01-01T00:00:00+00:00", name="old import")
    _job(sample_ws, "job_aaa_new", "2026-03-01T00:00:00+00:00", name="new backtest", command=("backtest", "rule"),
         status="failed", message="simulating 3/4", error="error: in-sample backtest refused: 2026-01-01 overlaps")
    _job(sample_ws, "job_mmm_mid", "2026-02-01T00:00:00+00:00", name="mid import",
         artifacts=[art])
    for i in range(20):  # more than one page
        _job(sample_ws, f"job_b{i:02d}", f"2025-06-{i + 1:02d}T00:00:00+00:00", name=f"older {i}")
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "status" in d.value.columns and "job" in d.value.columns)
    assert list(table["id"][:3]) == ["job_aaa_new", "job_mmm_mid", "job_zzz_old"]  # newest first by created time
    assert len(table) == 15  # one page
    failed = table.set_index("id").loc["job_aaa_new"]
    assert failed["message"].startswith("error: in-sample backtest refused")  # not its last progress line
    assert any("in-sample backtest refused" in e.value for e in at.error)
    assert "23 of 23 jobs match" in _texts(at) and "page 1 of 2" in _texts(at)
    # page 2 holds the rest
    page = next(n for n in at.number_input if n.key.startswith("home.jobs.page"))
    page.set_value(2).run()
    table2 = next(d.value for d in at.dataframe if "status" in d.value.columns and "job" in d.value.columns)
    assert len(table2) == 8 and "job_b00" in set(table2["id"])
    # filters: kind and status
    at.multiselect(key="home.jobs.kind").set_value(["backtest"]).run()
    table3 = next(d.value for d in at.dataframe if "status" in d.value.columns and "job" in d.value.columns)
    assert list(table3["id"]) == ["job_aaa_new"]
    at.multiselect(key="home.jobs.kind").set_value([]).run()
    at.multiselect(key="home.jobs.status").set_value(["succeeded"]).run()
    table4 = next(d.value for d in at.dataframe if "status" in d.value.columns and "job" in d.value.columns)
    assert set(table4["status"]) == {"succeeded"} and "job_aaa_new" not in set(table4["id"])
    # the artifact a job made: listed and selectable, with its folder
    assert art in set(table4["artifacts"])
    at.selectbox(key="home.jobs.artifact").set_value(art).run()
    assert any(art == c.value for c in at.code) and "folder" in _texts(at)
    # "Recent artifacts" holds no job entries
    recent = next(d.value for d in at.dataframe if "kind" in d.value.columns and "origin" in d.value.columns)
    assert len(recent) and "job" not in set(recent["kind"])


# -- item 4: charts and tables that tell the truth --------------------------------------------

def test_candle_chart_aggregates_instead_of_dropping_bars_and_says_so(sample_ws, monkeypatch):
    from engine.data.store import load_candles
    from engine.plots import candles

    df = load_candles(sample_ws, "BTCUSDT", "15m")
    d, k, note = candles.display_bars(df, max_points=100)
    assert k == -(-len(df) // 100) and len(d) <= 100
    assert d["timestamp"].iloc[0] == df["timestamp"].iloc[0]  # the start of the window is kept (tail() dropped it)
    assert d["high"].max() == df["high"].max() and d["low"].min() == df["low"].min()
    assert d["volume"].sum() == pytest.approx(df["volume"].sum())
    assert f"showing {len(d):,} of {len(df):,} bars" in note
    fig = candles.candlestick_figure(df.head(50))
    assert fig.layout.meta["every"] == 1 and fig.layout.meta["note"] == ""
    # on the Data page: a small limit makes the 14-day window aggregate, and the page says so
    monkeypatch.setattr(candles, "MAX_POINTS", 200)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    notes = [c.value for c in at.caption if c.value.startswith("Chart:")]
    assert len(notes) == 1 and "Chart: showing" in notes[0] and "OHLC-aggregated every" in notes[0], notes


def test_training_curves_have_integer_epoch_axes_and_legends_under_the_plot():
    from engine.plots.training import compare_figure, loss_figure, metrics_figure

    h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.8, 0.7], "val_loss": [1.0, 0.9, 0.95],
                      "val_accuracy": [0.5, 0.52, 0.53]})
    for fig in (loss_figure(h), metrics_figure(h), compare_figure({"a": h}, "val_loss")):
        assert fig.layout.xaxis.tickformat == "d" and fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tick0 == 1
        assert fig.layout.legend.y < 0  # under the plot: clear of the title and the axis title
    long = pd.DataFrame({"epoch": range(1, 101), "val_loss": 1.0})
    assert compare_figure({"a": long}, "val_loss").layout.xaxis.dtick == 10


def test_p_values_in_scientific_notation_and_sweep_table_written_in_full():
    from pages.backtest_widgets import sweep_table
    from pages.ui import card_value, pvalue_columns

    assert card_value(2e-22) == "2.000e-22" and card_value(0.25) == "0.25" and card_value("x") == "x"
    cols = pvalue_columns(pd.DataFrame(columns=["feature", "ks_pvalue_val", "psi_val"]))
    assert list(cols) == ["ks_pvalue_val"] and cols["ks_pvalue_val"]["type_config"]["format"] == "%.2e"
    t = sweep_table(pd.DataFrame({"threshold": [0.5, None], "sl_stop": [None, 0.02], "sharpe": [18.1964, -8.1964],
                                  "total_return": [0.123, 2.5], "trades": [3, 40],
                                  "ruin_reason": [None, "account wiped out at 2026-01-02 03:00"]}))
    assert list(t["sharpe"]) == ["18.2", "-8.196"]  # leading digits kept
    assert list(t["ruin_reason"]) == ["-", "account wiped out at 2026-01-02 03:00"]  # no "None" in the grid
    assert list(t["total_return"]) == ["12.30%", "250.00%"] and list(t["threshold"]) == ["0.5", "off"]


def test_stage2_pass_rate_axis_stops_at_100_percent_and_cv_labels_apart():
    from engine.plots.stage2 import cv_figure, pass_rate_figure

    curve = pd.DataFrame({"split": ["val"] * 4, "threshold": [0.1, 0.5, 0.9, 0.99], "pass_rate": [0.9, 0.2, 0.004, 0.0]})
    fig = pass_rate_figure(curve, 0.5)
    assert fig.layout.yaxis.type == "log" and tuple(fig.layout.yaxis.range) == (-1.0, 2.0)  # 0.1 % .. 100 %
    cv = pd.DataFrame({"fold": [1, 2], "val_start": ["2025-01-01", "2025-02-01"], "accuracy": [0.61, 0.6],
                       "f1_macro": [0.6, 0.59], "n_train": [100, 200], "n_val": [50, 50]})
    spots = {a.text.split(" ")[1]: (a.xanchor, a.yanchor) for a in cv_figure(cv).layout.annotations}
    assert spots["accuracy"] != spots["macro"]  # the two mean labels do not sit on top of each other
