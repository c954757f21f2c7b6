"""Which part of a Hub group an operation covers (:class:`Selection`), and a local file an
upload sends (:class:`LocalFile`).  Plain data: every sync module may import it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Selection:
    """Which part of a group an operation covers (empty = all)."""

    ids: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    timeframes: list[str] = field(default_factory=list)
    scalers: bool = True
    ticks_dir: Path | None = None

    def __post_init__(self) -> None:
        from engine.data.names import check_symbol
        from engine.data.timeframes import parse_timeframe
        from storage.workspace import check_id

        self.ids = [check_id(i) for i in self.ids]
        self.symbols = [check_symbol(s) for s in self.symbols]
        self.timeframes = [parse_timeframe(t) for t in self.timeframes]

    @property
    def empty(self) -> bool:
        return not (self.ids or self.symbols or self.timeframes)

    def wants(self, artifact_id: str | None, symbols: list[str], timeframe: str | None) -> bool:
        if self.ids and artifact_id not in self.ids:
            return False
        if self.symbols and not set(self.symbols) & set(symbols or []):
            return False
        return not (self.timeframes and timeframe not in self.timeframes)

    def to_dict(self) -> dict:
        return {"ids": self.ids, "symbols": self.symbols, "timeframes": self.timeframes, "scalers": self.scalers,
                "ticks_dir": str(self.ticks_dir) if self.ticks_dir else None}


@dataclass
class LocalFile:
    path: str  # path in the repo
    source: Path  # the file on disk
    size: int
    sha256: str
    artifact_id: str | None = None
    note: str = ""
