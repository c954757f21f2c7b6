"""Streamlit pieces of the Data page: the import form of a data source, rendered from its spec
(engine/data/sources/registry.py) - the same options the ``data`` CLI command of that source has; a submitted
form becomes the source's typed request (engine/data/requests.py), whose argv is the job."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from engine.data.sources.registry import Option, SourceSpec
from pages.ui import start_job, user_errors


def _rows(options: list[Option]) -> list[list[Option]]:
    """Consecutive options sharing a ``row`` side by side; the others one per row."""
    rows: list[list[Option]] = []
    for o in options:
        if o.row is not None and rows and rows[-1][0].row == o.row:
            rows[-1].append(o)
        else:
            rows.append([o])
    return rows


def _widget(where, o: Option, key: str) -> Any:
    initial = o.page_default if o.page_default is not None else o.default
    common = {"help": o.help or None, "key": key}
    if o.widget in ("text", "password", "path"):
        return where.text_input(o.label, value=str(initial or ""), placeholder=o.placeholder or None,
                                type="password" if o.widget == "password" else "default", **common)
    if o.widget == "textarea":
        return where.text_area(o.label, value=str(initial or ""), height=68, placeholder=o.placeholder or None, **common)
    if o.widget == "select":
        options = ([o.blank] if o.blank is not None else []) + list(o.choices)
        return where.selectbox(o.label, options, index=options.index(initial) if initial in options else 0, **common)
    if o.widget == "multiselect":
        return where.multiselect(o.label, list(o.choices), default=list(initial or []), **common)
    if o.widget == "number":
        lo, hi, step = o.bounds or (None, None, 1)
        return where.number_input(o.label, min_value=lo, max_value=hi, value=initial, step=step, **common)
    if o.widget == "checkbox":
        return where.checkbox(o.label, value=bool(initial), **common)
    raise ValueError(f"unknown widget {o.widget!r}")


def source_form(spec: SourceSpec, job_key: str) -> None:
    """The import form of one source; a submitted, complete form starts its ``data`` command as a job."""
    if spec.description:
        st.caption(spec.description)
    options = spec.page_options()
    if not options:
        if st.button(spec.button, key=f"import-{spec.name}-go"):
            with user_errors():
                start_job(spec.request({}).argv(), job_key, name=spec.job_name({}))
        return
    values: dict[str, Any] = {}
    uploads: dict[str, Any] = {}
    with st.form(f"import-{spec.name}", enter_to_submit=False):
        for row in _rows(options):
            cols = st.columns(len(row)) if len(row) > 1 else [st]
            for o, where in zip(row, cols):
                key = f"import-{spec.name}-{o.dest}"
                if o.widget == "path":
                    uploads[o.dest] = where.file_uploader(o.upload_label, type=None, key=f"{key}-upload")
                values[o.dest] = _widget(where, o, key)
        replace = st.checkbox("Replace the stored series instead of merging", key=f"import-{spec.name}-replace") \
            if spec.merges else False
        go = st.form_submit_button(spec.button, type="primary")
    if not go:
        return
    for dest, up in uploads.items():  # an uploaded file wins over a typed path
        if up is not None:
            d = Path(tempfile.mkdtemp(prefix="klinelab-upload-"))
            p = d / Path(up.name).name
            p.write_bytes(up.getbuffer())
            values[dest] = str(p)
        elif str(values.get(dest) or "").strip():
            values[dest] = str(Path(values[dest].strip()).expanduser())
    problem = spec.check_values(values)
    if problem:
        st.error(problem)
        return
    with user_errors():
        req = spec.request(values, replace=replace)  # the typed request the source's `data` command parses
        # a secret (the SQL URL) goes into the job's environment, never onto its command line
        start_job(req.argv(), job_key, name=spec.job_name(values), env=spec.job_env(values) or None)
