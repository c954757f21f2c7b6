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
from engine.costs import MAX_COST, CostModel, load_costs, market_of
from engine.data.canonical import parse_utc

DIRECTIONS = ("long", "short", "both")
SIZINGS = ("all", "percent", "value", "amount")
EXECUTIONS = ("next_open", "close")
FEE_TYPES = ("taker", "maker")
DEFAULT_INIT_CASH = 10_000.0


def default_fee(symbols: list[str], fee_type: str = "taker") -> float:
    """The cost model's fee of the symbols' market (the highest one when spot and perps are mixed)."""
    if fee_type not in FEE_TYPES:
        raise BadInput(f"unknown fee type {fee_type!r}", hint="use taker or maker")
    return load_costs().fee_for(list(symbols), fee_type)


def default_slippage() -> float:
    """The cost model's slippage per fill (config/costs.yaml)."""
    return load_costs().slippage


def default_direction(symbols: list[str]) -> str:
    """The cost model's default direction: long-only when a symbol is spot, its perp default otherwise."""
    return load_costs().default_direction(list(symbols))


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

    * ``direction``: long, short or both (reversals); None = the cost model's default for the
      symbols (``engine.costs``: spot -> long-only; shorting spot is an explicit choice and pays
      ``borrow_rate``).
    * ``threshold``: the signal threshold of the source (probability for direction / Stage 2
      models, extra expected return over the round-trip cost for PatchTST); None = its default.
    * ``sizing`` / ``size``: ``all`` = all the equity of the symbol's sleeve (compounding);
      ``percent`` = that fraction of the available cash (0..1]; ``value`` = a fixed cash amount
      per trade; ``amount`` = a fixed number of coins per trade.
    * ``sl_stop`` / ``tp_stop``: stop-loss / take-profit as fractions of the entry price
      (0.02 = 2 %); ``sl_trail`` makes the stop-loss trailing.
    * ``fees`` (fraction per side; None = the cost model's ``fee_type`` fee of the market),
      ``slippage`` (fraction of the price per fill; None = the cost model's), ``funding`` (charge
      perpetual funding when the rates are in the workspace; None = the cost model's),
      ``borrow_rate`` (annual rate on the value of a spot short; None = the cost model's). These
      are per-run overrides of ``config/costs.yaml`` (``engine.costs``).
    * ``execution``: ``next_open`` = a signal known at a bar's close fills at the next bar's
      open (default, no look-ahead); ``close`` = fills at the signal bar's close.
    * ``start`` / ``end``: the period (None = the model's test split / the whole series).
    * ``hold_bars``: event signals (Stage 2 pivots) are held this many bars at most
      (None = until the opposite signal or a stop).
    """

    direction: str | None = None
    threshold: float | None = None
    horizon: str | None = None
    sizing: str = "all"
    size: float | None = None
    sl_stop: float | None = None
    tp_stop: float | None = None
    sl_trail: bool = False
    fee_type: str = "taker"
    fees: float | None = None
    slippage: float | None = None
    funding: bool | None = None
    borrow_rate: float | None = None
    init_cash: float = DEFAULT_INIT_CASH
    execution: str = "next_open"
    start: Any = None
    end: Any = None
    hold_bars: int | None = None
    symbols: list[str] = field(default_factory=list)
    direction_default: bool = False  # set by resolve_direction: the direction came from the cost model

    def validated(self) -> BacktestParams:
        """A checked copy (dates parsed to UTC timestamps); raises BadInput naming the bad value."""
        p = replace(self, symbols=[s.strip().upper() for s in self.symbols if s and s.strip()])
        costs = load_costs()
        if p.direction is not None and p.direction not in DIRECTIONS:
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
        p.slippage = costs.slippage if p.slippage is None else _finite(p.slippage, "slippage")
        if not 0 <= p.slippage < MAX_COST:
            raise BadInput(f"slippage must be a fraction of the price in [0, {MAX_COST}), got {p.slippage:g}",
                           hint="0.0001 = 1 basis point per fill; slippage cannot be negative")
        if p.funding is None:
            p.funding = costs.funding
        p.funding = bool(p.funding)
        if p.borrow_rate is None:
            p.borrow_rate = costs.borrow_rate
        p.borrow_rate = _finite(p.borrow_rate, "borrow rate")
        if not 0 <= p.borrow_rate < 10:
            raise BadInput(f"the borrow rate must be an annual fraction in [0, 10), got {p.borrow_rate:g}",
                           hint="0.10 = 10 % a year on the value of a spot short")
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

    def resolve_direction(self, symbols: list[str]) -> None:
        """Fill in the cost model's default direction for these symbols when none was chosen."""
        if self.direction is None:
            self.direction, self.direction_default = default_direction(symbols), True
        if self.sizing == "percent" and self.direction == "both":
            raise BadInput("percent sizing cannot reverse a position (vectorbt)",
                           hint="use direction long or short, or sizing all / value / amount")

    def cost_model(self, symbols: list[str]) -> CostModel:
        """The cost model with this run's overrides applied (what the run uses)."""
        over = {"slippage": self.slippage, "funding": self.funding, "borrow_rate": self.borrow_rate}
        if self.fees is not None:
            over.update({f"{m}_{self.fee_type}": self.fees for m in ("spot", "perp")})
        return load_costs().with_overrides(**over)

    def costs_used(self, symbols: list[str], funding_symbols: list[str]) -> dict[str, Any]:
        """What the run charged: per-side fee, slippage, funding (and on which symbols), the borrow
        rate (and on which spot symbols it applies: only when shorts are allowed), the direction and
        whether it was the default, and the whole cost model with the overrides applied."""
        spot = [s for s in symbols if market_of(s) == "spot"]
        shorts = self.direction in ("short", "both")
        return {"fees": self.fee_for(symbols), "fee_type": self.fee_type,
                "fees_source": "override" if self.fees is not None else "config/costs.yaml",
                "slippage": self.slippage, "funding": bool(self.funding), "funding_symbols": list(funding_symbols),
                "borrow_rate": self.borrow_rate if (spot and shorts) else None,
                "borrow_symbols": spot if shorts else [], "direction": self.direction,
                "direction_source": "default (engine.costs)" if self.direction_default else "explicit",
                "cost_model": self.cost_model(symbols).to_dict()}

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
            n = math.floor((b - a) / s + 1e-9) + 1
            if n > 10_000:
                raise BadInput(f"{what} range {part!r} has {n} points (at most 10,000)")
            out += [round(a + i * s, 12) for i in range(n)]
        else:
            out.append(_finite(part, what))
    if not out:
        raise BadInput(f"no {what} values given")
    return list(dict.fromkeys(out))
