"""One cost model: fees, slippage, funding and the spot borrow rate, from ``config/costs.yaml``
plus per-run overrides. Every consumer (the ``best_action`` targets, the DirectionalTradingLoss, the
per-epoch trading metrics, the backtest) takes its numbers from here, and every run records
``CostModel.to_dict()`` of what it used.

Conventions: fractions (0.001 = 0.1 %); ``fee`` and ``slippage`` per side; a round trip costs
``2 * (fee + slippage)``; ``borrow_rate`` is annual, charged on the value of a spot short while it
is open; perpetuals pay funding instead.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field

from config import settings
from config.errors import BadInput
from config.typed import Strict, check_fields, validate

COSTS_FILE = Path(__file__).resolve().parent.parent / "config" / "costs.yaml"
COSTS_ENV = settings.COSTS_FILE.name  # points every consumer at another costs.yaml (tests, what-if studies)
MARKETS = ("spot", "perp")
FEE_TYPES = ("taker", "maker")
DIRECTIONS = ("long", "short", "both")
MAX_COST = 0.1  # a per-side fee or slippage of 10 % or more is surely a typo


def market_of(symbol: str) -> str:
    """``perp`` for USDT-M perpetuals (``BTCUSDT-PERP``), ``spot`` otherwise."""
    return "perp" if symbol.upper().endswith("-PERP") else "spot"


Fee = Annotated[float, Field(ge=0.0, lt=MAX_COST)]  # a fraction per side: 0.001 = 0.1 %
Direction = Literal["long", "short", "both"]


@dataclass(frozen=True)
class CostModel:
    """The costs; ranges are the annotations (checked by pydantic: ``config.typed.check_fields``)."""

    spot_taker: Fee = 0.001
    spot_maker: Fee = 0.001
    perp_taker: Fee = 0.0005
    perp_maker: Fee = 0.0002
    slippage: Fee = 0.0001
    funding: bool = True
    borrow_rate: Annotated[float, Field(ge=0.0, lt=10.0)] = 0.10  # annual
    spot_direction: Direction = "long"
    perp_direction: Direction = "both"

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
    return check_fields(c, "costs")


class _MarketFees(Strict):
    taker: Fee | None = None
    maker: Fee | None = None


class _Fees(Strict):
    spot: _MarketFees = Field(default_factory=_MarketFees)
    perp: _MarketFees = Field(default_factory=_MarketFees)


class CostsFile(Strict):
    """The schema of ``config/costs.yaml`` (every key optional: what is left out keeps CostModel's default)."""

    fees: _Fees = Field(default_factory=_Fees)
    slippage: Fee | None = None
    funding: bool | None = None
    borrow_rate: Annotated[float, Field(ge=0.0, lt=10.0)] | None = None
    spot_direction: Direction | None = None
    perp_direction: Direction | None = None


def load_costs(path: Path | None = None, **overrides: Any) -> CostModel:
    """The cost model of ``config/costs.yaml`` (or ``path``, or the file ``$KLINELAB_COSTS_FILE`` names),
    with per-run overrides applied."""
    p = Path(path or settings.COSTS_FILE.get() or COSTS_FILE)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise BadInput(f"costs: cannot read {p.name}: {type(e).__name__}") from e
    f = validate(CostsFile, doc, f"costs: {p.name}")
    fields: dict[str, Any] = {f"{m}_{ft}": getattr(getattr(f.fees, m), ft) for m in MARKETS for ft in FEE_TYPES}
    fields.update({k: getattr(f, k) for k in ("slippage", "funding", "borrow_rate", "spot_direction", "perp_direction")})
    return CostModel(**{**asdict(CostModel()), **{k: v for k, v in fields.items() if v is not None}}).with_overrides(**overrides)
