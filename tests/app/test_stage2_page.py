"""AppTest of the Stage 2 page: with the bundled sample only (guidance, no exception, fast),
and with a trained Stage 1 + Stage 2 (tables, metrics, confusion matrix, CV chart, pass rates)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.stage2.pipeline import train_stage2_pair
from engine.stage2.stage2 import Stage2Config
from tests.stage2.conftest import stage1_template, stage1_ws  # noqa: F401 - fixtures

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "stage2.py")


def _run(timeout: float = 60) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=timeout)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _warm_render() -> None:
    """A warm render runs without an exception (its speed is measured by benchmarks/bench_ui.py,
    not asserted here: timed assertions fail on a loaded machine)."""
    _run(timeout=60)


def test_page_with_the_sample_only(sample_ws):
    at = _run()
    assert at.title[0].value == "Stage 2"
    infos = " ".join(i.value for i in at.info)
    assert "No Stage 1 model yet" in infos and "Stage 2 needs a Stage 1 model" in infos and "No Stage 2 model yet" in infos
    assert [t.label for t in at.tabs] == ["Stage 1", "Train Stage 2", "Results", "Batch", "Tuning"]
    assert at.text_input[0].value == "zongowo111/v2-crypto-ohlcv-data"
    # the Inspect button without a source is answered in the page, no job started
    at.text_input[0].set_value("")
    at.button(key="FormSubmitter:s1-import-Inspect").click()
    at.run()
    assert "Give the repo id or the folder." in [e.value for e in at.error]
    _warm_render()  # warm render with the sample (its speed: benchmarks/bench_ui.py)


def test_page_with_models(stage1_ws, ws):
    _fsid, s1 = stage1_ws
    out = train_stage2_pair(ws, "BTCUSDT", "15m", Stage2Config(threshold=0.5, cv_folds=3))
    at = _run()
    pick = at.selectbox(key="stage2.stage1_pick")  # names, not ids (issue 15); the id in the caption under it
    assert pick.value == s1["stage1_id"] and any(o.startswith("stage1 BTCUSDT 15m") for o in pick.options)
    assert any(s1["stage1_id"] in c.value for c in at.caption)
    assert out["stage2_id"] == at.selectbox(key="stage2.result_pick").value
    labels = [m.label for m in at.metric]
    n_sig = out["test"]["signals"]
    for want in ("Features", "Sequence length", f"Test accuracy, all {n_sig} signals", "Best baseline, same bars",
                 "Test macro F1, all signals", f"Pivot bars only ({out['test']['pivots']})", "Test accuracy, pivot bars only",
                 "CV accuracy (pivot bars)", "Pass rate (test)"):
        assert want in labels, want
    # the headline is the figure over all signals, with its CI and sample size beside it; the pivot-only figure is labelled
    head = next(m for m in at.metric if m.label == f"Test accuracy, all {n_sig} signals")
    assert head.value == f"{out['test']['accuracy_signals']:.3f}"
    captions = " ".join(c.value for c in at.caption)
    lo, hi = out["test"]["uncertainty"]["accuracy_signals"]
    assert f"95% CI [{lo:.3f}, {hi:.3f}] · n = {n_sig} signals" in captions and "not the headline" in captions
    assert "out-of-fold" in captions
    best = max(v for v in out["test"]["baselines"].values() if v is not None)
    assert next(m for m in at.metric if m.label == "Best baseline, same bars").value == f"{best:.3f}"
    warnings = " ".join(w.value for w in at.warning)
    assert all(w in warnings for w in out["test"]["warnings"])
    cv_metric = next(m for m in at.metric if m.label == "CV accuracy (pivot bars)")
    assert "±" in cv_metric.delta
    assert len(at.get("plotly_chart")) >= 4  # Stage 1 pass rates, evidence, confusion matrix, CV (+ explorer)
    assert len(at.dataframe) >= 4
    # the threshold explorer recomputes the pass rates
    slider = at.slider(key=f"s1-th-{s1['stage1_id']}")
    slider.set_value(0.9).run()
    assert not at.exception
    _warm_render()
