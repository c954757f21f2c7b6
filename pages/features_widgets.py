"""Streamlit helpers of the Features page: session-state keys and cached loaders."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui import workspace


class FKeys:
    """Session-state / widget keys of the Features page (the job key is pages.ui.Keys.FEATURES_JOB)."""

    SET = "features.set"
    SYMBOL = "features.symbol"
    FEATURE = "features.feature"
    DAYS = "features.days"
    FAMILY_FILTER = "features.family_filter"



@st.cache_data(show_spinner=False)
def feature_sets(root: str, stamp: tuple) -> pd.DataFrame:
    from engine.features.store import list_feature_sets

    rows = [{"name": f.manifest.name or f.id, "id": f.id, "symbols": ", ".join(f.symbols), "timeframe": f.timeframe,
             "rows": f.manifest.metrics.get("rows"), "features": len(f.feature_names), "leaking": len(f.leaking),
             "audit": {True: "passed", False: "LEAKS", None: "skipped"}[f.manifest.extra.get("audit", {}).get("passed")],
             "start": f.manifest.start, "end": f.manifest.end, "created": f.manifest.created_at}
            for f in list_feature_sets(workspace())]
    return pd.DataFrame(rows, columns=["name", "id", "symbols", "timeframe", "rows", "features", "leaking", "audit", "start", "end",
                                       "created"])


@st.cache_data(show_spinner=False, max_entries=16)
def feature_column(root: str, fid: str, symbol: str, name: str) -> pd.DataFrame:
    from engine.features.store import load_feature_set

    return load_feature_set(workspace(), fid).features([name], symbols=[symbol])


@st.cache_data(show_spinner=False, max_entries=4)
def preview(root: str, fid: str, symbol: str, rows: int) -> pd.DataFrame:
    from engine.features.store import load_feature_set

    fs = load_feature_set(workspace(), fid)
    x = fs.features(symbols=[symbol]).tail(rows)
    y = fs.targets(symbols=[symbol]).tail(rows)
    return x.merge(y, on=["timestamp", "symbol"])


@st.cache_data(show_spinner=False, max_entries=8)
def candles(root: str, symbol: str, tf: str, start, end) -> pd.DataFrame:
    from engine.data.store import load_candles

    return load_candles(workspace(), symbol, tf, start=start, end=end)


@st.cache_data(show_spinner=False, max_entries=8)
def pivots(root: str, fid: str, symbol: str) -> pd.DataFrame:
    from engine.features.store import load_feature_set

    return load_feature_set(workspace(), fid).zigzag(symbols=[symbol])


@st.cache_data(show_spinner=False, max_entries=8)
def feature_table(root: str, fid: str) -> pd.DataFrame:
    from engine.features.store import feature_table as table
    from engine.features.store import load_feature_set

    return table(load_feature_set(workspace(), fid))


@st.cache_data(show_spinner=False)
def registry_table() -> pd.DataFrame:
    from engine.features.registry import registry

    return pd.DataFrame([{**f.to_dict(), "inputs": " ".join(f.inputs)} for f in registry().features.values()])
