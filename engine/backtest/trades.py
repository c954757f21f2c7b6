"""Trade analytics of a single backtest (FreqUI-style): why each trade entered and exited, the
trade list, a per-symbol summary, monthly returns, the P&L distribution and the chart window
around a trade.  Pure pandas / numpy over the stored ``trades.parquet`` / ``equity.parquet``
(no vectorbt, no streamlit).

Exit reasons.  vectorbt's trade records do not say which stop fired, so the reason is recovered
from the candles with vectorbt's own stop rule (``vectorbt.portfolio.nb.get_stop_price_nb`` and
the stop bookkeeping of ``simulate_from_signals_nb``), which is exact for the way
``engine.backtest.portfolio.simulate`` calls it (stops from the entry's fill price, checked from
the bar after the entry, stop-loss before take-profit, a stop before any signal of the bar):

- ``end of period``: the trade is still open at the last bar (marked to market in the equity);
- ``stop-loss``: a long whose exit bar's low reached entry x (1 - sl) (a short: high reached
  entry x (1 + sl)); trailing: from the highest high (lowest low) since the entry, excluding the
  exit bar, as vectorbt updates the trail after checking the bar;
- ``take-profit``: a long whose exit bar's high reached entry x (1 + tp) (a short: low reached
  entry x (1 - tp)), and the stop-loss did not fire first;
- ``signal``: any other exit (the target position changed: an exit signal, the opposite signal,
  or the end of a held event signal).

A stop reached on the exit bar is the reason of that exit: had it been reached earlier, vectorbt
would have exited earlier.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

REASONS = ("signal", "stop-loss", "take-profit", "end of period")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _num(v: Any) -> float:
    return np.nan if v is None else float(v)


def exit_reasons(trades: pd.DataFrame, candles: dict[str, pd.DataFrame], *, sl_stop: float | None = None,
                 tp_stop: float | None = None, sl_trail: bool = False) -> pd.Series:
    """The exit reason of every trade (index of ``trades``).  ``candles``: symbol -> frame indexed
    by bar open time (UTC) with ``high`` and ``low`` (the bars the backtest simulated)."""
    sl, tp = _num(sl_stop), _num(tp_stop)
    out = pd.Series("signal", index=trades.index, dtype=object)
    if trades.empty:
        return out
    out[trades["status"].to_numpy() == "open"] = "end of period"
    if not (np.isfinite(sl) or np.isfinite(tp)):
        return out
    for sym, g in trades[trades["status"] == "closed"].groupby("symbol", sort=False):
        c = candles.get(sym)
        if c is None or c.empty:
            continue
        idx = pd.DatetimeIndex(c.index)
        high, low = c["high"].to_numpy("float64"), c["low"].to_numpy("float64")
        e_i = idx.get_indexer(pd.DatetimeIndex(g["entry_time"]))
        x_i = idx.get_indexer(pd.DatetimeIndex(g["exit_time"]))
        for row, ei, xi, price, long_ in zip(g.index, e_i, x_i, g["entry_price"].to_numpy("float64"),
                                             (g["direction"] == "long").to_numpy()):
            if ei < 0 or xi <= ei:  # not on these candles, or left on its entry bar (no stop is active there)
                continue
            if np.isfinite(sl):
                ref = price
                if sl_trail and xi > ei + 1:
                    seen = high[ei + 1:xi] if long_ else low[ei + 1:xi]
                    ref = max(price, seen.max()) if long_ else min(price, seen.min())
                if (low[xi] <= ref * (1 - sl)) if long_ else (high[xi] >= ref * (1 + sl)):
                    out[row] = "stop-loss"
                    continue
            if np.isfinite(tp) and ((high[xi] >= price * (1 + tp)) if long_ else (low[xi] <= price * (1 - tp))):
                out[row] = "take-profit"
    return out


def entry_reasons(trades: pd.DataFrame) -> pd.Series:
    """Every entry is a signal of the source (a model's probability over its threshold, a rule's
    cross): "long signal" / "short signal"."""
    return pd.Series(np.where(trades["direction"].to_numpy() == "long", "long signal", "short signal"),
                     index=trades.index, dtype=object)


def with_reasons(trades: pd.DataFrame, candles: dict[str, pd.DataFrame], params: dict[str, Any]) -> pd.DataFrame:
    """``trades`` with ``entry_reason`` and ``exit_reason`` columns (``params``: the backtest's
    manifest params or ``BacktestParams.to_dict()``: ``sl_stop``, ``tp_stop``, ``sl_trail``)."""
    out = trades.copy()
    out["entry_reason"] = entry_reasons(trades)
    out["exit_reason"] = exit_reasons(trades, candles, sl_stop=params.get("sl_stop"), tp_stop=params.get("tp_stop"),
                                      sl_trail=bool(params.get("sl_trail")))
    return out


def market_candles(market) -> dict[str, pd.DataFrame]:
    """symbol -> high / low frame of an ``engine.backtest.market.Market`` (the simulated bars)."""
    return {s: pd.DataFrame({"high": market.high[:, j], "low": market.low[:, j]}, index=market.index)
            for j, s in enumerate(market.symbols)}


def reasons_for(ws, backtest) -> pd.DataFrame:
    """The trades of a stored backtest with their reasons: as stored, or (a run from before the
    reasons were stored) recovered from the candles of its period."""
    trades = backtest.trades()
    if "exit_reason" in trades and "entry_reason" in trades:
        return trades
    from engine.backtest.market import load_market

    m = backtest.manifest
    p = m.params or {}
    if trades.empty or not (p.get("sl_stop") or p.get("tp_stop")):
        return with_reasons(trades, {}, p)
    market = load_market(ws, list(m.symbols), m.timeframe, pd.Timestamp(m.start), pd.Timestamp(m.end), funding=False)
    return with_reasons(trades, market_candles(market), p)


# -- tables -------------------------------------------------------------------------------------
TRADE_COLUMNS = ["symbol", "direction", "entry_time", "entry_reason", "entry_price", "exit_time", "exit_reason",
                 "exit_price", "bars", "pnl", "return", "fees", "funding", "borrow", "status"]


def trade_list(trades: pd.DataFrame) -> pd.DataFrame:
    """The trade list as shown: one row per trade in entry order, fees = entry + exit fees."""
    t = trades.copy()
    if "entry_reason" not in t:
        t["entry_reason"] = entry_reasons(t)
    if "exit_reason" not in t:
        t["exit_reason"] = np.where(t["status"] == "open", "end of period", "signal")
    t["fees"] = t["entry_fees"] + t["exit_fees"]
    t = t.sort_values(["entry_time", "symbol"], kind="stable").reset_index(drop=True)
    return t[[c for c in TRADE_COLUMNS if c in t]]


def _pooled(pnl: np.ndarray) -> dict[str, Any]:
    gains, losses = pnl[pnl > 0].sum(), pnl[pnl < 0].sum()
    n = len(pnl)
    return {"wins": int((pnl > 0).sum()), "losses": int((pnl < 0).sum()),
            "win_rate": float((pnl > 0).sum() / n) if n else None,
            "profit_factor": float(gains / -losses) if losses < 0 else None}


def symbol_summary(trades: pd.DataFrame, *, cis: bool = False) -> pd.DataFrame:
    """One row per symbol plus an "all" row: trades, closed / open trades, wins, losses, win rate
    and pooled profit factor (closed trades: total gains / total losses, None without a loss),
    P&L of closed and open trades and their total, average closed-trade return, best / worst
    closed trade, and the count of each exit reason.  P&L includes funding and borrow.  ``cis``:
    also ``win_rate_lo/_hi`` and ``profit_factor_lo/_hi``, the 95 % block-bootstrap CIs of the
    backtest's evidence (``engine.stats.bootstrap``, closed trades' P&L in exit order)."""
    rows = []
    groups = [(s, g) for s, g in trades.groupby("symbol", sort=True)] + [("all", trades)]
    for sym, g in groups:
        closed = g[g["status"] == "closed"]
        pnl = closed["pnl"].to_numpy("float64")
        r = {"symbol": sym, "trades": len(g), "closed_trades": len(closed), "open_trades": int((g["status"] == "open").sum()),
             **_pooled(pnl), "pnl_closed": float(pnl.sum()), "pnl_open": float(g.loc[g["status"] == "open", "pnl"].sum()),
             "pnl_total": float(g["pnl"].sum()),
             "avg_return": float(closed["return"].mean()) if len(closed) else None,
             "best_return": float(closed["return"].max()) if len(closed) else None,
             "worst_return": float(closed["return"].min()) if len(closed) else None}
        if cis:  # the evidence's own method (engine/backtest/evidence.py): "all" = the headline's CIs
            from engine.backtest.evidence import closed_pnl
            from engine.stats.bootstrap import bootstrap_ci, profit_factor_stat, win_rate_stat

            ci, _ = bootstrap_ci(closed_pnl(g), {"profit_factor": profit_factor_stat, "win_rate": win_rate_stat})
            for k in ("win_rate", "profit_factor"):
                r[f"{k}_lo"], r[f"{k}_hi"] = ci[k] if ci[k] else (None, None)
        reasons = g["exit_reason"] if "exit_reason" in g else pd.Series(dtype=object)
        for reason in REASONS:
            r[reason] = int((reasons == reason).sum())
        rows.append(r)
    return pd.DataFrame(rows)


def reason_summary(trades: pd.DataFrame) -> pd.DataFrame:
    """Per exit reason: trades, wins, win rate, pooled profit factor, total P&L, average return."""
    rows = []
    if "exit_reason" not in trades:
        return pd.DataFrame(columns=["exit_reason", "trades", "wins", "losses", "win_rate", "profit_factor", "pnl",
                                     "avg_return"])
    for reason in REASONS:
        g = trades[trades["exit_reason"] == reason]
        if g.empty:
            continue
        pnl = g["pnl"].to_numpy("float64")
        rows.append({"exit_reason": reason, "trades": len(g), **_pooled(pnl), "pnl": float(pnl.sum()),
                     "avg_return": float(g["return"].mean())})
    return pd.DataFrame(rows)


def monthly_returns(equity: pd.DataFrame, init_cash: float, trades: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per calendar month (UTC) of the period: year, month, return = equity at the month's
    last bar / equity at the previous month's last bar (the first month: ``init_cash``) - 1, so the
    months compound to the total return; ``trades`` = closed trades exiting in the month; start /
    end equity and bars."""
    ts = pd.DatetimeIndex(equity["timestamp"])
    if ts.tz is None:
        ts = ts.tz_localize("UTC")
    eq = pd.Series(equity["equity"].to_numpy("float64"), index=ts)
    key = ts.tz_convert("UTC").tz_localize(None).to_period("M")
    ends = eq.groupby(key).last()
    bars = eq.groupby(key).size()
    starts = ends.shift(1)
    starts.iloc[0] = float(init_cash)
    out = pd.DataFrame({"month": ends.index, "start_equity": starts.to_numpy(), "end_equity": ends.to_numpy(),
                        "bars": bars.to_numpy()})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["return"] = np.where(out["start_equity"] > 0, out["end_equity"] / out["start_equity"] - 1, np.nan)
    n = pd.Series(0, index=ends.index)
    if trades is not None and len(trades):
        closed = trades[trades["status"] == "closed"]
        if len(closed):
            x = pd.DatetimeIndex(closed["exit_time"])
            x = (x.tz_convert("UTC").tz_localize(None) if x.tz is not None else x).to_period("M")
            n = n.add(pd.Series(1, index=x).groupby(level=0).sum(), fill_value=0).reindex(ends.index, fill_value=0)
    out["trades"] = n.to_numpy().astype(int)
    out["year"] = [p.year for p in out["month"]]
    out["month_no"] = [p.month for p in out["month"]]
    out["month"] = out["month"].astype(str)
    return out[["month", "year", "month_no", "return", "trades", "bars", "start_equity", "end_equity"]]


def monthly_grid(monthly: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(returns, trades) as year x month grids (columns Jan .. Dec; NaN / 0 outside the period)."""
    cols = list(range(1, 13))
    r = monthly.pivot_table(index="year", columns="month_no", values="return", aggfunc="first", dropna=False)
    n = monthly.pivot_table(index="year", columns="month_no", values="trades", aggfunc="first", dropna=False)
    r = r.reindex(columns=cols)
    n = n.reindex(columns=cols).fillna(0).astype(int)
    r.columns = n.columns = list(MONTHS)
    return r, n


def pnl_distribution(trades: pd.DataFrame, bins: int = 30) -> dict[str, Any]:
    """Closed trades' returns: the histogram (edges, counts), n, mean, median, share of winners."""
    r = trades.loc[trades["status"] == "closed", "return"].to_numpy("float64")
    r = r[np.isfinite(r)]
    if not len(r):
        return {"n": 0, "edges": [], "counts": [], "mean": None, "median": None, "win_share": None, "returns": []}
    counts, edges = np.histogram(r, bins=min(bins, max(1, len(r))))
    return {"n": len(r), "edges": edges.tolist(), "counts": counts.tolist(), "mean": float(r.mean()),
            "median": float(np.median(r)), "win_share": float((r > 0).mean()), "returns": r.tolist()}


def trade_window(trade: dict | pd.Series, timeframe: str, *, pad_bars: int = 48,
                 bounds: tuple[Any, Any] | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The chart window around one trade: ``pad_bars`` bars before its entry to ``pad_bars``
    (at least as many as it held) after its exit, clipped to ``bounds`` (the backtest's period)."""
    from engine.data.timeframes import tf_timedelta

    bar = tf_timedelta(timeframe)
    entry, exit_ = pd.Timestamp(trade["entry_time"]), pd.Timestamp(trade["exit_time"])
    pad = bar * max(pad_bars, int(trade.get("bars", 0) or 0) // 2)
    lo, hi = entry - pad, exit_ + pad
    if bounds:
        b0, b1 = pd.Timestamp(bounds[0]), pd.Timestamp(bounds[1])
        lo, hi = max(lo, b0), min(hi, b1)
    return lo, hi
