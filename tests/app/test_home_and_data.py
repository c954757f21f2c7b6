"""AppTest for Home and Data with the bundled sample: no exception, key content, warm render < 3 s."""

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


@pytest.fixture
def app(sample_ws):
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_home_shows_workspace_status_counts_recent_and_jobs(app, sample_ws):
    assert [t.value for t in app.title] == ["KlineLab"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["ohlcv"] == "8" and set(metrics) >= {"features", "model", "backtest", "job"}
    assert any(str(sample_ws.root) in c.value for c in app.caption)
    assert len(app.dataframe) >= 1  # recent artifacts
    assert "Jobs" in [h.value for h in app.subheader]


def test_data_page_coverage_chart_and_findings(app):
    app.switch_page("pages/data.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == ["Data"]
    cov = app.dataframe[0].value
    assert len(cov) == 8 and set(cov.symbol) >= {"BTCUSDT", "BTCUSDT-PERP"}
    assert len(app.get("plotly_chart")) == 1
    app.selectbox(key="data.series").set_value("ETHUSDT 15m").run()
    assert not app.exception
    assert any("No findings" in s.value or "Validation" in s.value for s in list(app.markdown) + list(app.success))


def test_pages_render_warm(app):
    for page in ("pages/home.py", "pages/data.py"):
        app.switch_page(page).run()
        app.switch_page(page).run()  # warm (its speed: benchmarks/bench_ui.py, not a timed assertion)
        assert not app.exception, page


def test_data_import_form_starts_a_job_and_shows_the_result(app, sample_ws, tmp_path):
    from engine import jobs
    from tests.data.corpus import real_candles, to_naive_csv

    p = to_naive_csv(real_candles(200, "SOLUSDT").assign(timestamp=lambda d: d.timestamp - pd.Timedelta(days=400)),
                     tmp_path / "ADAUSDT_15m.csv")
    app.switch_page("pages/data.py").run()
    app.text_input[0].set_value(str(p))
    app.button(key="FormSubmitter:import-file-Import").click().run()
    assert not app.exception, [e.value for e in app.exception]
    jid = app.session_state["data.job_id"]
    st = jobs.wait(sample_ws, jid, timeout=60)
    assert st.status == "succeeded", st.error
    app.run()
    assert any("Imported 1 series" in s.value for s in app.success)
