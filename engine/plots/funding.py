"""Funding rates of a perpetual: the rate of each funding event and the cumulative funding a
long position paid.  Pure plotly builder; never imports streamlit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

YEAR_S = 365.25 * 24 * 3600


def funding_summary(funding: pd.DataFrame) -> dict:
    """Events, interval, mean rate per event and annualised (mean x events per year), share positive."""
    r = funding["funding_rate"].to_numpy(dtype="float64")
    r = r[np.isfinite(r)]
    ts = pd.to_datetime(funding["timestamp"], utc=True)
    step = float(ts.diff().dt.total_seconds().median()) if len(ts) > 1 else float("nan")
    mean = float(r.mean()) if len(r) else float("nan")
    return {"events": len(r), "interval_h": step / 3600 if np.isfinite(step) else None,
            "mean_pct": 100 * mean, "annualised_pct": 100 * mean * YEAR_S / step if step > 0 else None,
            "positive_share": float((r > 0).mean()) if len(r) else None}


def funding_figure(funding: pd.DataFrame, title: str = "", *, height: int = 460) -> go.Figure:
    """``funding``: timestamp, funding_rate (a fraction per event).  Top: the rate in % per event
    (above zero longs pay shorts); bottom: the cumulative sum in %, what a long held throughout paid."""
    d = funding.dropna(subset=["funding_rate"]).sort_values("timestamp")
    pct = 100 * d["funding_rate"].to_numpy(dtype="float64")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06,
                        subplot_titles=("rate per funding event (%)", "cumulative (%): paid by a long held throughout"))
    fig.add_trace(go.Scatter(x=d["timestamp"], y=np.where(pct >= 0, pct, np.nan), mode="lines", name="longs pay",
                             fill="tozeroy", line={"width": 0.8, "color": "#c62828"}, connectgaps=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=d["timestamp"], y=np.where(pct < 0, pct, np.nan), mode="lines", name="shorts pay",
                             fill="tozeroy", line={"width": 0.8, "color": "#2e7d32"}, connectgaps=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=d["timestamp"], y=np.cumsum(pct), mode="lines", name="cumulative",
                             line={"width": 1.4, "color": "#1565c0"}), row=2, col=1)
    fig.update_yaxes(title_text="%", row=1, col=1)
    fig.update_yaxes(title_text="%", row=2, col=1)
    fig.update_layout(title=title, height=height, hovermode="x unified", margin={"l": 50, "r": 20, "t": 70, "b": 50},
                      legend={"orientation": "h", "y": -0.08, "yanchor": "top", "x": 0}, meta=funding_summary(d))
    return fig
