"""``config/features.yaml`` -> a typed, validated :class:`FeaturesConfig`.

The file's schema is the pydantic model :class:`FeaturesFile` (ranges in its ``Field(...)``; see
``config/typed.py``).  Unknown keys, missing sections and bad values are :class:`config.errors.BadInput`
naming the key, so a typo never silently falls back to a default.  :class:`FeaturesConfig` (what the
pipeline uses, and whose :meth:`~FeaturesConfig.fingerprint` keys the feature-set cache) is unchanged."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from config.bounded import load_yaml_file
from config.errors import BadInput, NotFound
from config.settings import HORIZONS
from config.typed import Strict, Text, validate
from config.version import ROOT
from engine.data.timeframes import TIMEFRAMES, parse_timeframe

DEFAULT_PATH = ROOT / "config" / "features.yaml"
__all__ = ["HORIZONS", "FeaturesConfig", "FeaturesFile", "load_config", "parse_config"]


@dataclass(frozen=True)
class FeaturesConfig:
    sectors: dict[str, tuple[str, ...]]
    btc_symbol: str
    zigzag_deviation_pct: dict[str, float]
    direction_threshold_pct: dict[str, float]
    fee_pct_per_side: float | None  # None: the cost model's taker fee of each symbol's market
    audit_window_bars: int
    audit_cut_fractions: tuple[float, ...]
    audit_rtol: float
    audit_atol: float
    source: str = "config/features.yaml"

    def sector_of(self, symbol: str) -> str | None:
        from engine.data.names import base_asset

        base = base_asset(symbol)
        for name, members in self.sectors.items():
            if base in members:
                return name
        return None

    def zigzag_deviation(self, timeframe: str) -> float:
        tf = parse_timeframe(timeframe)
        if tf not in self.zigzag_deviation_pct:
            raise BadInput(f"no ZigZag deviation configured for {tf}", hint=f"add zigzag.deviation_pct.{tf} to {self.source}")
        return self.zigzag_deviation_pct[tf]

    def fingerprint(self) -> str:
        d = asdict(self)
        d.pop("source")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


Pct = Annotated[float, Field(ge=0.0, le=50.0)]


class _Zigzag(Strict):
    messages: ClassVar[str] = "range"
    deviation_pct: dict[str, Annotated[float, Field(ge=0.01, le=90.0)]]

    @field_validator("deviation_pct")
    @classmethod
    def _timeframes(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in v if k not in TIMEFRAMES]
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(k[:40] for k in unknown[:10])} (allowed: {', '.join(TIMEFRAMES)})")
        return {parse_timeframe(k): x for k, x in v.items()}


class _Targets(Strict):
    messages: ClassVar[str] = "range"
    direction_threshold_pct: dict[str, Pct]
    fee_pct_per_side: Annotated[float, Field(ge=0.0, le=5.0)] | None = Field(
        ..., description="percent per side; null: the cost model's taker fee of each symbol's market")

    @field_validator("direction_threshold_pct")
    @classmethod
    def _horizons(cls, v: dict[str, float]) -> dict[str, float]:
        unknown, missing = [k for k in v if k not in HORIZONS], [h for h in HORIZONS if h not in v]
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(k[:40] for k in unknown[:10])} (allowed: {', '.join(HORIZONS)})")
        if missing:
            raise ValueError(f"missing key(s) {', '.join(missing)}")
        return {h: v[h] for h in HORIZONS}


class _Audit(Strict):
    messages: ClassVar[str] = "range"
    window_bars: int = Field(..., ge=200, le=10_000_000)
    cut_fractions: list[Annotated[float, Field(ge=0.05, le=0.99)]] = Field(..., min_length=1)
    rtol: float = Field(..., ge=0.0, le=1.0)
    atol: float = Field(..., ge=0.0, le=1.0)


class FeaturesFile(Strict):
    """The schema of ``config/features.yaml`` (every key required: a typo never falls back to a default)."""

    messages: ClassVar[str] = "range"
    sectors: dict[str, list[Text]] = Field(..., description="sector name -> base assets (for the sector-mean features)")
    btc_symbol: Text
    zigzag: _Zigzag
    targets: _Targets
    audit: _Audit

    @field_validator("sectors")
    @classmethod
    def _sectors(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        out = {}
        for name, members in v.items():
            if not members or not all(m.strip() for m in members):
                raise ValueError(f"sectors.{name} must be a non-empty list of base assets (e.g. [ETH, SOL])")
            ms = [m.strip().upper() for m in members]
            for m in ms:
                if m in seen:
                    raise ValueError(f"{m} is in two sectors ({seen[m]} and {name})")
                seen[m] = str(name)
            out[str(name)] = ms
        return out

    @field_validator("btc_symbol")
    @classmethod
    def _btc(cls, v: str) -> str:
        from engine.data.names import check_symbol

        return check_symbol(v)  # its BadInput (a ValueError) becomes "btc_symbol: ..."


def parse_config(data: Any, source: str = "config/features.yaml") -> FeaturesConfig:
    f = validate(FeaturesFile, data, source)
    return FeaturesConfig(sectors={k: tuple(v) for k, v in f.sectors.items()}, btc_symbol=f.btc_symbol,
                          zigzag_deviation_pct=dict(f.zigzag.deviation_pct),
                          direction_threshold_pct=dict(f.targets.direction_threshold_pct),
                          fee_pct_per_side=f.targets.fee_pct_per_side, audit_window_bars=f.audit.window_bars,
                          audit_cut_fractions=tuple(sorted(f.audit.cut_fractions)), audit_rtol=f.audit.rtol,
                          audit_atol=f.audit.atol, source=source)


def load_config(path: str | Path | None = None) -> FeaturesConfig:
    p = Path(path) if path else DEFAULT_PATH
    if not p.is_absolute() and not p.exists() and (ROOT / p).is_file():
        p = ROOT / p  # a path recorded in a manifest (relative to the project)
    if not p.is_file():
        from config.paths import not_a_file_reason

        why = not_a_file_reason(p)
        raise (NotFound if why.startswith("does not exist") else BadInput)(f"features config {p} {why}")
    data = load_yaml_file(p, "features config")
    return parse_config(data, str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p))
