"""One cost model: fees, slippage, funding and the spot borrow rate, from ``config/costs.yaml``
plus per-run overrides. Every consumer (the ``best_action`` targets, the DirectionalTradingLoss, the
per-epoch trading metrics, the backtest) takes its numbers from here, and every run records
``CostModel.to_dict()`` of what it used.

Conventions: fractions (0.001 = 0.1 %); ``fee`` and ``slippage`` per side; a round trip costs
``2 * (fee + slippage)``; ``borrow_rate`` is annual, charged on the value of a spot short while it
is open; perpetuals pay funding instead.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from config import settings
from config.errors import BadInput

COSTS_FILE = Path(__file__).resolve().parent.parent / "config" / "costs.yaml"
COSTS_ENV = settings.COSTS_FILE.name  # points every consumer at another costs.yaml (tests, what-if studies)
MARKETS = ("spot", "perp")
FEE_TYPES = ("taker", "maker")
DIRECTIONS = ("long", "short", "both")
MAX_COST = 0.1  # a per-side fee or slippage of 10 % or more is surely a typo


def market_of(symbol: str) -> str:
    """``perp`` for USDT-M perpetuals (``BTCUSDT-PERP``), ``spot`` otherwise."""
    return "perp" if symbol.upper().endswith("-PERP") else "spot"


def _fraction(value: Any, what: str, hi: float = MAX_COST) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as e:
        raise BadInput(f"costs: {what} must be a number") from e
    if not math.isfinite(v) or not 0 <= v < hi:
        raise BadInput(f"costs: {what} must be in [0, {hi:g}), got {v:g}", hint="fractions: 0.001 = 0.1 %")
    return v


@dataclass(frozen=True)
class CostModel:
    spot_taker: float = 0.001
    spot_maker: float = 0.001
    perp_taker: float = 0.0005
    perp_maker: float = 0.0002
    slippage: float = 0.0001
    funding: bool = True
    borrow_rate: float = 0.10
    spot_direction: str = "long"
    perp_direction: str = "both"

    def fee(self, market: str = "spot", fee_type: str = "taker") -> float:
        """Per-side fee of a market (``spot`` | ``perp``) and order type (``taker`` | ``maker``)."""
        if market not in MARKETS:
            raise BadInput(f"unknown market {market!r}", hint="spot or perp")
        if fee_type not in FEE_TYPES:
            raise BadInput(f"unknown fee type {fee_type!r}", hint="use taker or maker")
        return float(getattr(self, f"{market}_{fee_type}"))

    def fee_for(self, symbols: list[str], fee_type: str = "taker") -> float:
        """Per-side fee for a set of symbols (the highest of their markets; spot when none)."""
        return max((self.fee(market_of(s), fee_type) for s in symbols), default=self.fee("spot", fee_type))

    def round_trip(self, symbols: list[str] | None = None, fee_type: str = "taker") -> float:
        """What one round trip costs as a fraction of the position: 2 x (fee + slippage)."""
        return 2 * (self.fee_for(list(symbols or []), fee_type) + self.slippage)

    def default_direction(self, symbols: list[str]) -> str:
        """Long-only when any symbol is spot (shorting spot needs an explicit choice), else perps' default."""
        return self.spot_direction if any(market_of(s) == "spot" for s in symbols) else self.perp_direction

    def with_overrides(self, **overrides: Any) -> CostModel:
        """A copy with some fields replaced (None values are ignored), each checked."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(clean) - set(asdict(self))
        if unknown:
            raise BadInput(f"costs: unknown field(s) {', '.join(sorted(unknown))}")
        return _checked(replace(self, **clean))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _checked(c: CostModel) -> CostModel:
    for k in ("spot_taker", "spot_maker", "perp_taker", "perp_maker", "slippage"):
        _fraction(getattr(c, k), k)
    _fraction(c.borrow_rate, "borrow_rate", hi=10.0)
    for k in ("spot_direction", "perp_direction"):
        if getattr(c, k) not in DIRECTIONS:
            raise BadInput(f"costs: {k} must be one of {', '.join(DIRECTIONS)}")
    if not isinstance(c.funding, bool):
        raise BadInput("costs: funding must be true or false")
    return c


def load_costs(path: Path | None = None, **overrides: Any) -> CostModel:
    """The cost model of ``config/costs.yaml`` (or ``path``, or the file ``$KLINELAB_COSTS_FILE`` names),
    with per-run overrides applied."""
    p = Path(path or settings.COSTS_FILE.get() or COSTS_FILE)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise BadInput(f"costs: cannot read {p.name}: {type(e).__name__}") from e
    if not isinstance(doc, dict):
        raise BadInput(f"costs: {p.name} must be a mapping")
    fees = doc.get("fees") or {}
    fields: dict[str, Any] = {}
    for market in MARKETS:
        for ft in FEE_TYPES:
            if isinstance(fees.get(market), dict) and ft in fees[market]:
                fields[f"{market}_{ft}"] = fees[market][ft]
    for k in ("slippage", "funding", "borrow_rate", "spot_direction", "perp_direction"):
        if k in doc:
            fields[k] = doc[k]
    unknown = set(doc) - {"fees", "slippage", "funding", "borrow_rate", "spot_direction", "perp_direction"}
    if unknown:
        raise BadInput(f"costs: unknown key(s) in {p.name}: {', '.join(sorted(map(str, unknown)))}")
    return CostModel(**{**asdict(CostModel()), **fields}).with_overrides(**overrides)
