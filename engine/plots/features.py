"""Feature figures: a candlestick chart with ZigZag pivots over one feature's panel, and the
ZigZag pivots as chart markers.  Pure plotly builders; never import streamlit."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PIVOT_STYLE = {  # type -> (marker symbol, colour, y offset side)
    "HH": ("triangle-down", "#c62828"),
    "LH": ("triangle-down", "#ef9a9a"),
    "HL": ("triangle-up", "#a5d6a7"),
    "LL": ("triangle-up", "#2e7d32"),
}


def zigzag_markers(pivots: pd.DataFrame) -> pd.DataFrame:
    """Pivots (zigzag.parquet rows) as markers: timestamp, price, text, symbol, color, label."""
    if pivots is None or pivots.empty:
        return pd.DataFrame(columns=["timestamp", "price", "text", "symbol", "color", "label"])
    sym = pivots["type"].map(lambda t: PIVOT_STYLE[t][0])
    col = pivots["type"].map(lambda t: PIVOT_STYLE[t][1])
    text = pivots["type"] + " " + pivots["price"].map("{:.6g}".format) + "<br>confirmed " + \
        pivots["confirm_time"].dt.strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame({"timestamp": pivots["pivot_time"], "price": pivots["price"], "text": text, "symbol": sym,
                         "color": col, "label": pivots["type"]})


def feature_figure(candles: pd.DataFrame, feature: pd.DataFrame, name: str, *, pivots: pd.DataFrame | None = None,
                   title: str = "", leaking: bool = False, height: int = 680) -> go.Figure:
    """Candles (timestamp, open, high, low, close) with the ZigZag line and typed pivots on top;
    the feature (timestamp, <name>) below on the same time axis."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(x=candles["timestamp"], open=candles["open"], high=candles["high"], low=candles["low"],
                                 close=candles["close"], name="price", increasing_line_color="#26a69a",
                                 decreasing_line_color="#ef5350"), row=1, col=1)
    if pivots is not None and len(pivots):
        t0, t1 = candles["timestamp"].iloc[0], candles["timestamp"].iloc[-1]
        p = pivots[(pivots["pivot_time"] >= t0) & (pivots["pivot_time"] <= t1)]
        if len(p):
            fig.add_trace(go.Scatter(x=p["pivot_time"], y=p["price"], mode="lines", name="ZigZag",
                                     line={"color": "#5c6bc0", "width": 1.2}, hoverinfo="skip"), row=1, col=1)
            m = zigzag_markers(p)
            for label, g in m.groupby("label", sort=False):
                fig.add_trace(go.Scatter(x=g["timestamp"], y=g["price"], mode="markers+text", text=g["label"],
                                         textposition="top center" if label in ("HH", "LH") else "bottom center",
                                         hovertext=g["text"], hoverinfo="text", name=str(label),
                                         marker={"symbol": g["symbol"].iloc[0], "size": 10, "color": g["color"].iloc[0],
                                                 "line": {"width": 1, "color": "#333"}}), row=1, col=1)
    label = f"{name} (LEAKING)" if leaking else name
    fig.add_trace(go.Scatter(x=feature["timestamp"], y=feature[name], mode="lines", name=label,
                             line={"width": 1.2, "color": "#d32f2f" if leaking else "#1565c0"}), row=2, col=1)
    fig.update_layout(title=title, height=height, xaxis_rangeslider_visible=False, hovermode="x unified",
                      margin={"l": 40, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0})  # clear of the title
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text=label, row=2, col=1)
    return fig
