"""Metrics of simulated portfolios, vectorised over combos (vectorbt's returns, drawdown and
trade statistics), annualised with the timeframe: ``bars_per_year(tf)`` bars a year
(35,040 for 15m, 8,760 for 1h), never 252.

Return-based ratios are computed on the equity curve *including funding* (what the account
really holds), per bar, from the initial cash:
  Sharpe  = mean(r) / std(r, ddof=1) * sqrt(bars_per_year)
  Sortino = mean(r) * bars_per_year / (sqrt(mean(min(r, 0)^2)) * sqrt(bars_per_year))
  CAGR    = (equity_end / init_cash) ^ (bars_per_year / bars) - 1,   Calmar = CAGR / |max drawdown|
  max drawdown = min(equity / running peak of equity - 1)  (a negative fraction)
Trade statistics use closed trades (an open trade at the end is marked to market in the
equity and counted in ``open_trades``).  A trade's P&L includes the funding (perpetuals) and
the borrow cost (spot shorts) booked while it held the position, so win rate, profit factor
(pooled: total gains / total losses over all closed trades), expectancy and the average trade
return all count them (without funding or borrow they equal vectorbt's own trade statistics).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.settings import YEAR_DAYS
from engine.backtest.portfolio import YEAR, Simulation
from engine.data.timeframes import bars_per_year, tf_seconds, tf_timedelta

METRICS = ["total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration_bars",
           "max_drawdown_duration_days", "win_rate", "profit_factor", "expectancy", "avg_trade_return", "exposure",
           "trades", "closed_trades", "open_trades", "fees_paid", "slippage_paid", "funding_paid", "borrow_paid",
           "final_value",
           "buy_and_hold_return", "excess_return"]
# for the page and `compare`: label, format, and whether higher is better
LABELS = {
    "total_return": ("Total return", "pct", True), "cagr": ("CAGR", "pct", True), "sharpe": ("Sharpe", "num", True),
    "sortino": ("Sortino", "num", True), "calmar": ("Calmar", "num", True), "max_drawdown": ("Max drawdown", "pct", True),
    "max_drawdown_duration_days": ("Max DD duration (days)", "num", False), "win_rate": ("Win rate", "pct", True),
    "profit_factor": ("Profit factor", "num", True), "expectancy": ("Expectancy (cash/trade)", "num", True),
    "avg_trade_return": ("Avg trade return", "pct", True), "exposure": ("Exposure", "pct", None),
    "trades": ("Trades", "int", None), "fees_paid": ("Fees paid", "num", False), "slippage_paid": ("Slippage paid", "num", False),
    "funding_paid": ("Funding paid", "num", False), "borrow_paid": ("Borrow paid (spot shorts)", "num", False),
    "final_value": ("Final value", "num", True),
    "buy_and_hold_return": ("Buy & hold return", "pct", None), "excess_return": ("Excess over buy & hold", "pct", True),
}


def annualisation(timeframe: str) -> dict:
    return {"timeframe": timeframe, "bars_per_year": bars_per_year(timeframe), "year_days": YEAR_DAYS}


def returns_metrics(equity: np.ndarray, init_cash: np.ndarray, timeframe: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Return / risk metrics of (bars, cols) equity curves (vectorbt ReturnsAccessor)."""
    from vectorbt.returns.accessors import ReturnsDFAccessor

    eq = pd.DataFrame(equity, index=index.tz_localize(None))
    acc = ReturnsDFAccessor.from_value(eq, init_value=np.asarray(init_cash, dtype="float64"), freq=tf_timedelta(timeframe),
                                         year_freq=YEAR)
    assert acc.ann_factor == bars_per_year(timeframe), (acc.ann_factor, timeframe)
    dd_bars = (acc.drawdowns.max_duration() / tf_timedelta(timeframe)).to_numpy("float64")
    out = pd.DataFrame({
        "total_return": acc.total(), "cagr": acc.annualized(), "sharpe": acc.sharpe_ratio(), "sortino": acc.sortino_ratio(),
        "calmar": acc.calmar_ratio(), "max_drawdown": acc.max_drawdown()})
    out["max_drawdown_duration_bars"] = np.nan_to_num(dd_bars, nan=0.0)
    out["max_drawdown_duration_days"] = out["max_drawdown_duration_bars"] * tf_seconds(timeframe) / 86400
    return out.reset_index(drop=True)


def benchmark_value(sim: Simulation) -> np.ndarray:
    """(bars, symbols) buy & hold of each symbol's sleeve from the first close, no costs: the
    value of vectorbt's ``Portfolio.benchmark_value`` (a test checks they agree), computed once
    on the symbols instead of once per sweep column."""
    close = sim.market.close
    return sim.init_cash / sim.n_symbols * close / close[0]


def _slippage_per_column(sim: Simulation) -> np.ndarray:
    """Cash lost to slippage, summed per column, over the fills that PAID it: vectorbt fills a signal
    order at price x (1 + slippage) (buy) or x (1 - slippage) (sell), whose cost is
    size x |fill - fill / (1 +- slippage)|; a stop exit fills at the stop price with NO slippage
    (vectorbt's default ``stop_exit_price="stoplimit"``, kept on purpose: the reported figure follows
    what was simulated).  The order records do not say which fill was a stop, so a fill counts as
    slipped when its price is the bar's order price (open or close, by execution) x (1 +- slippage);
    a stop fill is at the stop price (or at the open, unslipped, on a gap).  The grid kernel charges
    the slippage vectorbt resolved for each fill (engine/backtest/grid.py, ``_book_fill``)."""
    rec = sim.pf.orders.values
    if sim.slippage == 0 or not len(rec):
        return np.zeros(sim.n_columns)
    factor = np.where(rec["side"] == 0, 1 + sim.slippage, 1 - sim.slippage)
    base = sim.market.open if sim.execution == "next_open" else sim.market.close
    expected = base[rec["idx"], rec["col"] % sim.n_symbols] * factor
    slipped = np.isclose(rec["price"], expected, rtol=1e-12, atol=0)
    cost = np.where(slipped, np.abs(rec["size"]) * np.abs(rec["price"] - rec["price"] / factor), 0.0)
    return np.bincount(rec["col"], weights=cost, minlength=sim.n_columns)


# ratios that mean nothing once the account is wiped out (equity <= 0 at some bar): null, like a no-trade cell's
RUIN_NULL = ("cagr", "sharpe", "sortino", "calmar", "win_rate", "profit_factor", "expectancy", "avg_trade_return")


def ruin_bars(returns: np.ndarray) -> np.ndarray:
    """First bar at which each (bars, cells) equity curve is at or below zero, -1 where it never is.
    Read from the per-bar returns (first one against the initial cash): while the equity is positive a
    return is > -1, so the first return <= -1 (or not finite) is the first bar at or below zero."""
    r = np.asarray(returns, dtype="float64")
    if r.ndim == 1:
        r = r[:, None]
    bad = ~(r > -1)
    return np.where(bad.any(axis=0), bad.argmax(axis=0), -1)


def ruin_reason(ts: pd.Timestamp) -> str:
    return f"account wiped out at {pd.Timestamp(ts).isoformat()}"


def apply_ruin(m: pd.DataFrame, ruin: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Rows of ``m`` (metrics per cell) whose account was wiped out (``ruin`` >= 0: the bar): total
    return -100 %, max drawdown -100 %, the ratios of :data:`RUIN_NULL` null, excess return recomputed,
    and a ``ruin_reason`` column ("account wiped out at <timestamp>", null otherwise).  There is no
    liquidation model: the simulation goes on below zero, so ``final_value`` can be negative.  How it gets
    there (benchmarks/README.md, sweep): vectorbt's own account value stays positive, but the borrow of spot
    shorts (and funding) is booked next to vectorbt and does not shrink later orders, so an account that fees
    have nearly emptied can owe more borrow than it holds (a short sized "all" on a sharply rising market
    could also lose more than the equity).  Nothing after the ruin bar means anything, hence the null ratios."""
    m = m.copy()
    dead = np.asarray(ruin) >= 0
    m["ruin_reason"] = [ruin_reason(index[i]) if i >= 0 else None for i in np.asarray(ruin)]
    if dead.any():
        m.loc[dead, "total_return"] = -1.0
        m.loc[dead, "max_drawdown"] = -1.0
        m.loc[dead, list(RUIN_NULL)] = np.nan
        m.loc[dead, "excess_return"] = -1.0 - m.loc[dead, "buy_and_hold_return"]
    return m


def trade_flows(sim: Simulation, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(funding, borrow) cash of each trade record: the flows of the bars it held the position
    into, (entry bar, exit bar] (an open trade: to the last bar).  A reversal's exit and entry
    share a bar; the flow of that bar belongs to the position held into it (the exiting one)."""
    n = len(sim.market.index)
    exit_idx = np.where(rec["status"] == 0, n - 1, rec["exit_idx"]).astype(np.int64)
    entry_idx = rec["entry_idx"].astype(np.int64)
    out = []
    for flow in (sim.funding_flow, sim.borrow_flow):
        if flow is None or not len(rec) or not np.any(flow):
            out.append(np.zeros(len(rec)))
            continue
        cols = np.unique(rec["col"])
        cum = np.cumsum(flow[:, cols], axis=0)  # only the columns that traded
        j = np.searchsorted(cols, rec["col"])
        out.append(cum[exit_idx, j] - cum[entry_idx, j])
    return out[0], out[1]


def _trade_stats(sim: Simulation, group: np.ndarray, n_rows: int) -> dict[str, np.ndarray]:
    """Closed-trade statistics per row from vectorbt's exit-trade records, with the same
    definitions as vectorbt's ``Trades.win_rate / profit_factor / expectancy`` (a test checks
    they agree without funding) but with each trade's funding and borrow in its P&L.  Profit
    factor is pooled: total gains / total losses over all closed trades (NaN without a loss).
    Summed with numpy bincounts: vectorbt's record reductions take a function argument, which
    numba cannot cache, and would cost every process ~5 s of compiling."""
    rec = sim.pf.trades.values
    g = group[rec["col"]]
    closed = rec["status"] == 1
    funding, borrow = trade_flows(sim, rec)
    entry_val = rec["size"] * rec["entry_price"]
    pnl_all = rec["pnl"] + funding + borrow
    with np.errstate(divide="ignore", invalid="ignore"):
        ret_all = np.where(entry_val != 0, pnl_all / entry_val, np.nan)
    pnl = np.where(closed, pnl_all, 0.0)

    def count(mask) -> np.ndarray:
        return np.bincount(g[mask], minlength=n_rows).astype("float64")

    def total(values, mask) -> np.ndarray:
        return np.bincount(g[mask], weights=values[mask], minlength=n_rows)

    n_all, n_closed = count(np.ones(len(rec), dtype=bool)), count(closed)
    wins, losses = total(pnl, closed & (pnl > 0)), total(pnl, closed & (pnl < 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"win_rate": count(closed & (pnl > 0)) / n_closed,
                "profit_factor": np.where((n_closed > 0) & (losses < 0), wins / np.abs(losses), np.nan),
                "expectancy": (wins + losses) / n_closed,
                "avg_trade_return": total(ret_all, closed) / n_closed,
                "trades": n_all, "closed_trades": n_closed,
                "fees_paid": np.bincount(group[sim.pf.orders.values["col"]], weights=sim.pf.orders.values["fees"],
                                         minlength=n_rows)}


def simulation_metrics(sim: Simulation, *, per_symbol: bool = False) -> pd.DataFrame:
    """One row per combo (or per column with ``per_symbol``), the columns of :data:`METRICS`."""
    pf, mk = sim.pf, sim.market
    n, cols = len(mk.index), sim.n_columns
    value = np.asarray(pf.value(group_by=False), dtype="float64").reshape(n, cols)
    exposure = (np.asarray(pf.assets()).reshape(n, cols) != 0).mean(axis=0)
    slip = _slippage_per_column(sim)
    funding = sim.funding_flow
    borrow = sim.borrow_flow if sim.borrow_flow is not None else np.zeros_like(funding)
    bench = benchmark_value(sim)  # the same for every combo
    if per_symbol:
        group = np.arange(cols)
        init = np.full(cols, sim.init_cash / sim.n_symbols)
        bench_return = np.tile(bench[-1] / bench[0] - 1, sim.n_combos)
    else:  # a combo is the sum of its symbols' sleeves
        group = np.arange(cols) // sim.n_symbols
        value, funding, slip, borrow = sim.grouped(value), sim.grouped(funding), sim.grouped(slip), sim.grouped(borrow)
        exposure = exposure.reshape(sim.n_combos, sim.n_symbols).mean(axis=1)
        init = np.full(sim.n_combos, sim.init_cash)
        bench_return = np.full(sim.n_combos, bench[-1].sum() / sim.init_cash - 1)
    equity = value + np.cumsum(funding + borrow, axis=0)
    out = returns_metrics(equity, init, mk.timeframe, mk.index)
    for k, v in _trade_stats(sim, group, len(init)).items():
        out[k] = v
    out["trades"] = out["trades"].astype(int)
    out["closed_trades"] = out["closed_trades"].astype(int)
    out["open_trades"] = out["trades"] - out["closed_trades"]
    out["exposure"] = exposure
    out["slippage_paid"] = slip
    out["funding_paid"] = -funding.sum(axis=0)
    out["borrow_paid"] = -borrow.sum(axis=0)
    out["final_value"] = equity[-1]
    out["buy_and_hold_return"] = bench_return
    out["excess_return"] = out["total_return"] - out["buy_and_hold_return"]
    return out[METRICS]


def equity_frame(sim: Simulation, combo: int = 0) -> pd.DataFrame:
    """The equity curve file of one combo: timestamp, equity (incl. funding and borrow), drawdown,
    benchmark (buy & hold), cash, funding_cum, borrow_cum, exposure (gross position value /
    equity) and per-symbol sleeve values ``value_<SYMBOL>``."""
    pf, mk, s = sim.pf, sim.market, sim.n_symbols
    n = len(mk.index)
    cols = slice(combo * s, (combo + 1) * s)
    value_cols = np.asarray(pf.value(group_by=False), dtype="float64").reshape(n, -1)[:, cols]
    funding_cols = np.cumsum(sim.funding_flow[:, cols], axis=0)
    borrow_cols = (np.cumsum(sim.borrow_flow[:, cols], axis=0) if sim.borrow_flow is not None
                   else np.zeros_like(funding_cols))
    equity = value_cols.sum(axis=1) + funding_cols.sum(axis=1) + borrow_cols.sum(axis=1)
    peak = np.maximum.accumulate(equity)
    bench = benchmark_value(sim).sum(axis=1)
    cash = np.asarray(pf.cash(group_by=False), dtype="float64").reshape(n, -1)[:, cols].sum(axis=1)
    gross = np.abs(np.asarray(pf.asset_value(group_by=False), dtype="float64").reshape(n, -1)[:, cols]).sum(axis=1)
    df = pd.DataFrame({"timestamp": mk.index, "equity": equity, "drawdown": equity / peak - 1, "benchmark": bench,
                       "cash": cash, "funding_cum": funding_cols.sum(axis=1), "borrow_cum": borrow_cols.sum(axis=1),
                       "exposure": gross / equity})
    for j, sym in enumerate(mk.symbols):
        df[f"value_{sym}"] = value_cols[:, j] + funding_cols[:, j] + borrow_cols[:, j]
    return df


def trades_frame(sim: Simulation, combo: int = 0) -> pd.DataFrame:
    """Trades of one combo: symbol, direction, status, size, entry/exit time and price, fees,
    funding and borrow booked while the trade held its position, pnl and return (both including
    funding and borrow; return = pnl / entry value), bars held."""
    mk, s = sim.market, sim.n_symbols
    rec = sim.pf.trades.values
    rec = rec[(rec["col"] >= combo * s) & (rec["col"] < (combo + 1) * s)]
    open_ = rec["status"] == 0
    exit_idx = np.where(open_, len(mk.index) - 1, rec["exit_idx"])
    funding, borrow = trade_flows(sim, rec)
    pnl = rec["pnl"] + funding + borrow
    entry_val = rec["size"] * rec["entry_price"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(entry_val != 0, pnl / entry_val, np.nan)
    return pd.DataFrame({
        "symbol": np.asarray(mk.symbols, dtype=object)[rec["col"] - combo * s],
        "direction": np.where(rec["direction"] == 0, "long", "short"),
        "status": np.where(open_, "open", "closed"),
        "size": rec["size"], "entry_time": mk.index[rec["entry_idx"]], "entry_price": rec["entry_price"],
        "entry_fees": rec["entry_fees"], "exit_time": mk.index[exit_idx], "exit_price": rec["exit_price"],
        "exit_fees": rec["exit_fees"], "funding": funding, "borrow": borrow, "pnl": pnl, "return": ret,
        "bars": exit_idx - rec["entry_idx"]})
