"""Typed, validated backtest parameters (one object for the CLI, the page, sweeps and tests).

Everything a user can type is checked here, before any data is read or anything is written,
so a bad value gives one clear message (``config.errors.BadInput``) and touches nothing.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from config.errors import BadInput
from engine.data.canonical import parse_utc

DIRECTIONS = ("long", "short", "both")
SIZINGS = ("all", "percent", "value", "amount")
EXECUTIONS = ("next_open", "close")
FEE_TYPES = ("taker", "maker")
# Binance VIP0 rates per side: USDT-M perpetuals 0.05% taker / 0.02% maker; spot 0.1% both.
FEE_PRESETS = {"perp": {"taker": 0.0005, "maker": 0.0002}, "spot": {"taker": 0.001, "maker": 0.001}}
DEFAULT_SLIPPAGE = 0.0001  # 1 basis point per fill
DEFAULT_INIT_CASH = 10_000.0
MAX_COST = 0.1  # a per-side fee or slippage of 10% or more is surely a typo (0.1 = 10%)


def market_of(symbol: str) -> str:
    return "perp" if symbol.upper().endswith("-PERP") else "spot"


def default_fee(symbols: list[str], fee_type: str = "taker") -> float:
    """The preset fee of the symbols' market (the highest one when spot and perps are mixed)."""
    if fee_type not in FEE_TYPES:
        raise BadInput(f"unknown fee type {fee_type!r}", hint="use taker or maker")
    return max(FEE_PRESETS[market_of(s)][fee_type] for s in symbols) if symbols else FEE_PRESETS["spot"][fee_type]


def _finite(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{what} must be a number, got {value!r}") from e
    if not math.isfinite(v):
        raise BadInput(f"{what} must be a finite number, got {value!r}")
    return v


def check_stop(name: str, value: Any) -> float | None:
    """A stop-loss in (0, 1) or a take-profit in (0, 100), as a fraction of the entry price; None = off."""
    if value is None:
        return None
    label = name.replace("_", "-")
    v = _finite(value, label)
    if not 0 < v < (1 if name == "sl_stop" else 100):
        raise BadInput(f"{label} must be a fraction of the entry price {'in (0, 1)' if name == 'sl_stop' else 'above 0'}, "
                       f"got {v:g}", hint="0.02 = 2 %")
    return v


@dataclass
class BacktestParams:
    """How signals become a portfolio.

    * ``direction``: long, short or both (reversals).
    * ``threshold``: the signal threshold of the source (probability for direction / Stage 2
      models, extra expected return over the round-trip cost for PatchTST); None = its default.
    * ``sizing`` / ``size``: ``all`` = all the equity of the symbol's sleeve (compounding);
      ``percent`` = that fraction of the available cash (0..1]; ``value`` = a fixed cash amount
      per trade; ``amount`` = a fixed number of coins per trade.
    * ``sl_stop`` / ``tp_stop``: stop-loss / take-profit as fractions of the entry price
      (0.02 = 2 %); ``sl_trail`` makes the stop-loss trailing.
    * ``fees`` (fraction per side; None = the ``fee_type`` preset of the market), ``slippage``
      (fraction of the price per fill), ``funding`` (charge perpetual funding when the rates
      are in the workspace).
    * ``execution``: ``next_open`` = a signal known at a bar's close fills at the next bar's
      open (default, no look-ahead); ``close`` = fills at the signal bar's close.
    * ``start`` / ``end``: the period (None = the model's test split / the whole series).
    * ``hold_bars``: event signals (Stage 2 pivots) are held this many bars at most
      (None = until the opposite signal or a stop).
    """

    direction: str = "both"
    threshold: float | None = None
    horizon: str | None = None
    sizing: str = "all"
    size: float | None = None
    sl_stop: float | None = None
    tp_stop: float | None = None
    sl_trail: bool = False
    fee_type: str = "taker"
    fees: float | None = None
    slippage: float = DEFAULT_SLIPPAGE
    funding: bool = True
    init_cash: float = DEFAULT_INIT_CASH
    execution: str = "next_open"
    start: Any = None
    end: Any = None
    hold_bars: int | None = None
    symbols: list[str] = field(default_factory=list)

    def validated(self) -> "BacktestParams":
        """A checked copy (dates parsed to UTC timestamps); raises BadInput naming the bad value."""
        p = replace(self, symbols=[s.strip().upper() for s in self.symbols if s and s.strip()])
        if p.direction not in DIRECTIONS:
            raise BadInput(f"unknown direction {p.direction!r}", hint="use long, short or both")
        if p.sizing not in SIZINGS:
            raise BadInput(f"unknown sizing {p.sizing!r}", hint=f"use one of {', '.join(SIZINGS)}")
        if p.execution not in EXECUTIONS:
            raise BadInput(f"unknown execution {p.execution!r}", hint="use next_open or close")
        if p.fee_type not in FEE_TYPES:
            raise BadInput(f"unknown fee type {p.fee_type!r}", hint="use taker or maker")
        if p.fees is not None:
            p.fees = _finite(p.fees, "fees")
            if not 0 <= p.fees < MAX_COST:
                raise BadInput(f"fees must be a fraction per side in [0, {MAX_COST}), got {p.fees:g}",
                               hint="0.0005 = 0.05 % per fill; fees cannot be negative")
        p.slippage = _finite(p.slippage, "slippage")
        if not 0 <= p.slippage < MAX_COST:
            raise BadInput(f"slippage must be a fraction of the price in [0, {MAX_COST}), got {p.slippage:g}",
                           hint="0.0001 = 1 basis point per fill; slippage cannot be negative")
        p.init_cash = _finite(p.init_cash, "initial cash")
        if p.init_cash <= 0:
            raise BadInput(f"initial cash must be positive, got {p.init_cash:g}")
        if p.sizing == "all":
            p.size = None
        else:
            if p.size is None:  # value: the symbol's sleeve, set once the symbols are known
                p.size = {"percent": 1.0, "value": p.init_cash / max(1, len(p.symbols)), "amount": 1.0}[p.sizing]
            p.size = _finite(p.size, "size")
            if p.size <= 0:
                raise BadInput(f"size must be positive, got {p.size:g}")
            if p.sizing == "percent" and p.size > 1:
                raise BadInput(f"percent sizing takes a fraction in (0, 1], got {p.size:g}", hint="0.5 = half of the cash")
            if p.sizing == "percent" and p.direction == "both":
                raise BadInput("percent sizing cannot reverse a position (vectorbt)",
                               hint="use direction long or short, or sizing all / value / amount")
        p.sl_stop, p.tp_stop = check_stop("sl_stop", p.sl_stop), check_stop("tp_stop", p.tp_stop)
        if p.threshold is not None:
            p.threshold = _finite(p.threshold, "threshold")
        if p.hold_bars is not None:
            if int(p.hold_bars) != p.hold_bars or p.hold_bars < 1:
                raise BadInput(f"hold-bars must be a whole number >= 1, got {p.hold_bars}")
            p.hold_bars = int(p.hold_bars)
        p.start, p.end = parse_utc(p.start, "start"), parse_utc(p.end, "end")
        if p.start is not None and p.end is not None and p.start > p.end:
            raise BadInput(f"the period is empty: start {p.start} is after end {p.end}")
        return p

    def fee_for(self, symbols: list[str]) -> float:
        return self.fees if self.fees is not None else default_fee(symbols, self.fee_type)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("start", "end"):
            if d[k] is not None:
                d[k] = pd.Timestamp(d[k]).isoformat()
        return d


def parse_grid(text: str | list | None, what: str) -> list[float | None]:
    """'0.5,0.6,0.7' or '0.4:0.8:0.05' (start:stop:step, stop included) or 'none' -> a list of values."""
    if text is None:
        return [None]
    if isinstance(text, (list, tuple)):
        return [None if v is None else _finite(v, what) for v in text] or [None]
    out: list[float | None] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if part.lower() in ("none", "off", "-"):
            out.append(None)
        elif ":" in part:
            bits = part.split(":")
            if len(bits) != 3:
                raise BadInput(f"bad {what} range {part!r}", hint="use start:stop:step, e.g. 0.4:0.8:0.05")
            a, b, s = (_finite(x, what) for x in bits)
            if s <= 0 or b < a:
                raise BadInput(f"bad {what} range {part!r}: the step must be positive and stop >= start")
            n = int(math.floor((b - a) / s + 1e-9)) + 1
            if n > 10_000:
                raise BadInput(f"{what} range {part!r} has {n} points (at most 10,000)")
            out += [round(a + i * s, 12) for i in range(n)]
        else:
            out.append(_finite(part, what))
    if not out:
        raise BadInput(f"no {what} values given")
    return list(dict.fromkeys(out))
