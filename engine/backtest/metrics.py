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
equity and counted in ``open_trades``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.backtest.portfolio import YEAR, Simulation
from engine.data.timeframes import bars_per_year, tf_seconds, tf_timedelta

METRICS = ["total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration_bars",
           "max_drawdown_duration_days", "win_rate", "profit_factor", "expectancy", "avg_trade_return", "exposure",
           "trades", "closed_trades", "open_trades", "fees_paid", "slippage_paid", "funding_paid", "final_value",
           "buy_and_hold_return", "excess_return"]
# for the page and `compare`: label, format, and whether higher is better
LABELS = {
    "total_return": ("Total return", "pct", True), "cagr": ("CAGR", "pct", True), "sharpe": ("Sharpe", "num", True),
    "sortino": ("Sortino", "num", True), "calmar": ("Calmar", "num", True), "max_drawdown": ("Max drawdown", "pct", True),
    "max_drawdown_duration_days": ("Max DD duration (days)", "num", False), "win_rate": ("Win rate", "pct", True),
    "profit_factor": ("Profit factor", "num", True), "expectancy": ("Expectancy (cash/trade)", "num", True),
    "avg_trade_return": ("Avg trade return", "pct", True), "exposure": ("Exposure", "pct", None),
    "trades": ("Trades", "int", None), "fees_paid": ("Fees paid", "num", False), "slippage_paid": ("Slippage paid", "num", False),
    "funding_paid": ("Funding paid", "num", False), "final_value": ("Final value", "num", True),
    "buy_and_hold_return": ("Buy & hold return", "pct", None), "excess_return": ("Excess over buy & hold", "pct", True),
}


def annualisation(timeframe: str) -> dict:
    return {"timeframe": timeframe, "bars_per_year": bars_per_year(timeframe), "year_days": 365}


def returns_metrics(equity: np.ndarray, init_cash: np.ndarray, timeframe: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Return / risk metrics of (bars, cols) equity curves (vectorbt ReturnsAccessor)."""
    from vectorbt.returns.accessors import ReturnsDFAccessor

    eq = pd.DataFrame(equity, index=index)
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


def _slippage_per_column(sim: Simulation) -> np.ndarray:
    """Cash lost to slippage, summed per column: vectorbt fills a buy at price x (1 + slippage)
    and a sell at price x (1 - slippage) (stop exits included), so the cost of a fill is
    size x |fill - fill / (1 +- slippage)|."""
    rec = sim.pf.orders.values
    factor = np.where(rec["side"] == 0, 1 + sim.slippage, 1 - sim.slippage)
    cost = np.abs(rec["size"]) * np.abs(rec["price"] - rec["price"] / factor)
    return np.bincount(rec["col"], weights=cost, minlength=sim.price.shape[1])


def simulation_metrics(sim: Simulation, *, per_symbol: bool = False) -> pd.DataFrame:
    """One row per combo (or per column with ``per_symbol``), the columns of :data:`METRICS`."""
    pf, mk = sim.pf, sim.market
    n = len(mk.index)
    if per_symbol:
        group_by = False
        value = np.asarray(pf.value(group_by=False), dtype="float64").reshape(n, -1)
        funding = sim.funding_flow
        bench = np.asarray(pf.benchmark_value(group_by=False), dtype="float64").reshape(n, -1)
        init = np.full(value.shape[1], sim.init_cash / sim.n_symbols)
        slip = _slippage_per_column(sim)
        exposure = (np.asarray(pf.assets()).reshape(n, -1) != 0).mean(axis=0)
    else:
        group_by = sim.group_by
        value = np.asarray(pf.value(), dtype="float64").reshape(n, -1)
        funding = sim.grouped(sim.funding_flow)
        bench = np.asarray(pf.benchmark_value(), dtype="float64").reshape(n, -1)
        init = np.full(value.shape[1], sim.init_cash)
        slip = sim.grouped(_slippage_per_column(sim))
        exposure = (np.asarray(pf.assets()).reshape(n, -1) != 0).mean(axis=0)
        exposure = exposure.reshape(sim.n_combos, sim.n_symbols).mean(axis=1)
    equity = value + np.cumsum(funding, axis=0)
    out = returns_metrics(equity, init, mk.timeframe, mk.index)
    trades = pf.trades
    closed = trades.closed

    def arr(x) -> np.ndarray:
        return np.asarray(x, dtype="float64").reshape(-1)

    out["win_rate"] = arr(closed.win_rate(group_by=group_by))
    out["profit_factor"] = arr(closed.profit_factor(group_by=group_by))
    out["expectancy"] = arr(closed.expectancy(group_by=group_by))
    out["avg_trade_return"] = arr(closed.returns.mean(group_by=group_by))
    out["exposure"] = exposure
    out["trades"] = arr(trades.count(group_by=group_by)).astype(int)
    out["closed_trades"] = arr(closed.count(group_by=group_by)).astype(int)
    out["open_trades"] = out["trades"] - out["closed_trades"]
    out["fees_paid"] = np.nan_to_num(arr(pf.orders.fees.sum(group_by=group_by)), nan=0.0)
    out["slippage_paid"] = slip
    out["funding_paid"] = -funding.sum(axis=0)
    out["final_value"] = equity[-1]
    out["buy_and_hold_return"] = bench[-1] / init - 1
    out["excess_return"] = out["total_return"] - out["buy_and_hold_return"]
    return out[METRICS]


def equity_frame(sim: Simulation, combo: int = 0) -> pd.DataFrame:
    """The equity curve file of one combo: timestamp, equity (incl. funding), drawdown,
    benchmark (buy & hold), cash, funding_cum, exposure (gross position value / equity) and
    per-symbol sleeve values ``value_<SYMBOL>``."""
    pf, mk, s = sim.pf, sim.market, sim.n_symbols
    n = len(mk.index)
    cols = slice(combo * s, (combo + 1) * s)
    value_cols = np.asarray(pf.value(group_by=False), dtype="float64").reshape(n, -1)[:, cols]
    funding_cols = np.cumsum(sim.funding_flow[:, cols], axis=0)
    equity = value_cols.sum(axis=1) + funding_cols.sum(axis=1)
    peak = np.maximum.accumulate(equity)
    bench = np.asarray(pf.benchmark_value(), dtype="float64").reshape(n, -1)[:, combo]
    cash = np.asarray(pf.cash(group_by=False), dtype="float64").reshape(n, -1)[:, cols].sum(axis=1)
    gross = np.abs(np.asarray(pf.asset_value(group_by=False), dtype="float64").reshape(n, -1)[:, cols]).sum(axis=1)
    df = pd.DataFrame({"timestamp": mk.index, "equity": equity, "drawdown": equity / peak - 1, "benchmark": bench,
                       "cash": cash, "funding_cum": funding_cols.sum(axis=1), "exposure": gross / equity})
    for j, sym in enumerate(mk.symbols):
        df[f"value_{sym}"] = value_cols[:, j] + funding_cols[:, j]
    return df


def trades_frame(sim: Simulation, combo: int = 0) -> pd.DataFrame:
    """Trades of one combo: symbol, direction, status, size, entry/exit time and price, fees, pnl, return, bars held."""
    mk, s = sim.market, sim.n_symbols
    rec = sim.pf.trades.values
    rec = rec[(rec["col"] >= combo * s) & (rec["col"] < (combo + 1) * s)]
    open_ = rec["status"] == 0
    exit_idx = np.where(open_, len(mk.index) - 1, rec["exit_idx"])
    return pd.DataFrame({
        "symbol": np.asarray(mk.symbols, dtype=object)[rec["col"] - combo * s],
        "direction": np.where(rec["direction"] == 0, "long", "short"),
        "status": np.where(open_, "open", "closed"),
        "size": rec["size"], "entry_time": mk.index[rec["entry_idx"]], "entry_price": rec["entry_price"],
        "entry_fees": rec["entry_fees"], "exit_time": mk.index[exit_idx], "exit_price": rec["exit_price"],
        "exit_fees": rec["exit_fees"], "pnl": rec["pnl"], "return": rec["return"],
        "bars": exit_idx - rec["entry_idx"]})
