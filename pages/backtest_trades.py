"""Backtest page, trade analytics (Streamlit only; the figures and tables come from
engine/backtest/trades.py and engine/plots/trades.py): per-symbol summary, exit reasons, the
trade list (pick a row: the chart shows the candles around that trade), trades on the candles
coloured by P&L, monthly returns heatmap and the P&L distribution."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.backtest import trades as tt
from engine.backtest.store import Backtest
from engine.plots.trades import monthly_heatmap_figure, pnl_histogram_figure, pnl_trades_figure
from pages.ui import show_table, workspace

MONEY = st.column_config.NumberColumn(format="%.2f")
PRICE = st.column_config.NumberColumn(format="%.6g")


@st.cache_data(show_spinner=False, max_entries=8)
def _trades(root: str, bid: str, mtime: float) -> pd.DataFrame:
    from engine.backtest.store import load_backtest

    ws = workspace()
    return tt.reasons_for(ws, load_backtest(ws, bid))


@st.cache_data(show_spinner=False, max_entries=16)
def _candles(root: str, symbol: str, tf: str, start: str, end: str) -> pd.DataFrame:
    from engine.data.store import load_candles

    return load_candles(workspace(), symbol, tf, start=start, end=end)


@st.cache_data(show_spinner=False, max_entries=16)
def _trade_chart(root: str, bid: str, mtime: float, sym: str, tf: str, lo: str, hi: str, pick: tuple | None):
    """The candles of [lo, hi] with the symbol's trades (a candle chart costs ~0.5 s to build:
    built once per backtest, window and picked trade)."""
    trades = _trades(root, bid, mtime)
    candles = _candles(root, sym, tf, lo, hi)
    if candles.empty:
        return None, 0
    highlight = {"entry_time": pick[0], "exit_time": pick[1]} if pick else None
    return pnl_trades_figure(candles, trades[trades["symbol"] == sym], f"{sym} trades (exit colour = trade return)",
                             highlight=highlight), len(candles)


@st.cache_data(show_spinner=False, max_entries=16)
def _period_charts(root: str, bid: str, mtime: float, init_cash: float):
    from engine.backtest.store import load_backtest

    trades = _trades(root, bid, mtime)
    monthly = tt.monthly_returns(load_backtest(workspace(), bid).equity(), init_cash, trades)
    dist = tt.pnl_distribution(trades)
    return monthly_heatmap_figure(monthly), len(monthly), pnl_histogram_figure(dist), {k: dist[k] for k in ("n", "mean", "median")}


@st.cache_data(show_spinner=False, max_entries=8)
def _tables(root: str, bid: str, mtime: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-symbol summary with CIs, per-exit-reason summary, trade list) of one backtest."""
    trades = _trades(root, bid, mtime)
    return tt.symbol_summary(trades, cis=True), tt.reason_summary(trades), tt.trade_list(trades)


def _summary(s: pd.DataFrame, rs: pd.DataFrame) -> None:
    st.markdown("**Per symbol** (win rate and profit factor over closed trades, profit factor pooled: total gains / "
                "total losses, with their 95 % block-bootstrap CIs as in the evidence above; P&L includes fees, funding "
                "and borrow; '-' = undefined, e.g. no losing trade)")
    show_table(s, hide_index=True, width="stretch", key="bt-sym-summary",
                 column_order=["symbol", "trades", "closed_trades", "open_trades", "wins", "losses", "win_rate",
                               "win_rate_lo", "win_rate_hi", "profit_factor", "profit_factor_lo", "profit_factor_hi",
                               "pnl_total", "pnl_closed", "pnl_open", "avg_return", "best_return",
                               "worst_return", *tt.REASONS],
                 column_config={"symbol": "Symbol", "trades": "Trades", "closed_trades": "Closed", "open_trades": "Open",
                                "wins": "Wins", "losses": "Losses",
                                "win_rate": st.column_config.NumberColumn("Win rate", format="percent"),
                                "win_rate_lo": st.column_config.NumberColumn("Win rate CI lo", format="percent"),
                                "win_rate_hi": st.column_config.NumberColumn("Win rate CI hi", format="percent"),
                                "profit_factor": st.column_config.NumberColumn("Profit factor", format="%.2f"),
                                "profit_factor_lo": st.column_config.NumberColumn("PF CI lo", format="%.2f"),
                                "profit_factor_hi": st.column_config.NumberColumn("PF CI hi", format="%.2f"),
                                "pnl_total": st.column_config.NumberColumn("Total P&L", format="%.2f"),
                                "pnl_closed": st.column_config.NumberColumn("P&L closed", format="%.2f"),
                                "pnl_open": st.column_config.NumberColumn("P&L open", format="%.2f"),
                                "avg_return": st.column_config.NumberColumn("Avg return", format="percent"),
                                "best_return": st.column_config.NumberColumn("Best", format="percent"),
                                "worst_return": st.column_config.NumberColumn("Worst", format="percent")})
    if len(rs):
        st.markdown("**Exit reasons**")
        show_table(rs, hide_index=True, width="stretch", key="bt-reason-summary",
                     column_config={"exit_reason": "Exit reason", "trades": "Trades", "wins": "Wins", "losses": "Losses",
                                    "win_rate": st.column_config.NumberColumn("Win rate", format="percent"),
                                    "profit_factor": st.column_config.NumberColumn("Profit factor", format="%.2f"),
                                    "pnl": st.column_config.NumberColumn("P&L", format="%.2f"),
                                    "avg_return": st.column_config.NumberColumn("Avg return", format="percent")})


def trade_analytics(b: Backtest) -> None:
    """The trade analytics block of one single backtest."""
    ws = workspace()
    m = b.manifest
    path = b.path / "trades.parquet"
    mtime = path.stat().st_mtime if path.is_file() else 0.0
    trades = _trades(str(ws.root), b.id, mtime)
    st.subheader("Trade analytics")
    if trades.empty:
        st.info("No trade in this backtest: nothing to analyse (see the reason above).")
        return
    summary, reasons_table, listed = _tables(str(ws.root), b.id, mtime)
    _summary(summary, reasons_table)

    syms = sorted(listed["symbol"].unique())
    c1, c2 = st.columns([1, 3])
    only = c1.selectbox("Trades of", ["all symbols", *syms], key=f"bt-tl-sym-{b.id}")
    reasons = c2.multiselect("Exit reasons", list(tt.REASONS), default=[r for r in tt.REASONS if (listed["exit_reason"] == r).any()],
                             key=f"bt-tl-reasons-{b.id}")
    shown = listed[(listed["symbol"] == only) | (only == "all symbols")]
    shown = shown[shown["exit_reason"].isin(reasons)].reset_index(drop=True)
    st.caption(f"{len(shown):,} of {len(listed):,} trades · pick a row to chart the candles around that trade")
    event = show_table(shown, hide_index=True, width="stretch", height=300, on_select="rerun",
                         selection_mode="single-row", key=f"bt-trade-list-{b.id}",
                         column_config={"entry_time": st.column_config.DatetimeColumn("Entry (UTC)", format="YYYY-MM-DD HH:mm"),
                                        "exit_time": st.column_config.DatetimeColumn("Exit (UTC)", format="YYYY-MM-DD HH:mm"),
                                        "entry_reason": "Entry reason", "exit_reason": "Exit reason",
                                        "entry_price": PRICE, "exit_price": PRICE, "bars": "Bars held",
                                        "pnl": st.column_config.NumberColumn("P&L", format="%.2f"),
                                        "return": st.column_config.NumberColumn("Return", format="percent"),
                                        "fees": MONEY, "funding": MONEY, "borrow": MONEY})
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    picked = shown.iloc[rows[0]] if rows and rows[0] < len(shown) else None
    t0, t1 = pd.Timestamp(m.start), pd.Timestamp(m.end)
    if picked is not None:
        sym = picked["symbol"]
        lo, hi = tt.trade_window(picked, m.timeframe, bounds=(t0, t1))
        what = (f"{sym} {picked['direction']} trade {picked['entry_time']:%Y-%m-%d %H:%M} → {picked['exit_time']:%Y-%m-%d %H:%M}"
                f" ({picked['exit_reason']}, {picked['return'] * 100:+.2f}%)")
        st.markdown(f"**Chart around the picked trade**: {what}")
    else:
        sym = only if only != "all symbols" else syms[0]
        lo, hi = t0, t1
        st.markdown(f"**{sym}: every trade on the candles** (pick a row above to zoom to one trade)")
    pick = (str(picked["entry_time"]), str(picked["exit_time"])) if picked is not None else None
    fig, bars = _trade_chart(str(ws.root), b.id, mtime, sym, m.timeframe, f"{lo}", f"{hi}", pick)
    if fig is None:
        st.info(f"No {sym} candles between {lo} and {hi}.")
    else:
        st.plotly_chart(fig, width="stretch", key=f"bt-pnl-chart-{b.id}")
        note = (fig.layout.meta or {}).get("note")
        st.caption(f"{lo:%Y-%m-%d %H:%M} → {hi:%Y-%m-%d %H:%M} UTC, {bars:,} bars" + (f"; {note}" if note else ""))

    monthly_fig, months, hist_fig, dist = _period_charts(str(ws.root), b.id, mtime,
                                                         float(m.metrics.get("init_cash") or m.params.get("init_cash") or 1.0))
    left, right = st.columns(2)
    with left:
        st.plotly_chart(monthly_fig, width="stretch", key=f"bt-monthly-{b.id}")
        st.caption(f"{months} month(s), compounding to the total return; each cell: the month's return and the "
                   "closed trades exiting in it (n)")
    with right:
        st.plotly_chart(hist_fig, width="stretch", key=f"bt-pnl-hist-{b.id}")
        if dist["n"]:
            st.caption(f"n = {dist['n']:,} closed trades · mean {dist['mean'] * 100:+.2f}% · median "
                       f"{dist['median'] * 100:+.2f}% per trade")
