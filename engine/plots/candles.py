"""Candlestick + volume chart with range selection, optional gap shading and markers."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_POINTS = 20_000  # keep the browser responsive: longer windows are OHLC-aggregated for display (never cut)


def display_bars(df: pd.DataFrame, max_points: int | None = None) -> tuple[pd.DataFrame, int, str]:
    """The bars to draw and how: at most ``max_points`` candles.  A longer frame is aggregated
    every ``k`` consecutive bars (open first, high max, low min, close last, volume sum, time of the
    first bar), so no part of the window is dropped and no high / low is lost.  Returns
    (frame, k, note); k == 1 and note == "" when every bar is drawn.  pandas' groupby does the
    aggregation; only the grouping rule is written here."""
    max_points = max_points or MAX_POINTS
    n = len(df)
    if n <= max_points:
        return df, 1, ""
    k = -(-n // max_points)
    d = df.reset_index(drop=True)
    agg = {"timestamp": "first", "open": "first", "high": "max", "low": "min", "close": "last"}
    if "volume" in d:
        agg["volume"] = "sum"
    out = d.groupby(d.index // k, sort=True).agg(agg)
    note = f"showing {len(out):,} of {n:,} bars: OHLC-aggregated every {k} bars (zoom in with a shorter window for every bar)"
    return out, k, note


def candlestick_figure(df: pd.DataFrame, title: str = "", *, gaps: Iterable[dict] | None = None,
                       markers: pd.DataFrame | None = None, lines: dict[str, pd.Series] | None = None,
                       height: int = 560, max_points: int | None = None) -> go.Figure:
    """``df``: timestamp, open, high, low, close, volume.  ``markers``: timestamp, price, text,
    symbol ('triangle-up' ...), color.  ``lines``: name -> series aligned with df (overlays).
    ``max_points``: candles drawn at most (default ``MAX_POINTS``); more are OHLC-aggregated."""
    d, k, note = display_bars(df, max_points)
    if k > 1 and lines:  # overlays aligned with df: the value at each aggregated candle's last bar
        last = np.minimum(np.arange(len(d)) * k + k - 1, len(df) - 1)
        lines = {name: pd.Series(s.to_numpy()[last], index=d.index) if len(s) == len(df) else s
                 for name, s in lines.items()}
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.02)
    fig.add_trace(go.Candlestick(x=d["timestamp"], open=d["open"], high=d["high"], low=d["low"], close=d["close"],
                                 name="price", increasing_line_color="#26a69a", decreasing_line_color="#ef5350"),
                  row=1, col=1)
    colors = ["#26a69a" if c >= o else "#ef5350" for o, c in zip(d["open"], d["close"])]
    fig.add_trace(go.Bar(x=d["timestamp"], y=d["volume"], name="volume", marker_color=colors, opacity=0.6), row=2, col=1)
    for name, s in (lines or {}).items():
        fig.add_trace(go.Scatter(x=d["timestamp"], y=s if k > 1 or len(s) != len(df) else s.loc[d.index], name=name,
                                 mode="lines", line={"width": 1}), row=1, col=1)
    if markers is not None and len(markers):
        m = markers[(markers["timestamp"] >= d["timestamp"].iloc[0]) & (markers["timestamp"] <= d["timestamp"].iloc[-1])]
        for (sym, color), g in m.groupby([m.get("symbol", "circle"), m.get("color", "#1f77b4")], sort=False):
            fig.add_trace(go.Scatter(x=g["timestamp"], y=g["price"], mode="markers", text=g.get("text"),
                                     name=str(g["label"].iloc[0]) if "label" in g else str(sym),
                                     marker={"symbol": sym, "size": 10, "color": color, "line": {"width": 1}}),
                          row=1, col=1)
    t0, t1 = (d["timestamp"].iloc[0], d["timestamp"].iloc[-1]) if len(d) else (None, None)
    for g in gaps or []:
        a, b = pd.Timestamp(g["after"], tz="UTC"), pd.Timestamp(g["before"], tz="UTC")
        if t0 is not None and b >= t0 and a <= t1:
            fig.add_vrect(x0=a, x1=b, fillcolor="orange", opacity=0.25, line_width=0, row=1, col=1)
    shown = f"{title}<br><sup>{note}</sup>" if note else title
    # the legend sits under the chart: above it, it covered the title and the range buttons
    fig.update_layout(title=shown, height=height, xaxis_rangeslider_visible=False,
                      margin={"l": 40, "r": 20, "t": 70 if note else 50, "b": 40},
                      legend={"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0}, hovermode="x unified",
                      meta={"bars": len(df), "shown": len(d), "every": k, "note": note})
    # the range buttons at the top right: at the top left they sat under the title
    fig.update_xaxes(rangeselector={"x": 1, "xanchor": "right", "y": 1.01, "yanchor": "bottom", "buttons": [
        {"count": 1, "label": "1d", "step": "day", "stepmode": "backward"},
        {"count": 7, "label": "1w", "step": "day", "stepmode": "backward"},
        {"count": 1, "label": "1m", "step": "month", "stepmode": "backward"},
        {"count": 3, "label": "3m", "step": "month", "stepmode": "backward"},
        {"step": "all", "label": "all"}]}, row=1, col=1)
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="volume", row=2, col=1)
    return fig
