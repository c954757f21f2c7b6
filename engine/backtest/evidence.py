"""Evidence beside every single-backtest figure: the sample behind it, bootstrap confidence
intervals, plain-language warnings, and why a run made no trade.

* ``sample``: bars, days, closed trades, open trades and independent trades (the largest set of
  closed trades whose holding periods do not overlap, across symbols: trades held at the same
  time share the same market moves and are not independent evidence).
* ``uncertainty``: 95 % CIs of Sharpe and total return from the per-bar returns of the equity
  curve (``engine.stats.bootstrap.returns_ci``: stationary block bootstrap, Politis-White block
  length, 1,000 resamples, seed 0), and of the pooled profit factor and the win rate from the
  closed trades' P&L in time order (``bootstrap_ci`` with ``profit_factor_stat`` /
  ``win_rate_stat``).  The method is recorded beside them.
* Annualised figures (CAGR, Calmar, annualised Sharpe and Sortino) over fewer than
  ``MIN_ANNUALISED_DAYS`` days are not headlined: they are null in ``metrics`` (the extrapolated
  values are kept under ``annualised_not_headlined``) and ``warnings`` says why.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.data.timeframes import tf_seconds
from engine.stats.bootstrap import bootstrap_ci, profit_factor_stat, returns_ci, win_rate_stat

MIN_TRADES = 30
MIN_DAYS = 30
MIN_ANNUALISED_DAYS = 90
ANNUALISED = ("cagr", "calmar", "sharpe", "sortino")


def per_bar_returns(equity: np.ndarray, init_cash: float) -> np.ndarray:
    """Simple returns of each bar, the first one against the initial cash (as the metrics use)."""
    eq = np.asarray(equity, dtype="float64")
    prev = np.concatenate([[float(init_cash)], eq[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return eq / prev - 1


def independent_trades(trades: pd.DataFrame) -> int:
    """The largest number of closed trades with pairwise non-overlapping holding periods
    [entry, exit) (earliest-exit-first greedy, which is optimal for interval scheduling)."""
    closed = trades[trades["status"] == "closed"] if len(trades) else trades
    if not len(closed):
        return 0
    a = pd.DatetimeIndex(closed["entry_time"]).asi8
    b = pd.DatetimeIndex(closed["exit_time"]).asi8
    n, last = 0, None
    for i in np.argsort(b, kind="stable"):
        if last is None or a[i] >= last:
            n, last = n + 1, b[i]
    return n


def sample_of(bars: int, timeframe: str, trades: pd.DataFrame) -> dict[str, Any]:
    closed = int((trades["status"] == "closed").sum()) if len(trades) else 0
    return {"bars": int(bars), "days": round(bars * tf_seconds(timeframe) / 86400, 4), "closed_trades": closed,
            "open_trades": int(len(trades) - closed), "independent_trades": independent_trades(trades)}


def closed_pnl(trades: pd.DataFrame) -> np.ndarray:
    """Closed trades' P&L (funding and borrow included) in time order (by exit, then entry)."""
    if not len(trades):
        return np.zeros(0)
    c = trades[trades["status"] == "closed"].sort_values(["exit_time", "entry_time"], kind="stable")
    return c["pnl"].to_numpy("float64")


def uncertainty_of(returns: np.ndarray, bars_per_year: float, pnl: np.ndarray) -> dict[str, Any]:
    r_ci, r_desc = returns_ci(returns, bars_per_year)
    t_ci, t_desc = bootstrap_ci(pnl, {"profit_factor": profit_factor_stat, "win_rate": win_rate_stat})
    r_desc = {**r_desc, "series": "per-bar returns of the equity curve (incl. fees, slippage, funding, borrow)",
              "sharpe": f"annualised with {bars_per_year:,} bars a year"}
    if len(returns) and (~np.isfinite(returns) | (returns <= -1)).any():
        r_desc["undefined"] = "the equity fell to zero or below: per-bar returns (and their CIs) are undefined"
    t_desc = {**t_desc, "series": "closed trades' P&L in time order (incl. funding and borrow)"}
    return {"sharpe": r_ci["sharpe"], "total_return": r_ci["total_return"], "profit_factor": t_ci["profit_factor"],
            "win_rate": t_ci["win_rate"], "method": {"returns": r_desc, "trades": t_desc}}


def _pct(x: float | None) -> str:
    return f"{x * 100:.2f}%" if x is not None and np.isfinite(x) else "-"


def _num(x: float | None) -> str:
    return f"{x:.2f}" if x is not None and np.isfinite(x) else "-"


def headline(metrics: dict[str, Any], uncertainty: dict[str, Any], sample: dict[str, Any],
             trades: pd.DataFrame) -> tuple[dict[str, Any], list[str], dict[str, Any] | None]:
    """(metrics with annualised figures nulled over a short period, warnings, the nulled raw values
    or None).  The uncertainty's Sharpe CI is nulled with the Sharpe it belongs to."""
    m = dict(metrics)
    warns: list[str] = []
    days, closed = sample["days"], sample["closed_trades"]
    raw = None
    if days < MIN_ANNUALISED_DAYS:
        raw = {k: m.get(k) for k in ANNUALISED}
        raw["sharpe_ci"] = uncertainty.get("sharpe")
        for k in ANNUALISED:
            m[k] = None
        uncertainty["sharpe"] = None
        warns.append(f"the period covers {days:g} days (fewer than {MIN_ANNUALISED_DAYS}): annualised figures (CAGR, "
                     f"Calmar, Sharpe, Sortino) are not headlined; read the period return "
                     f"({_pct(m['total_return'])} over {sample['bars']:,} bars) instead")
    undefined = ((uncertainty.get("method") or {}).get("returns") or {}).get("undefined")
    if undefined:
        warns.append(undefined)
    if days < MIN_DAYS:
        warns.append(f"fewer than {MIN_DAYS} days ({days:g}): too short a period to judge an edge")
    if closed < MIN_TRADES:
        warns.append(f"fewer than {MIN_TRADES} closed trades ({closed}; {sample['independent_trades']} independent): "
                     "win rate and profit factor rest on too few trades")
    if len(trades):
        op = trades[trades["status"] == "open"]
        open_pnl = float(op["pnl"].sum()) if len(op) else 0.0
        closed_sum = float(trades.loc[trades["status"] == "closed", "pnl"].sum())
        if len(op) and closed == 0:
            warns.append(f"only open positions: {len(op)} position(s) still open at the end, marked to market "
                         f"(P&L {open_pnl:,.2f}); no trade closed, so win rate and profit factor are undefined")
        elif open_pnl > 0 and closed_sum <= 0:
            warns.append(f"all of the profit comes from {len(op)} still-open position(s) (P&L {open_pnl:,.2f}, marked to "
                         f"market at the end); the closed trades lost {abs(closed_sum):,.2f}, and the win rate "
                         "(closed trades) does not see it")
        elif open_pnl > 0:
            warns.append(f"part of the profit ({open_pnl:,.2f}) comes from {len(op)} still-open position(s), marked to "
                         "market at the end and not in the trade statistics")
    for k, zero, what in (("sharpe", 0.0, "Sharpe"), ("total_return", 0.0, "total return"),
                          ("profit_factor", 1.0, "profit factor")):
        ci = uncertainty.get(k)
        if ci is not None and ci[0] <= zero <= ci[1]:
            fmt = _pct if k == "total_return" else _num
            warns.append(f"the 95% CI of the {what} [{fmt(ci[0])}, {fmt(ci[1])}] includes {fmt(zero) if k != 'total_return' else '0'}"
                         f": no evidence of an edge")
    return m, warns, raw


# -- why no trade ---------------------------------------------------------------------------------

def _rows(src, prep, cols: list[str]) -> pd.DataFrame:
    p = src.predictions
    inside = p[p["timestamp"].between(prep.start, prep.end) & p["symbol"].isin(prep.market.symbols)]
    return inside[[c for c in cols if c in inside.columns]]


def _source_reason(src, prep, thr: float, costs: float, direction: str) -> str:
    from engine.backtest.sources import DirectionSource, PatchTSTSource, RuleSource, Stage2Source

    shorts = direction in ("short", "both")
    longs = direction in ("long", "both")
    if isinstance(src, DirectionSource):
        cu, cd = src.up_col.format(h=src.horizon), src.down_col.format(h=src.horizon)
        d = _rows(src, prep, [cu, cd])
        if d.empty:
            return "no trades: the model has no predictions in the period"
        parts = []
        if longs:
            parts.append(f"the highest P(up) in the period was {_num(d[cu].max())}")
        if shorts:
            parts.append(f"the highest P(down) was {_num(d[cd].max())}")
        return f"no trades: {' and '.join(parts)} against a threshold of {thr:.2f} ({len(d):,} predictions)"
    if isinstance(src, PatchTSTSource):
        col = f"pred_future_return_{src.horizon}"
        d = _rows(src, prep, [col])
        hurdle = 2 * costs + thr
        best = d[col].max() if longs else -d[col].min()
        if longs and shorts:
            best = d[col].abs().max()
        return (f"no trades: the largest predicted {src.horizon} return in the period was {_pct(float(best))} against a "
                f"hurdle of {_pct(hurdle)} (2 x (fee + slippage) + threshold {_pct(thr)})")
    if isinstance(src, Stage2Source):
        d = _rows(src, prep, ["pred_class", "p_HH", "p_LH", "p_HL", "p_LL"])
        low = d[d["pred_class"].isin([2, 3])]
        high = d[d["pred_class"].isin([0, 1])]
        pl = float((low["p_HL"] + low["p_LL"]).max()) if len(low) else None
        ph = float((high["p_HH"] + high["p_LH"]).max()) if len(high) else None
        parts = []
        if longs:
            parts.append(f"the highest P(pivot low) at a predicted low was {_num(pl)}" if pl is not None
                         else "no pivot low was predicted")
        if shorts:
            parts.append(f"the highest P(pivot high) at a predicted high was {_num(ph)}" if ph is not None
                         else "no pivot high was predicted")
        return f"no trades: {' and '.join(parts)} against a threshold of {thr:.2f} ({len(d):,} Stage-1 signal bars)"
    if isinstance(src, RuleSource):
        return (f"no trades: no SMA({src.fast}) / SMA({src.slow}) crossing signal in the period "
                f"(the slow SMA needs {src.slow} bars of history)")
    return "no trades: the source gave no signal in the period"


def no_trade_reason(prep, raw: np.ndarray, thr: float, costs: float) -> str:
    """Why a single backtest with no trade made none.  ``raw``: (bars, symbols) raw targets
    (+1 / -1 / 0 / NaN) before the direction mask and the execution shift."""
    from engine.backtest.signals import finalize_targets
    from engine.backtest.sources import RuleSource

    p = prep.params
    src = prep.source
    sig = np.nan_to_num(raw, nan=0.0)
    if not (sig != 0).any():
        return _source_reason(src, prep, thr, costs, p.direction)
    kept = finalize_targets(raw, direction=p.direction, hold_bars=p.hold_bars, execution="close")
    if not (kept != 0).any():  # every signal was on the side this run does not trade
        side = "short" if p.direction == "long" else "long"
        how = ("the default for spot symbols (engine.costs); `--direction both` allows shorts, which pay the borrow "
               "rate" if p.direction_default else "as chosen")
        if isinstance(src, RuleSource):
            below = "below" if side == "short" else "above"
            return (f"no trades: no crossing in the period: SMA({src.fast}) stayed {below} SMA({src.slow}), "
                    f"a {side} signal, and the direction is {p.direction}-only ({how})")
        return (f"no trades: every signal in the period was {side} ({int((sig != 0).sum()):,} bars) and the "
                f"direction is {p.direction}-only ({how})")
    final = finalize_targets(raw, direction=p.direction, hold_bars=p.hold_bars, execution=p.execution)
    if not (final != 0).any():
        return ("no trades: the only signal came at the period's last bar; with next-open execution it fills after "
                "the period ends")
    return "no trades: signals were present but no order filled (check the sizing against the cash)"


# -- walk-forward folds ---------------------------------------------------------------------------

def fold_figures(inside: pd.Series, base: float, bars_per_year: float, timeframe: str,
                 closed_in_fold: int) -> dict[str, Any]:
    eq = inside.to_numpy("float64")
    r = per_bar_returns(eq, base)
    sd = r.std(ddof=1) if len(r) > 1 else 0.0
    sharpe = float(r.mean() / sd * np.sqrt(bars_per_year)) if sd > 1e-15 else None
    peak = np.maximum.accumulate(np.concatenate([[base], eq]))[1:]
    days = len(eq) * tf_seconds(timeframe) / 86400
    warns = []
    if days < MIN_ANNUALISED_DAYS:
        warns.append(f"{days:g} days (< {MIN_ANNUALISED_DAYS}): the annualised Sharpe is an extrapolation")
    if closed_in_fold < MIN_TRADES:
        warns.append(f"{closed_in_fold} closed trades (< {MIN_TRADES})")
    return {"bars": len(eq), "days": round(days, 4), "closed_trades": closed_in_fold,
            "return": float(eq[-1] / base - 1), "sharpe": sharpe,
            "max_drawdown": float((eq / peak - 1).min()), "warnings": warns}


def spread(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """min / median / max over the folds of Sharpe, return and max drawdown (nulls left out)."""
    out: dict[str, Any] = {"folds": len(folds)}
    for k in ("sharpe", "return", "max_drawdown"):
        v = np.array([f[k] for f in folds if f.get(k) is not None], dtype="float64")
        out[k] = ({"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max()), "n": len(v)}
                  if len(v) else None)
    return out
