"""Plotly figures of a feature-analysis report.  Pure builders: they take the report's tables
(the CSVs as DataFrames) and return figures; the page and the HTML report both use them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
REASON_COLORS = {"leakage": "#d62728", "constant": "#7f7f7f", "high_missing": "#bcbd22",
                 "high_correlation": "#9467bd", "low_importance": "#8c564b"}
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def importance_bar(importance: pd.DataFrame, top_n: int = 30, excluded: dict[str, str] | None = None) -> go.Figure:
    """Horizontal bars of combined_score (MI and F parts stacked), best at the top.
    ``excluded``: feature -> reason, marked in the labels."""
    d = importance.nsmallest(top_n, "rank").iloc[::-1]
    ex = excluded or {}
    labels = [f"{f} ✗" if f in ex else f for f in d["feature"]]
    fig = go.Figure([
        go.Bar(y=labels, x=0.5 * d["mi_normalized"], orientation="h", name="mutual information (half)",
               marker_color="#1f77b4", customdata=d[["mutual_info", "rank"]].to_numpy(),
               hovertemplate="%{y}<br>MI %{customdata[0]:.4f}, rank %{customdata[1]}<extra></extra>"),
        go.Bar(y=labels, x=0.5 * d["f_normalized"], orientation="h", name="F-score (half)", marker_color="#ff7f0e",
               customdata=d[["f_score", "f_pvalue"]].to_numpy(),
               hovertemplate="%{y}<br>F %{customdata[0]:.2f}, p %{customdata[1]:.2e}<extra></extra>"),
    ])
    fig.update_layout(barmode="stack", title=f"Top {len(d)} features by combined score (✗ = excluded)",
                      xaxis_title="combined score (0-100)", height=max(320, 22 * len(d) + 120), margin=_MARGIN,
                      legend={"orientation": "h", "y": -0.08})
    return fig


def _dist_traces(dist: pd.DataFrame, feature: str | None = None) -> list[go.Bar]:
    """Bars of one feature's bins (``dist`` holds that feature only when ``feature`` is None)."""
    d = dist if feature is None else dist[dist["feature"] == feature]
    left, right = d["bin_left"].to_numpy(), d["bin_right"].to_numpy()
    return [go.Bar(x=(left + right) / 2, y=d[split].to_numpy(), width=right - left, name=split, marker_color=color,
                   opacity=0.55) for split, color in SPLIT_COLORS.items()]


def distribution_figure(dist: pd.DataFrame, feature: str) -> go.Figure:
    """Share of train / val / test values per bin (feature_distributions.csv)."""
    fig = go.Figure(_dist_traces(dist, feature))
    fig.update_layout(barmode="overlay", title=f"Distribution of {feature} (share of rows per bin)",
                      xaxis_title=feature, yaxis_title="share", height=360, margin=_MARGIN)
    return fig


def _box_trace(by_class: pd.DataFrame, feature: str | None = None) -> go.Box:
    d = by_class if feature is None else by_class[by_class["feature"] == feature]
    return go.Box(x=[f"{c} {n}" if str(c) != str(n) else str(c) for c, n in zip(d["class"], d["class_name"])],
                  q1=d["q25"].to_numpy(), median=d["median"].to_numpy(), q3=d["q75"].to_numpy(),
                  lowerfence=d["q05"].to_numpy(), upperfence=d["q95"].to_numpy(), mean=d["mean"].to_numpy(),
                  marker_color="#1f77b4", name=str(d["feature"].iloc[0]) if len(d) else "", boxpoints=False)


def by_class_box(by_class: pd.DataFrame, feature: str) -> go.Figure:
    """Box per class from the stored quantiles: box q25-q75, line = median, whiskers q05-q95,
    dashed = mean (feature_by_class_statistics.csv)."""
    sep = by_class.loc[by_class["feature"] == feature, "separation_score"]
    fig = go.Figure(_box_trace(by_class, feature))
    fig.update_layout(title=f"{feature} by class (whiskers 5%-95%; separation eta² = "
                            f"{sep.iloc[0] if len(sep) else np.nan:.4f})", height=360, margin=_MARGIN, showlegend=False)
    return fig


def _dropdown(fig: go.Figure, features: list[str], per_feature: int) -> go.Figure:
    """Show one feature's traces at a time, chosen in a dropdown (works offline)."""
    n = len(features) * per_feature
    buttons = []
    for i, f in enumerate(features):
        vis = [False] * n
        vis[i * per_feature:(i + 1) * per_feature] = [True] * per_feature
        buttons.append({"label": f, "method": "update", "args": [{"visible": vis}, {"title.text": f}]})
    for j, tr in enumerate(fig.data):
        tr.visible = j < per_feature
    fig.update_layout(updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.18, "yanchor": "top"}],
                      title=features[0] if features else "")
    return fig


def distributions_dropdown(dist: pd.DataFrame, features: list[str]) -> go.Figure:
    groups = dict(tuple(dist[dist["feature"].isin(features)].groupby("feature", sort=False)))
    fig = go.Figure([tr for f in features for tr in _dist_traces(groups[f])])
    fig.update_layout(barmode="overlay", height=420, margin={**_MARGIN, "t": 80}, yaxis_title="share of rows")
    return _dropdown(fig, features, len(SPLIT_COLORS))


def by_class_dropdown(by_class: pd.DataFrame, features: list[str]) -> go.Figure:
    groups = dict(tuple(by_class[by_class["feature"].isin(features)].groupby("feature", sort=False)))
    fig = go.Figure([_box_trace(groups[f]) for f in features])
    fig.update_layout(height=420, margin={**_MARGIN, "t": 80}, showlegend=False)
    return _dropdown(fig, features, 1)


def correlation_heatmap(corr: pd.DataFrame, features: list[str]) -> go.Figure:
    c = corr.loc[features, features]
    fig = go.Figure(go.Heatmap(z=c.to_numpy(), x=features, y=features, zmin=-1, zmax=1, colorscale="RdBu_r",
                               colorbar={"title": "r"}, hovertemplate="%{y} / %{x}<br>r = %{z:.3f}<extra></extra>"))
    side = max(420, 18 * len(features) + 200)
    fig.update_layout(title=f"Correlation of the top {len(features)} features (train)", height=side, margin=_MARGIN,
                      yaxis={"autorange": "reversed"})
    return fig


def drift_bar(drift: pd.DataFrame, top_n: int = 30, psi_threshold: float = 0.2) -> go.Figure:
    d = drift.assign(_m=drift[["psi_val", "psi_test"]].max(axis=1)).nlargest(top_n, "_m").iloc[::-1]
    fig = go.Figure([go.Bar(y=d["feature"], x=d["psi_val"], orientation="h", name="train -> val",
                            marker_color=SPLIT_COLORS["val"]),
                     go.Bar(y=d["feature"], x=d["psi_test"], orientation="h", name="train -> test",
                            marker_color=SPLIT_COLORS["test"])])
    fig.add_vline(x=psi_threshold, line_dash="dash", line_color="red", annotation_text=f"PSI {psi_threshold:g}")
    fig.update_layout(barmode="group", title=f"Largest drift (PSI), top {len(d)}", xaxis_title="PSI",
                      height=max(320, 26 * len(d) + 120), margin=_MARGIN, legend={"orientation": "h", "y": -0.08})
    return fig


def exclusions_bar(counts: dict[str, int], included: int) -> go.Figure:
    names = ["included", *counts]
    vals = [included, *counts.values()]
    colors = ["#2ca02c", *(REASON_COLORS.get(r, "#999") for r in counts)]
    fig = go.Figure(go.Bar(x=names, y=vals, marker_color=colors, text=vals, textposition="outside"))
    fig.update_layout(title="Features kept and excluded (by reason)", height=320, margin=_MARGIN, yaxis_title="features")
    return fig
