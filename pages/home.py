"""Home: workspace status, artifact counts by kind, recent artifacts, jobs."""
import json

import pandas as pd
import streamlit as st

from config.errors import Busy
from pages.artifact_widgets import by_name, manage_artifact
from pages.ui import catalog, ensure_sample, jobs_panel, show_table, user_errors, workspace
from storage.workspace import KINDS


def _metrics_text(raw) -> str:
    """The first few scalar metrics, numbers to 4 significant digits."""
    items = [(k, v) for k, v in json.loads(raw or "{}").items() if not isinstance(v, (dict, list))][:4]
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items)


ensure_sample()
ws = workspace()
st.title("KlineLab")
st.caption("Research control panel for crypto machine learning: data, features, reports, models, backtests, sync.")

with user_errors():
    cat = catalog()
    try:
        cat.refresh(timeout=1.0)
    except Busy:  # a job is writing: the listing below falls back to the manifests
        pass
    counts = cat.counts()
    c = st.columns(len(counts))
    for col, (kind, n) in zip(c, counts.items()):
        col.metric(kind, n)
    st.caption(f"Workspace: `{ws.root}`" + (" (catalog busy: counts read from the manifests)" if cat.last_read_fallback else ""))

    st.subheader("Recent artifacts")
    # every kind but the job entries (the Jobs panel below lists those), newest first
    parts = [cat.query(kind=k, limit=500) for k in KINDS if k != "job"]
    parts = [p for p in parts if len(p)]
    every = pd.concat(parts, ignore_index=True).sort_values("created_at", ascending=False) if parts else pd.DataFrame()
    recent = every.head(12)
    if len(recent):
        recent = recent.assign(symbols=recent.symbols.map(lambda s: ", ".join(s) if s is not None else ""),
                               timeframe=recent.timeframe.fillna(""),
                               metrics=recent.metrics.map(_metrics_text),
                               tags=recent.tags.map(lambda t: ", ".join(t) if t is not None else ""))
        show_table(recent[["created_at", "kind", "name", "tags", "symbols", "timeframe", "origin", "metrics", "id"]],
                     hide_index=True, width="stretch")
        ids = every["id"].tolist()
        pick = st.selectbox("Rename, tag, note or delete an artifact", ids, index=None, key="home.manage",
                            format_func=by_name(ids, known=dict(zip(ids, every["name"]))), placeholder="choose an artifact by name (type to search)")
        manage_artifact(pick, key="home")
    else:
        st.info("No artifacts yet: import candles on the Data page.")

st.subheader("Jobs")
jobs_panel()
