"""Training curves: pure plotly builders over the runs' metrics tables (never import streamlit)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRADING = [("val_directional_accuracy", "directional accuracy"), ("val_win_rate", "win rate"),
           ("val_profit_factor", "profit factor")]
SKILL = [("val_accuracy", "accuracy"), ("val_baseline_accuracy", "majority class"), ("val_log_loss", "log loss"),
         ("val_baseline_log_loss", "prior log loss"), ("val_regression_skill", "regression skill")]


# horizontal legends under the plot area (below the x-axis title), clear of the title and subplot titles
_LEGEND = {"orientation": "h", "y": -0.3, "yanchor": "top", "x": 0}


def epoch_axis(*histories: pd.DataFrame | None) -> dict:
    """x-axis settings for epochs: whole numbers only (no 1.5 epoch ticks), at most ~10 ticks."""
    epochs = [e for h in histories if h is not None and not h.empty and "epoch" in h for e in h["epoch"].dropna()]
    lo, hi = (int(min(epochs)), int(max(epochs))) if epochs else (0, 1)
    return {"tickmode": "linear", "tick0": lo, "dtick": max(1, -(-(hi - lo) // 10)), "tickformat": "d"}


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with the start-up bias removed
    (``weight`` 0 = the raw values, 0.99 = very smooth).  Missing values stay missing and do not
    move the average."""
    v = np.asarray(values, dtype="float64")
    if not 0 < weight < 1 or not len(v):
        return v.copy()
    out = np.full(len(v), np.nan)
    last, n = 0.0, 0
    for i, x in enumerate(v):
        if not np.isfinite(x):
            continue
        last, n = last * weight + (1 - weight) * x, n + 1
        out[i] = last / (1 - weight ** n)
    return out


def _curve(fig: go.Figure, x, y, *, name: str, smoothing: float, row: int | None = None, col: int | None = None,
           mode: str = "lines+markers", line: dict | None = None, **kw) -> None:
    """One curve; with smoothing, the smoothed line in full colour over the raw values drawn faint
    (as TensorBoard), both under one legend entry."""
    where = {"row": row, "col": col} if row else {}
    if not 0 < smoothing < 1:
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode=mode, line=line, **kw), **where)
        return
    shown = sum(t.showlegend is not False for t in fig.data)  # the same colour for the raw and the smoothed line
    line = {"color": PALETTE[shown % len(PALETTE)], **(line or {})}
    fig.add_trace(go.Scatter(x=x, y=y, name=f"{name} (raw)", mode="lines", line={**line, "width": 1},
                             opacity=0.3, legendgroup=name, showlegend=False, hoverinfo="skip", **kw), **where)
    fig.add_trace(go.Scatter(x=x, y=smooth(y, smoothing), name=name, mode=mode, line=line, legendgroup=name, **kw),
                  **where)


def _finish(fig: go.Figure, smoothing: float, log_y: bool) -> go.Figure:
    if log_y:
        fig.update_yaxes(type="log")
    if 0 < smoothing < 1:
        fig.update_layout(meta={**(fig.layout.meta or {}), "smoothing": smoothing})
    return fig


def _empty(title: str, note: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=300, xaxis_visible=False, yaxis_visible=False)
    return fig


def loss_figure(history: pd.DataFrame, steps: pd.DataFrame | None = None, title: str = "Loss", *,
                smoothing: float = 0.0, log_y: bool = False) -> go.Figure:
    """Train and validation loss per epoch; the running train loss every few steps, when given,
    on a second x axis (optimizer steps).  ``smoothing``: TensorBoard's EMA weight (0 = off);
    ``log_y``: log-scale y axes."""
    if (history is None or history.empty) and (steps is None or steps.empty):
        return _empty(title, "no epoch finished yet")
    fig = make_subplots(rows=1, cols=2 if steps is not None and not steps.empty else 1,
                        subplot_titles=("per epoch", "running train loss per step") if steps is not None and not steps.empty
                        else ("per epoch",))
    if history is not None and not history.empty:
        for col, name, dash in (("train_loss", "train", None), ("val_loss", "validation", "dot")):
            if col in history:
                _curve(fig, history["epoch"], history[col], name=name, smoothing=smoothing, row=1, col=1,
                       line={"dash": dash})
        fig.update_xaxes(title_text="epoch", row=1, col=1, **epoch_axis(history))
    if steps is not None and not steps.empty:
        _curve(fig, steps["step"], steps["train_loss"], name="train (running)", smoothing=smoothing, row=1, col=2,
               mode="lines")
        fig.update_xaxes(title_text="optimizer step", row=1, col=2)
    fig.update_layout(title=title, height=360, margin={"t": 60, "b": 110, "l": 40, "r": 20}, legend=_LEGEND)
    return _finish(fig, smoothing, log_y)


def metrics_figure(history: pd.DataFrame, title: str = "Validation metrics", *, smoothing: float = 0.0,
                   log_y: bool = False) -> go.Figure:
    """Trading metrics after fees (left) and classification skill against the baselines (right)."""
    if history is None or history.empty:
        return _empty(title, "no epoch finished yet")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("trading (after fees)", "skill vs naive baselines"))
    for col, name in TRADING:
        if col in history and history[col].notna().any():
            _curve(fig, history["epoch"], history[col], name=name, smoothing=smoothing, row=1, col=1)
    for col, name in SKILL:
        if col in history and history[col].notna().any():
            dash = "dot" if "baseline" in col else None
            _curve(fig, history["epoch"], history[col], name=name, smoothing=smoothing, row=1, col=2, line={"dash": dash})
    fig.update_xaxes(title_text="epoch", **epoch_axis(history))
    fig.update_layout(title=title, height=360, margin={"t": 60, "b": 110, "l": 40, "r": 20}, legend=_LEGEND)
    return _finish(fig, smoothing, log_y)


def compare_figure(histories: dict[str, pd.DataFrame], metric: str, *, smoothing: float = 0.0,
                   log_y: bool = False) -> go.Figure:
    """One metric per epoch for several runs, overlaid."""
    fig = go.Figure()
    for label, h in histories.items():
        if h is not None and not h.empty and metric in h:
            _curve(fig, h["epoch"], h[metric], name=label, smoothing=smoothing)
    if not fig.data:
        return _empty(metric, f"no run has {metric}")
    fig.update_layout(title=metric, xaxis_title="epoch", height=380, margin={"t": 50, "b": 40, "l": 40, "r": 20},
                      legend=_LEGEND)
    fig.update_xaxes(**epoch_axis(*histories.values()))
    return _finish(fig, smoothing, log_y)


# -- the evidence tables of a finished run (pure pandas; the Training page shows them) ----------------------------
EVIDENCE_ROWS = [("accuracy", "accuracy"), ("baseline_accuracy", "majority class"), ("macro_f1", "macro-F1"),
                 ("log_loss", "log loss"), ("baseline_log_loss", "prior log loss"), ("regression_skill", "regression skill"),
                 ("profit_factor", "profit factor"), ("win_rate", "win rate"),
                 ("pnl_per_trade", "P&L per trade"), ("directional_accuracy", "directional accuracy"),
                 ("trade_rate", "trade rate")]
SAMPLE_ROWS = [("trades", "trades"), ("independent_trades", "independent trades"), ("predictions", "predictions"),
               ("windows", "windows"), ("days", "days")]


def fmt(v, digits: int = 4) -> str:
    """A figure for a table: '-' when undefined (None / NaN / infinite), never 'inf' or 'nan'."""
    import math

    if v is None or isinstance(v, bool):
        return "-" if v is None else str(v)
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{f:.{digits}g}" if math.isfinite(f) else "-"


def _ci(u: dict | None, key: str) -> str:
    c = (u or {}).get(key)
    return "-" if not c else f"[{fmt(c[0], 3)}, {fmt(c[1], 3)}]"


def evidence_table(metrics: dict) -> pd.DataFrame:
    """Headline figures of the validation and test splits with their 95 % CIs, then the sample sizes
    behind them (every figure has its sample beside it)."""
    rows = []
    val, test = metrics.get("val") or {}, metrics.get("test") or {}
    for key, label in EVIDENCE_ROWS:
        if val.get(key) is None and test.get(key) is None and key not in ("profit_factor", "win_rate"):
            continue
        if key in ("profit_factor", "win_rate") and "trades" not in val and "trades" not in test:
            continue
        rows.append({"metric": label, "validation": fmt(val.get(key)), "val 95% CI": _ci(val.get("uncertainty"), key),
                     "test": fmt(test.get(key)), "test 95% CI": _ci(test.get("uncertainty"), key)})
    for key, label in SAMPLE_ROWS:
        v = val.get(key, (val.get("sample") or {}).get(key))
        t = test.get(key, (test.get("sample") or {}).get(key))
        if v is None and t is None:
            continue
        rows.append({"metric": label, "validation": fmt(v), "val 95% CI": "", "test": fmt(t), "test 95% CI": ""})
    return pd.DataFrame(rows, columns=["metric", "validation", "val 95% CI", "test", "test 95% CI"])


def horizon_table(metrics: dict) -> pd.DataFrame:
    """Per split and horizon: profit factor, win rate, trades and independent trades (never averaged)."""
    rows = []
    for split in ("val", "test"):
        for h, m in ((metrics.get(split) or {}).get("by_horizon") or {}).items():
            rows.append({"split": split, "horizon": h, "profit factor": fmt(m.get("profit_factor")),
                         "win rate": fmt(m.get("win_rate")), "P&L per trade": fmt(m.get("pnl_per_trade")),
                         "trades": fmt(m.get("trades")), "independent trades": fmt(m.get("independent_trades"))})
    return pd.DataFrame(rows)


def fold_table(metrics: dict) -> pd.DataFrame:
    """Walk-forward runs: each fold's value and the spread (min, median, max, std) per split and metric."""
    rows = []
    for split in ("val", "test"):
        for k, s in ((metrics.get(split) or {}).get("folds") or {}).items():
            row = {"split": split, "metric": k}
            row |= {f"fold {i + 1}": fmt(v) for i, v in enumerate(s.get("values") or [])}
            row |= {"min": fmt(s.get("min")), "median": fmt(s.get("median")), "max": fmt(s.get("max")),
                    "std": fmt(s.get("std"))}
            rows.append(row)
    return pd.DataFrame(rows)
