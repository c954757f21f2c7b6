"""Plotly figures of the Stage 2 page (pure builders: DataFrames in, figures out)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

LABELS = ["HH", "LH", "HL", "LL"]
SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


def confusion_figure(cm: list[list[int]], labels: list[str] = LABELS, title: str = "Confusion matrix (test)") -> go.Figure:
    """Counts with row-normalised colour (the share of each true class predicted as each class)."""
    m = np.asarray(cm, dtype="float64")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    text = [[f"{int(m[i, j])}<br>{100 * share[i, j]:.0f}%" for j in range(m.shape[1])] for i in range(m.shape[0])]
    fig = go.Figure(go.Heatmap(z=share, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues",
                               zmin=0, zmax=1, colorbar={"title": "share of row"},
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def cv_figure(cv: pd.DataFrame) -> go.Figure:
    """Accuracy and macro F1 per time-ordered fold, with their means."""
    fig = go.Figure()
    x = [f"fold {int(f)}<br>val {pd.Timestamp(a):%Y-%m-%d}" for f, a in zip(cv["fold"], cv["val_start"])]
    # the two mean labels at opposite corners of their lines: side by side they overlapped
    for col, name, color, where in (("accuracy", "accuracy", "#1f77b4", "top left"),
                                    ("f1_macro", "macro F1", "#ff7f0e", "bottom right")):
        fig.add_trace(go.Bar(x=x, y=cv[col], name=name, marker_color=color,
                             customdata=np.c_[cv["n_train"], cv["n_val"]],
                             hovertemplate="%{x}: %{y:.3f}<br>train %{customdata[0]}, val %{customdata[1]}<extra></extra>"))
        fig.add_hline(y=float(cv[col].mean()), line_dash="dash", line_color=color,
                      annotation_text=f"mean {name} {cv[col].mean():.3f} ± {cv[col].std(ddof=0):.3f}",
                      annotation_position=where)
    fig.update_layout(title="Time-ordered cross-validation", barmode="group", yaxis_range=[0, 1], height=380,
                      margin={"l": 40, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.2})
    return fig


def pass_rate_figure(curve: pd.DataFrame, threshold: float | None = None, band: tuple[float, float] = (0.03, 0.05)) -> go.Figure:
    """Share of bars Stage 1 lets through per split as the threshold moves; the seed's 3-5 % band shaded."""
    fig = go.Figure()
    for split, g in curve.groupby("split", sort=False):
        fig.add_trace(go.Scatter(x=g["threshold"], y=100 * g["pass_rate"], mode="lines", name=split,
                                 line={"color": SPLIT_COLORS.get(split)}))
    fig.add_hrect(y0=100 * band[0], y1=100 * band[1], fillcolor="green", opacity=0.12, line_width=0,
                  annotation_text="3-5 %", annotation_position="top left")
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.3f}")
    # a log axis from the smallest positive rate (a decade below it) to 100 %: autorange ran it to 100k %
    pos = 100 * curve["pass_rate"][curve["pass_rate"] > 0]
    lo = float(np.floor(np.log10(min(float(pos.min()), 100 * band[0])))) if len(pos) else -2.0
    fig.update_layout(title="Stage 1 pass rate", xaxis_title="threshold on 1 - P(no pivot)", yaxis_title="% of bars",
                      yaxis_type="log", yaxis_range=[lo, 2.0], height=360, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


def importance_figure(imp: pd.DataFrame, top: int = 20) -> go.Figure:
    d = imp.sort_values("gain", ascending=False).head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=d["gain"], y=d["feature"], orientation="h", marker_color="#1f77b4"))
    fig.update_layout(title=f"Top {len(d)} features (gain)", height=max(300, 22 * len(d) + 80),
                      margin={"l": 160, "r": 20, "t": 50, "b": 40})
    return fig


def evidence_figure(evidence: dict) -> go.Figure:
    """Accuracy over ALL signal bars (95 % bootstrap CI whiskers) next to the baselines on the same
    bars, per split (val, test); the pivot-only accuracy as a hollow marker, labelled as such."""
    fig = go.Figure()
    splits = [s for s in ("val", "test") if evidence.get(s)]
    names = ["Stage 2"] + list((evidence[splits[0]].get("baselines") or {}) if splits else [])
    colors = ["#1f77b4", "#bbbbbb", "#999999", "#777777", "#555555"]
    for j, name in enumerate(names):
        ys, err_lo, err_hi, text = [], [], [], []
        for s in splits:
            e = evidence[s]
            v = e.get("accuracy_signals") if name == "Stage 2" else e["baselines"].get(name)
            ys.append(v)
            ci = (e.get("uncertainty") or {}).get("accuracy_signals") if name == "Stage 2" else None
            err_lo.append(v - ci[0] if ci and v is not None else 0)
            err_hi.append(ci[1] - v if ci and v is not None else 0)
            text.append("-" if v is None else f"{v:.3f}")
        x = [f"{s} ({evidence[s]['signals']} signals)" for s in splits]
        fig.add_trace(go.Bar(x=x, y=ys, name=name, marker_color=colors[j % len(colors)], text=text, textposition="outside",
                             error_y={"type": "data", "symmetric": False, "array": err_hi, "arrayminus": err_lo,
                                      "visible": name == "Stage 2"}))
    fig.add_trace(go.Scatter(x=[f"{s} ({evidence[s]['signals']} signals)" for s in splits],
                             y=[evidence[s].get("accuracy_pivots") for s in splits], mode="markers",
                             name="Stage 2, pivot bars only (not knowable at the bar)",
                             marker={"symbol": "diamond-open", "size": 12, "color": "#d62728"}))
    fig.update_layout(title="Accuracy over every Stage 1 signal bar ('no pivot' bars count as wrong)", barmode="group",
                      yaxis_range=[0, 1.05], yaxis_title="accuracy", height=400,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.2})
    return fig


def stage1_history_figure(history: pd.DataFrame) -> go.Figure:
    """Stage 1 training curves (Keras' history.csv): loss and accuracy per epoch, train and
    validation, on whole-number epoch axes; the best validation-loss epoch (the weights kept by
    early stopping) marked."""
    from plotly.subplots import make_subplots

    from engine.plots.training import epoch_axis

    h = history.copy()
    if "epoch" not in h:
        h.insert(0, "epoch", np.arange(1, len(h) + 1))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for j, metric in enumerate(("loss", "accuracy"), start=1):
        for col, name, color, dash in ((metric, "train", "#1f77b4", None), (f"val_{metric}", "validation", "#ff7f0e", "dot")):
            if col in h and h[col].notna().any():
                fig.add_trace(go.Scatter(x=h["epoch"], y=h[col], name=name, mode="lines+markers", legendgroup=name,
                                         showlegend=j == 1, line={"color": color, "dash": dash}), row=1, col=j)
        fig.update_xaxes(title_text="epoch", row=1, col=j, **epoch_axis(h))
    if "val_loss" in h and h["val_loss"].notna().any():
        best = int(h["epoch"].iloc[int(np.nanargmin(h["val_loss"].to_numpy(dtype="float64")))])
        for j in (1, 2):
            fig.add_vline(x=best, line_dash="dash", line_color="#777", row=1, col=j,
                          **({"annotation_text": f"best epoch {best}", "annotation_position": "top right"} if j == 1 else {}))
    fig.update_layout(title="Stage 1 training", height=340, margin={"l": 50, "r": 20, "t": 60, "b": 100},
                      legend={"orientation": "h", "y": -0.3, "yanchor": "top", "x": 0})
    return fig
