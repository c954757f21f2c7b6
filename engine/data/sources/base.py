"""The interface every data source implements (freqtrade's IDataHandler pattern)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from config.errors import BadInput
from engine.data.normalize import Normalized
from engine.data.validate import Report, drop_open_last_bar, validate


@dataclass
class Series:
    """One symbol x timeframe (or one funding series) read from a source, ready to store."""

    symbol: str
    timeframe: str | None
    kind: str  # candles | funding
    df: pd.DataFrame
    report: Report
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.timeframe or 'funding'}"


class DataSource(ABC):
    """A place candles come from.  ``read`` never writes to the workspace."""

    name: str = "source"

    @abstractmethod
    def read(self) -> list[Series]:
        ...


def finish(norm: Normalized, *, symbol: str | None, timeframe: str | None, label: str, source: dict[str, Any],
           now: float | None = None, exported: tuple[int, str] | None = None, last_close_ns: int | None = None) -> Series:
    """Validate a normalised table and wrap it; raises BadInput when validation finds errors."""
    if not symbol:
        raise BadInput(f"{label}: cannot tell the symbol from the name", hint="pass --symbol, e.g. --symbol BTCUSDT")
    funding = norm.kind == "funding"
    rep = validate(norm.df, label, None if funding else timeframe, now=now, funding=funding, exported=exported,
                   last_close_ns=last_close_ns)
    if not rep.ok:
        raise BadInput(rep.error_text())
    df = norm.df
    notes = list(norm.notes)
    if not funding and rep.timeframe:
        before = len(df)
        df = drop_open_last_bar(df, rep.timeframe, now)
        if len(df) < before:
            notes.append("last bar still open at import time: dropped")
        if len(df) == 0:
            raise BadInput(f"{label}: no closed bars")
    return Series(symbol=symbol, timeframe=None if funding else rep.timeframe, kind=norm.kind, df=df.reset_index(drop=True),
                  report=rep, notes=notes, source=source)


# -- option values shared by the sources' ``run_import`` (the CLI and the page pass them as text) ---------
def parse_mapping(text: str | None) -> dict[str, str] | None:
    """'timestamp=ts,volume=vol' -> {'timestamp': 'ts', 'volume': 'vol'}."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise BadInput(f"bad column mapping {part!r}", hint="use CANONICAL=SOURCE pairs, e.g. timestamp=ts,volume=vol")
        k, v = (x.strip() for x in part.split("=", 1))
        if not k or not v:
            raise BadInput(f"bad column mapping {part!r}")
        out[k] = v
    return out


