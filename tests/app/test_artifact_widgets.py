"""pages.artifact_widgets: pickers show names (two alike get their id's tail; a run in progress its
fallback name), and the rename panel saves through storage (AppTest; the browser test drives the rest)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from storage.artifacts import create_artifact, read_manifest


def _make(ws, name: str) -> str:
    with create_artifact(ws, "model", name=name, symbols=["BTCUSDT"], timeframe="15m") as d:
        d.path("x.txt").write_text(name)
    return d.id


def _picker_app(ids: list[str]) -> None:
    import streamlit as st

    from pages.artifact_widgets import by_name, manage_artifact

    pick = st.selectbox("Model", ids, key="pick", format_func=by_name(ids, {"model-run-in-progress": "my live run"}))
    manage_artifact(pick, key="t")


def test_picker_labels_and_rename(ws, monkeypatch):
    monkeypatch.setenv("KLINELAB_NO_SAMPLE", "1")
    a, b, c = _make(ws, "same"), _make(ws, "same"), _make(ws, "unique")
    ids = [a, b, c, "model-run-in-progress"]
    at = AppTest.from_function(_picker_app, args=(ids,), default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="pick").options == [f"same · #{a[-6:]}", f"same · #{b[-6:]}", "unique", "my live run"]
    assert any(a in c_.value for c_ in at.caption)  # the id of the chosen one, under the picker
    at.text_input(key=f"t.{a}.name").set_value("renamed")
    at.button(key=f"t.{a}.save").click().run()
    assert not at.exception
    assert read_manifest(ws, a).name == "renamed"
    assert at.selectbox(key="pick").options[:2] == ["renamed", "same"]
    assert any("Saved: renamed" in s.value for s in at.success)
    # bad input: one clear message, nothing written
    at.text_input(key=f"t.{a}.name").set_value("x" * 199 + "\x07")
    at.button(key=f"t.{a}.save").click().run()
    assert any("control character" in e.value for e in at.error)
    assert read_manifest(ws, a).name == "renamed"
