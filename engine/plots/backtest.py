"""Pure plotly builders for backtests (no streamlit): equity + drawdown, trades on the
candlestick chart, overlaid equity curves of several runs, and the sweep heatmap."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.plots.candles import candlestick_figure

MAX_LINE_POINTS = 6_000  # equity curves are thinned to this many points for the browser
TRADE_BARS = 5_000  # candles under the trades at most: a whole backtest period is OHLC-aggregated (with a note)


def _thin(df: pd.DataFrame, n: int = MAX_LINE_POINTS) -> pd.DataFrame:
    if len(df) <= n:
        return df
    step = int(np.ceil(len(df) / n))
    keep = np.zeros(len(df), dtype=bool)
    keep[::step] = True
    keep[-1] = True
    if "drawdown" in df:  # never thin away the deepest point
        keep[int(np.argmin(df["drawdown"].to_numpy()))] = True
    return df[keep]


def equity_figure(equity: pd.DataFrame, title: str = "", *, height: int = 520) -> go.Figure:
    """``equity``: the stored equity curve (timestamp, equity, drawdown, benchmark, ...)."""
    d = _thin(equity)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04,
                        subplot_titles=("Equity", "Drawdown"))
    fig.add_trace(go.Scatter(x=d["timestamp"], y=d["equity"], name="strategy", line={"width": 1.6, "color": "#1f77b4"}),
                  row=1, col=1)
    if "benchmark" in d:
        fig.add_trace(go.Scatter(x=d["timestamp"], y=d["benchmark"], name="buy & hold",
                                 line={"width": 1, "color": "#999999", "dash": "dot"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=d["timestamp"], y=d["drawdown"] * 100, name="drawdown %", fill="tozeroy",
                             line={"width": 1, "color": "#ef5350"}), row=2, col=1)
    fig.update_yaxes(title_text="value", row=1, col=1)
    fig.update_yaxes(title_text="%", row=2, col=1)
    fig.update_layout(title=title, height=height, margin={"l": 40, "r": 20, "t": 60, "b": 50}, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.08, "yanchor": "top", "x": 0})  # under the chart: clear of the titles
    return fig


def trades_figure(candles: pd.DataFrame, trades: pd.DataFrame, title: str = "", *,
                  max_points: int = TRADE_BARS) -> go.Figure:
    """Candles with the trades of one symbol: entries (triangles, green long / red short) and
    exits (crosses), restricted to the candles' time range.  Meant for the whole backtest period:
    past ``max_points`` bars the candles are OHLC-aggregated for display (the title says so; every
    trade keeps its marker at its own time and price), and the range buttons zoom in."""
    t0, t1 = candles["timestamp"].iloc[0], candles["timestamp"].iloc[-1]
    tr = trades[(trades["exit_time"] >= t0) & (trades["entry_time"] <= t1)]
    long_ = tr["direction"] == "long"
    entries = pd.DataFrame({"timestamp": tr["entry_time"], "price": tr["entry_price"],
                            "symbol": np.where(long_, "triangle-up", "triangle-down"),
                            "color": np.where(long_, "#2e7d32", "#c62828"),
                            "label": np.where(long_, "long entry", "short entry"),
                            "text": [f"{d} entry {p:,.4g}" for d, p in zip(tr["direction"], tr["entry_price"])]})
    closed = tr[tr["status"] == "closed"]
    exits = pd.DataFrame({"timestamp": closed["exit_time"], "price": closed["exit_price"], "symbol": "x",
                          "color": "#424242", "label": "exit",
                          "text": [f"exit {p:,.4g}, pnl {x:,.2f} ({r * 100:+.2f}%)"
                                   for p, x, r in zip(closed["exit_price"], closed["pnl"], closed["return"])]})
    markers = pd.concat([entries, exits], ignore_index=True)
    return candlestick_figure(candles, title, markers=markers if len(markers) else None, max_points=max_points)


def compare_figure(curves: dict[str, pd.Series], *, height: int = 480) -> go.Figure:
    """Equity curves normalised to 1.0 at their start, overlaid; drawdowns below."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04,
                        subplot_titles=("Equity (start = 1.0)", "Drawdown %"))
    for label, s in curves.items():
        d = _thin(pd.DataFrame({"timestamp": s.index, "equity": s.to_numpy(),
                                "drawdown": s.to_numpy() / np.maximum.accumulate(s.to_numpy()) - 1}))
        fig.add_trace(go.Scatter(x=d["timestamp"], y=d["equity"], name=label, legendgroup=label, line={"width": 1.4}),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=d["timestamp"], y=d["drawdown"] * 100, name=label, legendgroup=label,
                                 showlegend=False, line={"width": 1}), row=2, col=1)
    fig.update_layout(height=height, margin={"l": 40, "r": 20, "t": 40, "b": 20}, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.12, "x": 0})
    return fig


def _axis_label(v) -> str:
    return "off" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:g}"


def heatmap_figure(sweep: pd.DataFrame, metric: str, *, x: str = "threshold", y: str = "sl_stop",
                   fixed: dict | None = None, height: int = 480, best: dict | None = None) -> go.Figure:
    """The chosen metric over two swept parameters (rows of ``sweep`` with the other
    parameters at the ``fixed`` values); one swept parameter gives a line chart.  A cell without
    a value (no trade: its ratios are undefined) is blank and its hover says "-" and the trades;
    when no shown cell has a value the figure says so.  ``best``: the chosen cell's parameters
    (threshold / sl_stop / tp_stop), outlined."""
    d = sweep
    for k, v in (fixed or {}).items():
        d = d[d[k].isna()] if v is None or (isinstance(v, float) and np.isnan(v)) else d[d[k] == v]
    xs = [None if pd.isna(v) else v for v in d[x].drop_duplicates()]
    ys = [None if pd.isna(v) else v for v in d[y].drop_duplicates()]
    key = d.assign(_x=d[x].astype("float64").fillna(-1.0), _y=d[y].astype("float64").fillna(-1.0),
                   _v=pd.to_numeric(d[metric], errors="coerce").astype("float64"))
    if "trades" in key:
        key["_t"] = pd.to_numeric(key["trades"], errors="coerce").astype("float64")
    else:
        key["_t"] = np.nan
    grid = key.pivot_table(index="_y", columns="_x", values="_v", aggfunc="first", dropna=False)
    tgrid = key.pivot_table(index="_y", columns="_x", values="_t", aggfunc="first", dropna=False)
    xk = [-1.0 if v is None else float(v) for v in xs]
    yk = [-1.0 if v is None else float(v) for v in ys]
    z = grid.reindex(index=yk, columns=xk).to_numpy(dtype="float64")
    z = np.where(np.isfinite(z), z, np.nan)  # never draw infinity
    tr = tgrid.reindex(index=yk, columns=xk).to_numpy(dtype="float64")
    text = [[("-" if not np.isfinite(v) else f"{v:.4g}") + ("" if not np.isfinite(t) else f" ({int(t)} trades)")
             for v, t in zip(zr, trr)] for zr, trr in zip(z, tr)]
    empty = not np.isfinite(z).any()
    if len(ys) == 1:
        fig = go.Figure(go.Scatter(x=[_axis_label(v) for v in xs], y=z[0], mode="lines+markers", name=metric,
                                   text=text[0], hovertemplate=f"{x}=%{{x}}<br>{metric}=%{{text}}<extra></extra>"))
        fig.update_layout(xaxis_title=x, yaxis_title=metric)
    else:
        lo, hi = (np.nanmin(z), np.nanmax(z)) if not empty else (0.0, 0.0)
        fig = go.Figure(go.Heatmap(z=z, x=[_axis_label(v) for v in xs], y=[_axis_label(v) for v in ys], text=text,
                                   colorscale="RdYlGn", colorbar={"title": metric}, zmid=0 if lo < 0 < hi else None,
                                   hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{text}}<extra></extra>"))
        fig.update_layout(xaxis_title=x, yaxis_title=y)
        fig.update_xaxes(type="category")
        fig.update_yaxes(type="category")
        if best and not empty:
            bx, by = _axis_label(best.get(x)), _axis_label(best.get(y))
            if bx in [_axis_label(v) for v in xs] and by in [_axis_label(v) for v in ys]:
                fig.add_trace(go.Scatter(x=[bx], y=[by], mode="markers", name="chosen cell", hoverinfo="skip",
                                         marker={"symbol": "square-open", "size": 22, "color": "black",
                                                 "line": {"width": 2}}))
    if empty:
        fig.add_annotation(text=f"no cell shown has a {metric}: none of them traded (a cell without trades has no "
                                "ratios; see the table's no_trade_reason)",
                           xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font={"size": 14})
    fig.update_layout(title=f"{metric} by {x}" + ("" if len(ys) == 1 else f" and {y}"), height=height,
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig
