"""Streamlit helpers of the Features page: session-state keys and cached loaders."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui import workspace


class FeaturesKeys:
    """Session-state / widget keys of the Features page (the job key is pages.ui.Keys.FEATURES_JOB)."""

    SET = "features.set"
    SYMBOL = "features.symbol"
    FEATURE = "features.feature"
    DAYS = "features.days"
    FAMILY_FILTER = "features.family_filter"
    FUNDING_SYMBOL = "features.funding_symbol"
    PREVIEW = "features.preview_open"



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


@st.cache_resource(show_spinner=False, max_entries=12)
def feature_chart(root: str, fid: str, symbol: str, name: str, days: int, leaking: bool, title: str, stamp: tuple):
    """The Features page's chart (plotly Figure) of one feature over the last ``days`` days, or None
    when the symbol has no rows.  Cached as an object (no copy, no re-validation): a figure of a
    state already seen (symbol, feature, window) costs nothing to build again; ``stamp`` is the
    candles' kinds_stamp (a feature set never changes under its id).  Read-only for callers."""
    from datetime import timedelta

    from engine.plots.features import feature_figure

    col = feature_column(root, fid, symbol, name)
    if col.empty:
        return None
    t1 = col["timestamp"].iloc[-1]
    t0 = max(col["timestamp"].iloc[0], t1 - timedelta(days=days))
    fs = _fs(root, fid)
    return feature_figure(candles(root, symbol, fs.timeframe, t0, t1), col[col["timestamp"] >= t0], name,
                          pivots=pivots(root, fid, symbol), leaking=leaking, title=title)


@st.cache_resource(show_spinner=False, max_entries=32)
def _fs(root: str, fid: str):
    from engine.features.store import load_feature_set

    return load_feature_set(workspace(), fid)


@st.cache_resource(show_spinner=False, max_entries=4)
def funding_chart(root: str, symbol: str, stamp: tuple):
    """(figure, series) of a perpetual's funding rates, or None without any (cached as objects)."""
    from engine.plots.funding import funding_figure

    f = funding(root, symbol, stamp)
    return None if f is None or f.empty else (funding_figure(f, f"{symbol} funding rate"), f)


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


@st.cache_data(show_spinner=False)
def funding_symbols(root: str, stamp: tuple) -> list[str]:
    """Symbols with a funding series in the workspace (``stamp``: kinds_stamp of ohlcv)."""
    from engine.data.store import coverage

    cov = coverage(workspace())
    return sorted(cov[cov.timeframe == "funding"].symbol.unique().tolist())


@st.cache_data(show_spinner=False, max_entries=4)
def funding(root: str, symbol: str, stamp: tuple) -> pd.DataFrame | None:
    from engine.data.store import load_funding

    return load_funding(workspace(), symbol)
