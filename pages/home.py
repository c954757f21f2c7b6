"""Home: workspace status, artifact counts by kind, recent artifacts, jobs."""
import json

import streamlit as st

from config.errors import Busy

from pages.ui import catalog, ensure_sample, jobs_panel, user_errors, workspace



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
    recent = cat.query(limit=12)
    if len(recent):
        recent = recent.assign(symbols=recent.symbols.map(lambda s: ", ".join(s) if s is not None else ""),
                               timeframe=recent.timeframe.fillna(""),
                               metrics=recent.metrics.map(_metrics_text))
        st.dataframe(recent[["created_at", "kind", "name", "symbols", "timeframe", "origin", "metrics", "id"]],
                     hide_index=True, width="stretch")
    else:
        st.info("No artifacts yet: import candles on the Data page.")

st.subheader("Jobs")
jobs_panel()
