"""AppTest of the Features page: with the sample only, with a stored feature set, and a build
launched from the form as a background job."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.ui import Keys

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "features.py")


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_with_only_the_sample(sample_ws):
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    assert at.title[0].value == "Features"
    assert [t.label for t in at.tabs] == ["Build", "Feature sets", "Registry", "Funding"]
    assert any("No feature set yet" in i.value for i in at.info)
    syms = at.multiselect[0]
    assert syms.label == "Symbols" and {"BTCUSDT", "ETHUSDT"} <= set(syms.options)
    assert at.multiselect[1].label == "Families" and len(at.multiselect[1].value) == 10
    reg = at.dataframe[-1].value
    assert len(reg) >= 170 and {"name", "family", "lookback", "inputs", "description"} <= set(reg.columns)


def test_page_shows_a_feature_set_chart_badges_and_audit(feature_ws):
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Features"] == "171" and metrics["Targets"] == "24" and metrics["Leaking"] == "0"
    assert any("Leakage audit passed" in s.value for s in at.success)
    assert at.selectbox(key="features.set").value == feature_ws
    assert len(at.get("plotly_chart")) == 2  # the feature chart and the sample's BTCUSDT-PERP funding chart
    feat = at.selectbox(key="features.feature")
    assert feat.value == "logret_1" and "✓ hurst_dfa_256 (fractal)" in feat.options  # leakage badge per feature
    feat.set_value("hurst_dfa_256")
    at.selectbox(key="features.symbol").set_value("SOLUSDT")
    _run(at)
    assert any("hurst_dfa_256" in c.value and "lookback 256 bars" in c.value for c in at.caption)
    badges = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert len(badges) == 171 and set(badges["status"]) == {"✓ clean"}
    _run(at)  # warm rerun with the chart (its speed: benchmarks/bench_ui.py, not a timed assertion)


def test_build_form_starts_a_job_and_shows_the_result(sample_ws):
    from engine import jobs

    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    at.multiselect[0].set_value(["ETHUSDT"])
    at.multiselect[1].set_value(["returns", "time"])
    at.date_input[0].set_value(__import__("datetime").date(2026, 2, 20))
    at.button[0].click()
    _run(at)
    job_id = at.session_state[Keys.FEATURES_JOB]
    st = jobs.wait(sample_ws, job_id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(sample_ws, job_id, 3000)
    assert st.command[:2] == ["features", "build"] and "--families" in st.command
    for _ in range(3):  # the follower reruns the page once the job has ended
        _run(at)
        if any("Built" in s.value for s in at.success):
            break
    assert any(f"Built `{st.result['featureset_id']}`" in s.value for s in at.success)
    assert at.selectbox(key="features.set").value == st.result["featureset_id"]
