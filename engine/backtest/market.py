"""Candles of the backtest period, aligned across symbols (bar x symbol matrices)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.backtest.sources import utc_index
from engine.data.store import load_candles, load_funding, series_id
from engine.data.timeframes import tf_seconds
from storage.workspace import Workspace


@dataclass
class Market:
    index: pd.DatetimeIndex
    symbols: list[str]
    timeframe: str
    open: np.ndarray  # (bars, symbols)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    funding: np.ndarray  # rate at funding bars, 0 elsewhere (0 everywhere for spot or without data)
    has_funding: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def series_ids(self) -> list[str]:
        return [series_id(s, self.timeframe) for s in self.symbols]

    def frame(self, j: int) -> pd.DataFrame:
        """Candles of symbol ``j`` (timestamp + OHLC) for charts."""
        return pd.DataFrame({"timestamp": self.index, "open": self.open[:, j], "high": self.high[:, j],
                             "low": self.low[:, j], "close": self.close[:, j]})


def load_market(ws: Workspace, symbols: list[str], timeframe: str, start, end, *, funding: bool) -> Market:
    """Bars of every symbol in [start, end]; only the bars all symbols have are kept (noted)."""
    frames = {}
    for s in symbols:
        # only the period's bars (row-group pruning on timestamp) and the four prices the backtest uses
        df = load_candles(ws, s, timeframe, start=start, end=end, columns=["open", "high", "low", "close"])
        if df.empty:
            raise BadInput(f"no {s} {timeframe} bars between {start} and {end}: the period is empty",
                           hint="pick a period inside the data (see `python -m engine data list`)")
        frames[s] = df.set_index(utc_index(df["timestamp"]))
    index = frames[symbols[0]].index
    for s in symbols[1:]:
        index = index.intersection(frames[s].index)
    notes = []
    if len(index) < 2:
        raise BadInput(f"the symbols {', '.join(symbols)} share fewer than 2 {timeframe} bars between {start} and {end}")
    for s in symbols:
        dropped = len(frames[s]) - len(index)
        if dropped:
            notes.append(f"{dropped} {s} bar(s) that other symbols lack were left out")

    def mat(col: str) -> np.ndarray:
        return np.column_stack([frames[s][col].reindex(index).to_numpy("float64") for s in symbols])

    rates = np.zeros((len(index), len(symbols)))
    step = tf_seconds(timeframe) * 1_000_000_000
    has = []
    if funding:
        for j, s in enumerate(symbols):
            f = load_funding(ws, s)
            if f is None:
                if s.endswith("-PERP"):
                    notes.append(f"no funding rates for {s} in the workspace: funding not charged")
                continue
            # each funding time is charged on the bar that holds it (the bar opening at it, normally)
            t = utc_index(f["timestamp"]).asi8
            rate = f["funding_rate"].to_numpy("float64")
            bar = np.searchsorted(index.asi8, t, side="right") - 1
            ok = (bar >= 0) & (t < index.asi8[-1] + step) & np.isfinite(rate)
            np.add.at(rates[:, j], bar[ok], rate[ok])
            has.append(s)
    close = mat("close")
    if not np.isfinite(close).all() or (close <= 0).any():
        raise BadInput("the candles of the period hold missing or non-positive close prices", hint="validate the data")
    return Market(index=index, symbols=list(symbols), timeframe=timeframe, open=mat("open"), high=mat("high"),
                  low=mat("low"), close=close, funding=rates, has_funding=has, notes=notes)
