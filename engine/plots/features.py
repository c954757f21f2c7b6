"""Feature figures: a candlestick chart with ZigZag pivots over one feature's panel, and the
ZigZag pivots as chart markers.  Pure plotly builders; never import streamlit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

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


MAX_PIVOT_LABELS = 24  # text labels on at most this many pivots in view (markers on every pivot)


def significant_pivots(pivots: pd.DataFrame, n: int = MAX_PIVOT_LABELS) -> np.ndarray:
    """A boolean mask of the ``n`` most significant pivots (rows of ``pivots``, time-ordered): the
    ones with the largest swing, the larger relative move to the previous or the next pivot.
    Every pivot when there are ``n`` or fewer."""
    k = len(pivots)
    if k <= n:
        return np.ones(k, dtype=bool)
    price = pivots["price"].to_numpy(dtype="float64")
    move = np.abs(np.diff(price)) / np.maximum(np.abs(price[:-1]), 1e-300)
    swing = np.zeros(k)
    swing[1:] = move
    swing[:-1] = np.maximum(swing[:-1], move)
    keep = np.zeros(k, dtype=bool)
    if n > 0:
        keep[np.argsort(-swing, kind="stable")[:n]] = True
    return keep


CHART_BARS = 3_000  # candles drawn at most; a longer window is OHLC-aggregated for display (with a note)


def epoch_ms(ts) -> np.ndarray:
    """Timestamps as float milliseconds since the epoch: what plotly.js reads on a date axis, sent as
    a compact binary array instead of one date string per point (a third of a 90-day chart's bytes)."""
    t = pd.to_datetime(pd.Series(ts), utc=True)
    return ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(dtype="float64")


def feature_figure(candles: pd.DataFrame, feature: pd.DataFrame, name: str, *, pivots: pd.DataFrame | None = None,
                   title: str = "", leaking: bool = False, height: int = 680,
                   max_labels: int = MAX_PIVOT_LABELS, max_bars: int = CHART_BARS) -> go.Figure:
    """Candles (timestamp, open, high, low, close) with the ZigZag line and typed pivots on top;
    the feature (timestamp, <name>) below on the same time axis.  Every pivot in view has its
    marker (type and price on hover); only the ``max_labels`` largest swings carry a text label,
    so a long window stays readable (a short one labels every pivot).  More than ``max_bars``
    candles are OHLC-aggregated for display (``layout.meta["note"]`` says so); the feature line
    keeps every value.  Built in one go (no make_subplots / update_* round trips): it runs on
    every rerun of the Features page."""
    from engine.plots.candles import display_bars

    c, k, note = display_bars(candles, max_bars)
    meta = {"pivots": 0, "labelled": 0, "bars": len(candles), "shown": len(c), "every": k, "note": note}
    inc, dec = "#26a69a", "#ef5350"
    data = [go.Candlestick(x=epoch_ms(c["timestamp"]), open=c["open"].to_numpy(), high=c["high"].to_numpy(),
                           low=c["low"].to_numpy(), close=c["close"].to_numpy(), name="price",
                           increasing_line_color=inc, decreasing_line_color=dec, xaxis="x", yaxis="y")]
    if pivots is not None and len(pivots) and len(candles):
        t0, t1 = candles["timestamp"].iloc[0], candles["timestamp"].iloc[-1]
        p = pivots[(pivots["pivot_time"] >= t0) & (pivots["pivot_time"] <= t1)]
        if len(p):
            px = epoch_ms(p["pivot_time"])
            data.append(go.Scatter(x=px, y=p["price"].to_numpy(), mode="lines", name="ZigZag", hoverinfo="skip",
                                   line={"color": "#5c6bc0", "width": 1.2}, xaxis="x", yaxis="y"))
            m = zigzag_markers(p).reset_index(drop=True)
            keep = significant_pivots(p, max_labels)
            m["x"], m["shown"] = px, np.where(keep, m["label"], "")
            meta.update(pivots=len(p), labelled=int(keep.sum()))
            for label, g in m.groupby("label", sort=False):
                data.append(go.Scatter(x=g["x"].to_numpy(), y=g["price"].to_numpy(), mode="markers+text",
                                       text=g["shown"].tolist(), hovertext=g["text"].tolist(), hoverinfo="text",
                                       textposition="top center" if label in ("HH", "LH") else "bottom center",
                                       name=str(label), xaxis="x", yaxis="y",
                                       marker={"symbol": g["symbol"].iloc[0], "size": 10, "color": g["color"].iloc[0],
                                               "line": {"width": 1, "color": "#333"}}))
    label = f"{name} (LEAKING)" if leaking else name
    data.append(go.Scatter(x=epoch_ms(feature["timestamp"]), y=feature[name].to_numpy(dtype="float64"), mode="lines",
                           name=label, xaxis="x2", yaxis="y2",
                           line={"width": 1.2, "color": "#d32f2f" if leaking else "#1565c0"}))
    shown = f"{title}<br><sup>{note}</sup>" if note else title
    layout = {
        "title": {"text": shown}, "height": height, "hovermode": "x unified", "meta": meta,
        "margin": {"l": 40, "r": 20, "t": 70 if note else 50, "b": 50},
        "legend": {"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0},  # under the chart: clear of the title
        # the two panels share one time axis (as make_subplots(shared_xaxes=True) would set it up)
        "xaxis": {"type": "date", "anchor": "y", "domain": [0, 1], "matches": "x2", "showticklabels": False,
                  "rangeslider": {"visible": False}},
        "xaxis2": {"type": "date", "anchor": "y2", "domain": [0, 1]},
        "yaxis": {"anchor": "x", "domain": [0.395, 1.0], "title": {"text": "price"}},
        "yaxis2": {"anchor": "x2", "domain": [0.0, 0.365], "title": {"text": label}},
    }
    return go.Figure(data=data, layout=layout)
