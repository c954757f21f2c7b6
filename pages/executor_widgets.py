"""The executor inputs of a page that starts a fan-out job (Training's walk-forward folds, Backtest's
sweep grid): one widget, so both pages hand the request only the chosen executor's fields."""
from __future__ import annotations

from typing import Any

import streamlit as st

EXECUTOR_LABELS = {"": "the job's own process (default)", "local": "local processes", "ray": "a Ray cluster"}


def executor_inputs(key: str, *, title: str, what: str, workers_default: int | None = 2,
                    in_form: bool = False, keys: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """An expander with the executor, Workers and Ray address inputs -> the request's executor fields:
    ``{}`` for the default (no executor option: everything in the job's own process), ``executor`` +
    ``workers`` for local, ``executor`` + ``ray_address`` for Ray; the other executor's leftover input is
    never passed.  ``keys``: the three widgets' keys (default ``<key>-executor``, ``<key>-workers``,
    ``<key>-ray-address``).  ``in_form``: inside an ``st.form`` nothing reruns until submit, so the
    inputs are not disabled by the choice (they are ignored instead)."""
    k_exec, k_workers, k_addr = keys or (f"{key}-executor", f"{key}-workers", f"{key}-ray-address")
    with st.expander(title):
        c1, c2, c3 = st.columns(3)
        where = c1.selectbox("Executor", list(EXECUTOR_LABELS), format_func=EXECUTOR_LABELS.get, key=k_exec, help=what)
        workers = c2.number_input("Workers", min_value=1, max_value=1024, value=workers_default, key=k_workers,
                                  placeholder="default: 1", disabled=not in_form and where != "local",
                                  help="local processes at once (used with local processes only)")
        address = c3.text_input("Ray address", value="", key=k_addr, disabled=not in_form and where != "ray",
                                placeholder="empty: RAY_ADDRESS, else a local Ray",
                                help="host:port of the cluster's head (used with a Ray cluster only)")
    if where == "local":
        return {"executor": "local", "workers": int(workers) if workers is not None else None}
    if where == "ray":
        return {"executor": "ray", "ray_address": address.strip() or None}
    return {}
