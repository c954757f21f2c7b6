"""Pure plotly builders for runs tables (no streamlit): parallel coordinates over many runs,
one metric of several runs with its CIs, and Stage 2's per-fold CV curves overlaid."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.runs_table import PARAM_PREFIX, RunsTable, unique_labels


def _empty(title: str, note: str, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=height, xaxis_visible=False, yaxis_visible=False)
    return fig


def _dimension(s: pd.Series, label: str) -> dict | None:
    """A parcoords axis: numbers as they are, anything else as categories (ticks = the values)."""
    num = pd.to_numeric(s, errors="coerce")
    if s.map(lambda v: isinstance(v, bool)).any():
        num = pd.Series(np.nan, index=s.index)
    if num.notna().sum() == s.notna().sum() and num.notna().any():
        vals = num.astype("float64")
        fill = float(vals.min()) if vals.notna().any() else 0.0
        return {"label": label, "values": vals.fillna(fill).to_numpy()}
    text = s.map(lambda v: "-" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    cats = sorted(text.unique())
    if len(cats) > 30:
        return None
    codes = text.map({c: i for i, c in enumerate(cats)}).to_numpy("float64")
    short = [c if len(c) <= 18 else c[:8] + "…" + c[-8:] for c in cats]
    return {"label": label, "values": codes, "tickvals": list(range(len(cats))), "ticktext": short,
            "range": [-0.5, len(cats) - 0.5] if len(cats) > 1 else [-1, 1]}


def parallel_figure(table: RunsTable, *, params: list[str] | None = None, metrics: list[str] | None = None,
                    color: str | None = None, height: int = 460) -> go.Figure:
    """Parallel coordinates: one line per run through the chosen parameter and metric axes,
    coloured by ``color`` (a metric)."""
    f = table.frame
    if len(f) < 2:
        return _empty("Parallel coordinates", "needs two runs or more")
    params = table.varying_params() if params is None else params
    metrics = [m for m in (metrics if metrics is not None else table.metrics) if f[m].notna().any()]
    dims = []
    for c in [*params, *metrics]:
        d = _dimension(f[c], c[len(PARAM_PREFIX):] if c.startswith(PARAM_PREFIX) else table.labels.get(c, c))
        if d is not None:
            dims.append(d)
    if not dims:
        return _empty("Parallel coordinates", "no parameter differs and no metric has a value")
    color = color if color in f else (metrics[0] if metrics else None)
    line: dict = {"color": "#1f77b4"}
    if color is not None and f[color].notna().any():
        cv = f[color].astype("float64")
        line = {"color": cv.fillna(float(cv.min())).to_numpy(), "colorscale": "Viridis", "showscale": True,
                "colorbar": {"title": {"text": table.labels.get(color, color)}}}
    fig = go.Figure(go.Parcoords(line=line, dimensions=dims))
    fig.update_layout(title=f"{len(f)} runs: parameters that differ, then metrics"
                            + (f" (colour: {table.labels.get(color, color)})" if color else ""),
                      height=height, margin={"l": 80, "r": 80, "t": 90, "b": 30})
    return fig


def ci_figure(table: RunsTable, ids: list[str], metric: str, *, height: int = 320) -> go.Figure:
    """One metric of the chosen runs as points with their 95 % CI bars (where there is one) and
    the sample size in the hover."""
    f = table.frame.set_index("id").loc[ids]
    label = table.labels.get(metric, metric)
    names = unique_labels(f["name"].tolist(), ids)
    scale = 100.0 if metric in table.pct else 1.0
    y = f[metric].astype("float64").to_numpy() * scale
    if not np.isfinite(y).any():
        return _empty(label, f"no chosen run has a {label}")
    lo_c, hi_c = table.cis.get(metric, (None, None))
    err = {}
    if lo_c:
        lo, hi = f[lo_c].astype("float64").to_numpy() * scale, f[hi_c].astype("float64").to_numpy() * scale
        err = {"error_y": {"type": "data", "symmetric": False, "array": np.nan_to_num(hi - y),
                           "arrayminus": np.nan_to_num(y - lo), "thickness": 1.5, "width": 6}}
    n_col = table.samples.get(metric)
    n = f[n_col].to_numpy() if n_col and n_col in f else [None] * len(f)
    fig = go.Figure(go.Scatter(x=names, y=y, mode="markers", marker={"size": 11}, name=label,
                               text=[f"n = {int(v):,}" if v is not None and pd.notna(v) else "" for v in n],
                               hovertemplate="%{x}: %{y:.4g} %{text}<extra></extra>", **err))
    fig.update_layout(title=f"{label}{' (%)' if scale != 1 else ''}" + (" with its 95 % CI" if lo_c else ""),
                      height=height, margin={"l": 50, "r": 20, "t": 50, "b": 40}, xaxis_type="category")
    return fig


def cv_figure(curves: dict[str, pd.DataFrame], labels: dict[str, str] | None = None, metric: str = "accuracy",
              *, height: int = 340) -> go.Figure:
    """Stage 2: a metric per cross-validation fold, one line per model."""
    fig = go.Figure()
    for i, cv in curves.items():
        if cv is not None and not cv.empty and metric in cv:
            x = cv["fold"] if "fold" in cv else np.arange(1, len(cv) + 1)
            fig.add_trace(go.Scatter(x=x, y=cv[metric], mode="lines+markers", name=(labels or {}).get(i, i)))
    if not fig.data:
        return _empty(f"CV {metric}", f"no chosen model has a per-fold {metric}")
    fig.update_layout(title=f"CV {metric} per fold", xaxis_title="fold", height=height,
                      xaxis={"tickformat": "d", "dtick": 1}, margin={"l": 50, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig
