"""Backtest page widgets (Streamlit only): the portfolio / costs inputs shared by the run and
sweep forms, as fields of the typed backtest request (``engine.backtest.requests``); cached readers of stored runs."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from engine.backtest.params import DEFAULT_INIT_CASH, default_direction, default_fee, default_slippage
from engine.backtest.store import format_metric

SWEEP_JOB = "backtest.sweep_job_id"
RESULT = "backtest.result_id"
SWEEP_RESULT = "backtest.sweep_id"


def portfolio_inputs(key: str, symbols: list[str], *, stops: bool = True) -> dict[str, Any]:
    """Direction, sizing, stops, execution, fees, slippage, funding, cash -> request fields."""
    opts: dict[str, Any] = {}
    c1, c2, c3, c4 = st.columns(4)
    auto = f"default ({default_direction(symbols)})" if symbols else "default"
    direction = c1.selectbox("Direction", [auto, "both", "long", "short"], key=f"{key}-dir-{','.join(symbols)}",
                             help="default: config/costs.yaml (spot: long-only; perpetuals: both). both = long on up "
                                  "signals, short on down signals; shorting spot pays the borrow rate")
    sizing = c2.selectbox("Position sizing", ["all", "percent", "value", "amount"], key=f"{key}-sizing",
                          help="all equity of the symbol's sleeve / fraction of cash / fixed cash / fixed coins per trade")
    size = c3.number_input("Size", min_value=0.0, value=1.0 if sizing in ("percent", "amount") else 1000.0,
                           key=f"{key}-size-{sizing}", disabled=sizing == "all",
                           help="percent: (0, 1]; value: cash per trade; amount: coins per trade")
    execution = c4.selectbox("Fill at", ["next_open", "close"], key=f"{key}-exec",
                             help="next_open: a signal known at a bar's close fills at the next bar's open (no look-ahead)")
    opts.update(direction=direction if direction in ("both", "long", "short") else None, sizing=sizing,
                execution=execution, size=float(size) if sizing != "all" else None)
    if stops:
        c1, c2, c3, c4 = st.columns(4)
        sl = c1.number_input("Stop-loss (fraction, 0 = off)", min_value=0.0, max_value=0.99, value=0.0, step=0.005,
                             format="%.4f", key=f"{key}-sl")
        tp = c2.number_input("Take-profit (fraction, 0 = off)", min_value=0.0, value=0.0, step=0.005, format="%.4f",
                             key=f"{key}-tp")
        trail = c3.checkbox("Trailing stop-loss", key=f"{key}-trail")
        hold = c4.number_input("Hold event signals at most (bars, 0 = until the opposite signal)", min_value=0, value=0,
                               key=f"{key}-hold")
        if sl > 0:
            opts.update(sl_stop=float(sl), sl_trail=bool(trail))
        if tp > 0:
            opts["tp_stop"] = float(tp)
        if hold > 0:
            opts["hold_bars"] = int(hold)
    c1, c2, c3 = st.columns(3)
    fee_type = c1.selectbox("Fee type", ["taker", "maker"], key=f"{key}-feetype")
    fees = c2.number_input("Fee per fill (fraction)", value=default_fee(symbols, fee_type), step=0.0001, format="%.5f",
                           key=f"{key}-fees-{fee_type}-{','.join(symbols)}",
                           help="default from config/costs.yaml (the one cost model)")
    slip = c3.number_input("Slippage per fill (fraction)", value=default_slippage(), step=0.0001, format="%.5f",
                           key=f"{key}-slip")
    c1, c2 = st.columns(2)
    cash = c1.number_input("Initial cash", min_value=1.0, value=DEFAULT_INIT_CASH, step=1000.0, key=f"{key}-cash")
    funding = c2.checkbox("Charge funding (perpetuals, from the stored rates)", value=True, key=f"{key}-funding")
    opts.update(fee_type=fee_type, fees=float(fees), slippage=float(slip), init_cash=float(cash), no_funding=not funding)
    return opts


def _stamp(ts: Any) -> str:
    return f"{pd.Timestamp(ts):%Y-%m-%d %H:%M:%S}"


def _naive_utc(ts: Any) -> pd.Timestamp | None:
    if ts is None:
        return None
    t = pd.Timestamp(ts)
    return t.tz_convert(None) if t.tzinfo is not None else t


def period_inputs(key: str, default: tuple[Any, Any] | None, bounds: tuple[Any, Any] | None) -> dict[str, str]:
    """A custom period (UTC date and time of day) or the default one.  Call it OUTSIDE a form:
    the pickers appear as soon as the box is ticked.  Left at their defaults they send the default
    period's exact times (a model's test period is never cut to whole days, which would reach
    into its validation split and be refused as in-sample)."""
    label = f"default period: {default[0]:%Y-%m-%d %H:%M} -> {default[1]:%Y-%m-%d %H:%M} UTC" if default and default[0] else \
        "default period: the whole series"
    custom = st.checkbox(f"Custom period ({label})", key=f"{key}-custom")
    if not custom:
        return {}
    lo, hi = bounds if bounds else (None, None)
    first = _naive_utc(default[0] if default and default[0] is not None else lo)
    last = _naive_utc(default[1] if default and default[1] is not None else hi)
    c1, c2, c3, c4 = st.columns(4)
    a = c1.date_input("Start date (UTC)", value=first.date() if first is not None else None, key=f"{key}-start")
    at = c2.time_input("Start time (UTC)", value=first.time() if first is not None else dt.time(0, 0),
                       step=dt.timedelta(minutes=1), key=f"{key}-start-t")
    b = c3.date_input("End date (UTC, inclusive)", value=last.date() if last is not None else None, key=f"{key}-end")
    bt = c4.time_input("End time (UTC, inclusive)", value=last.time() if last is not None else dt.time(23, 59),
                       step=dt.timedelta(minutes=1), key=f"{key}-end-t")
    out = {}
    if a:
        s = pd.Timestamp(dt.datetime.combine(a, at or dt.time(0, 0)))
        # unchanged picker: the exact default time (the pickers hold whole minutes)
        out["start"] = _stamp(first if first is not None and s == first.floor("min") else s)
    if b:
        e = pd.Timestamp(dt.datetime.combine(b, bt or dt.time(23, 59)))
        out["end"] = _stamp(last if last is not None and e == last.floor("min") else e + pd.Timedelta(seconds=59))
    return out


def sweep_table(top: pd.DataFrame) -> pd.DataFrame:
    """The top grid points as the page shows them: every figure written out in full by
    ``format_metric`` (a Styler with a fixed precision let the grid cut leading digits: ".8.1964"),
    the swept parameters as "off" or their value, '-' for no value."""
    out = top.copy()
    for c in out.columns:
        if c in ("threshold", "sl_stop", "tp_stop"):
            out[c] = out[c].map(lambda v: "off" if pd.isna(v) else f"{v:g}")
        elif pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].map(lambda v, c=c: format_metric(c, v))
        else:  # text (ruin_reason: null unless the account was wiped out): a missing value drew as "None"
            out[c] = out[c].map(lambda v: "-" if v is None or (isinstance(v, float) and pd.isna(v)) else v)
    return out
