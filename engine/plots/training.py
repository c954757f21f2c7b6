"""Training curves: pure plotly builders over the runs' metrics tables (never import streamlit)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRADING = [("val_directional_accuracy", "directional accuracy"), ("val_win_rate", "win rate"),
           ("val_profit_factor", "profit factor")]
SKILL = [("val_accuracy", "accuracy"), ("val_baseline_accuracy", "majority class"), ("val_log_loss", "log loss"),
         ("val_baseline_log_loss", "prior log loss"), ("val_regression_skill", "regression skill")]


def _empty(title: str, note: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=300, xaxis_visible=False, yaxis_visible=False)
    return fig


def loss_figure(history: pd.DataFrame, steps: pd.DataFrame | None = None, title: str = "Loss") -> go.Figure:
    """Train and validation loss per epoch; the running train loss every few steps, when given,
    on a second x axis (optimizer steps)."""
    if (history is None or history.empty) and (steps is None or steps.empty):
        return _empty(title, "no epoch finished yet")
    fig = make_subplots(rows=1, cols=2 if steps is not None and not steps.empty else 1,
                        subplot_titles=("per epoch", "running train loss per step") if steps is not None and not steps.empty
                        else ("per epoch",))
    if history is not None and not history.empty:
        for col, name, dash in (("train_loss", "train", None), ("val_loss", "validation", "dot")):
            if col in history:
                fig.add_trace(go.Scatter(x=history["epoch"], y=history[col], name=name, mode="lines+markers",
                                         line={"dash": dash}), row=1, col=1)
        fig.update_xaxes(title_text="epoch", row=1, col=1)
    if steps is not None and not steps.empty:
        fig.add_trace(go.Scatter(x=steps["step"], y=steps["train_loss"], name="train (running)", mode="lines"), row=1, col=2)
        fig.update_xaxes(title_text="optimizer step", row=1, col=2)
    fig.update_layout(title=title, height=330, margin={"t": 60, "b": 40, "l": 40, "r": 20}, legend_orientation="h")
    return fig


def metrics_figure(history: pd.DataFrame, title: str = "Validation metrics") -> go.Figure:
    """Trading metrics after fees (left) and classification skill against the baselines (right)."""
    if history is None or history.empty:
        return _empty(title, "no epoch finished yet")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("trading (after fees)", "skill vs naive baselines"))
    for col, name in TRADING:
        if col in history and history[col].notna().any():
            fig.add_trace(go.Scatter(x=history["epoch"], y=history[col], name=name, mode="lines+markers"), row=1, col=1)
    for col, name in SKILL:
        if col in history and history[col].notna().any():
            dash = "dot" if "baseline" in col else None
            fig.add_trace(go.Scatter(x=history["epoch"], y=history[col], name=name, mode="lines+markers",
                                     line={"dash": dash}), row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title=title, height=330, margin={"t": 60, "b": 40, "l": 40, "r": 20}, legend_orientation="h")
    return fig


def compare_figure(histories: dict[str, pd.DataFrame], metric: str) -> go.Figure:
    """One metric per epoch for several runs, overlaid."""
    fig = go.Figure()
    for label, h in histories.items():
        if h is not None and not h.empty and metric in h:
            fig.add_trace(go.Scatter(x=h["epoch"], y=h[metric], name=label, mode="lines+markers"))
    if not fig.data:
        return _empty(metric, f"no run has {metric}")
    fig.update_layout(title=metric, xaxis_title="epoch", height=360, margin={"t": 50, "b": 40, "l": 40, "r": 20},
                      legend_orientation="h")
    return fig
