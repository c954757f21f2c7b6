"""Pure plotly builders for trade analytics (no streamlit): trades on the candles coloured by
their P&L, the monthly returns heatmap, the P&L distribution."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.backtest.trades import monthly_grid
from engine.plots.candles import display_bars

WIN, LOSS = "#2e7d32", "#c62828"


def pnl_trades_figure(candles: pd.DataFrame, trades: pd.DataFrame, title: str = "", *,
                      highlight: dict | pd.Series | None = None, height: int = 560,
                      max_points: int = 2_000) -> go.Figure:
    """Candles with one symbol's trades: entries (triangles), exits (circles coloured by the trade's
    return on a red-green scale centred on 0, the colour bar in %), and a line from entry to exit
    (green for a winner, red for a loser); ``highlight``: one trade shaded (the one picked in the
    trade list).  Trades sit at their exact times and prices whatever the candles' aggregation."""
    # price only (no volume pane, no per-bar colours): a light chart, built on every pick of a trade
    d, k, note = display_bars(candles, max_points)  # OHLC-aggregated past max_points candles, with a note
    fig = go.Figure(go.Candlestick(x=d["timestamp"], open=d["open"], high=d["high"], low=d["low"], close=d["close"],
                                   name="price", increasing_line_color="#26a69a", decreasing_line_color="#ef5350"))
    fig.update_layout(title=f"{title}<br><sup>{note}</sup>" if note else title, height=height,
                      xaxis_rangeslider_visible=False, hovermode="closest", yaxis_title="price",
                      margin={"l": 50, "r": 20, "t": 70 if note else 50, "b": 40},
                      legend={"orientation": "h", "y": -0.08, "yanchor": "top", "x": 0},
                      meta={"bars": len(candles), "shown": len(d), "every": k, "note": note})
    if candles.empty:
        return fig
    t0, t1 = candles["timestamp"].iloc[0], candles["timestamp"].iloc[-1]
    tr = trades[(trades["exit_time"] >= t0) & (trades["entry_time"] <= t1)]
    if len(tr):
        long_ = (tr["direction"] == "long").to_numpy()
        reason = tr["exit_reason"] if "exit_reason" in tr else pd.Series("", index=tr.index)
        ret = tr["return"].to_numpy("float64") * 100
        for win, color in ((True, WIN), (False, LOSS)):
            g = tr[(tr["pnl"] > 0).to_numpy() == win]
            xs, ys = [], []
            for a, pa, b, pb in zip(g["entry_time"], g["entry_price"], g["exit_time"], g["exit_price"]):
                xs += [a, b, None]
                ys += [pa, pb, None]
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="winning trade" if win else "losing trade",
                                         hoverinfo="skip", line={"color": color, "width": 1.5, "dash": "dot"}))
        fig.add_trace(go.Scatter(
            x=tr["entry_time"], y=tr["entry_price"], mode="markers", name="entry",
            marker={"symbol": np.where(long_, "triangle-up", "triangle-down"), "size": 11,
                    "color": np.where(long_, "#1565c0", "#6a1b9a"), "line": {"width": 1, "color": "white"}},
            text=[f"{d} entry {p:,.6g} ({why})" for d, p, why in
                  zip(tr["direction"], tr["entry_price"], tr.get("entry_reason", tr["direction"] + " signal"))],
            hovertemplate="%{text}<extra></extra>"))
        lim = max(float(np.nanmax(np.abs(ret))) if np.isfinite(ret).any() else 1.0, 1e-9)
        fig.add_trace(go.Scatter(
            x=tr["exit_time"], y=tr["exit_price"], mode="markers", name="exit (colour = trade return %)",
            marker={"symbol": "circle", "size": 11, "color": np.nan_to_num(ret), "colorscale": "RdYlGn", "cmin": -lim,
                    "cmax": lim, "cmid": 0, "line": {"width": 1, "color": "#424242"},
                    "colorbar": {"title": {"text": "trade %"}, "x": 1.02, "len": 0.6, "y": 0.65}},
            text=[f"{'still open at the end' if s == 'open' else 'exit'} {p:,.6g} · {why} · pnl {x:,.2f} ({r:+.2f}%)"
                  for s, p, why, x, r in zip(tr["status"], tr["exit_price"], reason, tr["pnl"], ret)],
            hovertemplate="%{text}<extra></extra>"))
    if highlight is not None:
        fig.add_vrect(x0=pd.Timestamp(highlight["entry_time"]), x1=pd.Timestamp(highlight["exit_time"]),
                      fillcolor="#1f77b4", opacity=0.12, line_width=0)
    return fig


def monthly_heatmap_figure(monthly: pd.DataFrame, *, height: int | None = None) -> go.Figure:
    """Years x months of the monthly returns (%), each cell with its return and its closed trades."""
    grid, n = monthly_grid(monthly)
    have = np.flatnonzero(grid.notna().any(axis=0).to_numpy())
    if len(have):  # the months from the first to the last the period covers (all twelve over several years)
        keep = grid.columns[have[0]:have[-1] + 1]
        grid, n = grid[keep], n[keep]
    z = grid.to_numpy("float64") * 100
    text = [[("" if not np.isfinite(v) else f"{v:+.2f}%<br>{k} trade{'s' if k != 1 else ''}") for v, k in zip(zr, nr)]
            for zr, nr in zip(z, n.to_numpy())]
    finite = z[np.isfinite(z)]
    lim = float(np.abs(finite).max()) if len(finite) else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=list(grid.columns), y=[str(y) for y in grid.index], text=text,
                               texttemplate="%{text}", textfont={"size": 11}, colorscale="RdYlGn", zmin=-lim,
                               zmax=lim, zmid=0,
                               colorbar={"title": {"text": "%"}}, xgap=2, ygap=2,
                               hovertemplate="%{x} %{y}: %{text}<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(type="category", side="top")
    fig.update_layout(title={"text": "Monthly returns", "y": 0.98}, height=height or 160 + 60 * len(grid),
                      margin={"l": 60, "r": 20, "t": 80, "b": 20})
    return fig


def pnl_histogram_figure(dist: dict, *, height: int = 340) -> go.Figure:
    """Histogram of closed trades' returns (%), losers red, winners green, mean and median marked;
    the title gives n."""
    fig = go.Figure()
    if not dist.get("n"):
        fig.add_annotation(text="no closed trade: no P&L distribution", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        fig.update_layout(title="P&L distribution", height=height, xaxis_visible=False, yaxis_visible=False)
        return fig
    edges = np.asarray(dist["edges"]) * 100
    counts = np.asarray(dist["counts"])
    mids, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig.add_trace(go.Bar(x=mids, y=counts, width=widths, marker_color=np.where(mids > 0, WIN, LOSS), name="trades",
                         customdata=np.column_stack([edges[:-1], edges[1:]]),
                         hovertemplate="%{customdata[0]:.2f}% .. %{customdata[1]:.2f}%: %{y} trades<extra></extra>"))
    left = dist["median"] <= dist["mean"]  # the smaller one's label to the left: the two never overlap
    for v, label, dash, side in ((dist["mean"], "mean", "dash", "top right" if left else "top left"),
                                 (dist["median"], "median", "dot", "top left" if left else "top right")):
        fig.add_vline(x=v * 100, line_dash=dash, line_color="#424242",
                      annotation_text=f"{label} {v * 100:+.2f}%", annotation_position=side)
    fig.update_layout(title=f"P&L distribution of {dist['n']:,} closed trades ({dist['win_share'] * 100:.0f}% winners)",
                      xaxis_title="trade return % (after fees, funding, borrow)", yaxis_title="trades", height=height,
                      bargap=0.02, showlegend=False, margin={"l": 50, "r": 20, "t": 60, "b": 50})
    return fig
