"""The feature registry: every feature is declared exactly once, with its family, lookback
(bars of history it needs before its first value), inputs and a one-line description.

A family module (``engine/features/families/<family>.py``) declares its features in one
table and provides one ``compute(ctx)`` that returns ``{name: array}`` for the features of
that family whose inputs are available.  :func:`registry` collects the families in order and
refuses a name declared twice (the seeds' duplicate definitions silently overwrote each other).

Inputs are column names of the canonical candles (``timestamp open high low close volume``,
optional ``taker_buy_base trades``), ``funding_rate`` (perpetuals) and two universe inputs:
``btc`` (the BTC series of the same timeframe) and ``universe`` (two or more symbols on
shared timestamps).  A feature is built only when all its inputs are available for every
symbol of the set; the others are listed as skipped with the reason.
"""
from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from config.errors import BadInput

FEATURESET_VERSION = "1"  # bump when a definition changes meaning (part of the cache key)

BASE_INPUTS = frozenset({"timestamp", "open", "high", "low", "close", "volume"})
OPTIONAL_INPUTS = frozenset({"taker_buy_base", "trades", "funding_rate", "btc", "universe"})
KNOWN_INPUTS = BASE_INPUTS | OPTIONAL_INPUTS

FAMILY_MODULES = ["returns", "trend", "momentum", "volatility", "volume", "microstructure", "fractal", "time",
                  "cross_asset", "funding"]


@dataclass(frozen=True)
class FeatureDef:
    name: str
    family: str
    lookback: int  # bars of history needed before the first value (0 = the current bar only)
    inputs: tuple[str, ...]
    description: str

    def available(self, inputs: Iterable[str]) -> bool:
        return set(self.inputs) <= set(inputs)

    def to_dict(self) -> dict:
        return {"name": self.name, "family": self.family, "lookback": self.lookback, "inputs": list(self.inputs),
                "description": self.description}


@dataclass
class Family:
    """One family: its declared features and the function computing them.

    ``scope`` is ``"symbol"`` (computed on one symbol's bars) or ``"universe"`` (needs all
    symbols of the set on shared timestamps: cross-asset)."""

    name: str
    title: str
    compute: Callable
    scope: str = "symbol"
    features: list[FeatureDef] = field(default_factory=list)

    def declare(self, rows: Iterable[tuple]) -> Family:
        """Rows ``(name, lookback, inputs, description)``; inputs is a space-separated string."""
        for name, lookback, inputs, description in rows:
            ins = tuple(inputs.split())
            unknown = set(ins) - KNOWN_INPUTS
            if unknown:
                raise ValueError(f"feature {name}: unknown input(s) {sorted(unknown)}")
            self.features.append(FeatureDef(name, self.name, int(lookback), ins, description))
        return self


class Registry:
    def __init__(self, families: list[Family]):
        self.families: dict[str, Family] = {}
        self.features: dict[str, FeatureDef] = {}
        for fam in families:
            if fam.name in self.families:
                raise ValueError(f"family {fam.name!r} registered twice")
            self.families[fam.name] = fam
            for f in fam.features:
                if f.name in self.features:
                    other = self.features[f.name].family
                    raise ValueError(f"feature {f.name!r} is defined twice (families {other} and {fam.name})")
                self.features[f.name] = f

    def __len__(self) -> int:
        return len(self.features)

    def names(self, families: Iterable[str] | None = None) -> list[str]:
        fams = self.check_families(families)
        return [f.name for f in self.features.values() if f.family in fams]

    def check_families(self, families: Iterable[str] | None) -> list[str]:
        if families is None:
            return list(self.families)
        fams = [str(f).strip() for f in families if str(f).strip()]
        unknown = [f for f in fams if f not in self.families]
        if unknown:
            raise BadInput(f"unknown feature famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}",
                           hint=f"use {', '.join(self.families)}")
        if not fams:
            raise BadInput("no feature family chosen", hint=f"use {', '.join(self.families)}")
        return [f for f in self.families if f in fams]  # registry order

    def select(self, families: Iterable[str] | None, inputs: Iterable[str]) -> tuple[list[FeatureDef], dict[str, str]]:
        """Features of ``families`` whose inputs are all in ``inputs``; plus {skipped name: reason}."""
        fams = self.check_families(families)
        inputs = set(inputs)
        chosen, skipped = [], {}
        for f in self.features.values():
            if f.family not in fams:
                continue
            if f.available(inputs):
                chosen.append(f)
            else:
                skipped[f.name] = "needs " + ", ".join(sorted(set(f.inputs) - inputs))
        return chosen, skipped

    def fingerprint(self) -> str:
        """Hash of every declaration (name, family, lookback, inputs): part of the cache key."""
        h = hashlib.sha256(FEATURESET_VERSION.encode())
        for f in self.features.values():
            h.update(f"{f.name}|{f.family}|{f.lookback}|{' '.join(f.inputs)}\n".encode())
        return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def registry() -> Registry:
    fams = [importlib.import_module(f"engine.features.families.{m}").FAMILY for m in FAMILY_MODULES]
    return Registry(fams)
