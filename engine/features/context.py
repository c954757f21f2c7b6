"""What a family computes on: one symbol's bars as float64 numpy arrays (:class:`Bars`) or
all symbols of a set on shared timestamps (:class:`Universe`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.data.timeframes import tf_seconds
from engine.features.kernels import log_ratio, shift

NS = 1_000_000_000


@dataclass
class Bars:
    symbol: str
    timeframe: str
    ts: np.ndarray  # int64 epoch ns, bar open (UTC)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    optional: dict[str, np.ndarray] = field(default_factory=dict)  # taker_buy_base, trades
    funding: pd.DataFrame | None = None  # settlements: timestamp (ns int64), funding_rate
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, symbol: str, timeframe: str, df: pd.DataFrame, funding: pd.DataFrame | None = None) -> Bars:
        from engine.data.canonical import ts_ns

        opt = {}
        for c in ("taker_buy_base", "trades"):
            if c in df.columns:
                a = df[c].to_numpy(dtype=np.float64)
                if len(a) and not np.isnan(a).any():
                    opt[c] = a
        return cls(symbol, timeframe, ts_ns(df["timestamp"]), *(df[c].to_numpy(dtype=np.float64) for c in
                                                                 ("open", "high", "low", "close", "volume")),
                   optional=opt, funding=funding)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def step_ns(self) -> int:
        return tf_seconds(self.timeframe) * NS

    def inputs(self) -> set[str]:
        ins = {"timestamp", "open", "high", "low", "close", "volume", *self.optional}
        if self.funding is not None and len(self.funding):
            ins.add("funding_rate")
        return ins

    def truncated(self, end_ns: int) -> Bars:
        """The bars with open time <= end_ns (what was known at that bar's close)."""
        k = int(np.searchsorted(self.ts, end_ns, side="right"))
        f = None if self.funding is None else self.funding[self.funding["timestamp"] <= end_ns]
        return Bars(self.symbol, self.timeframe, self.ts[:k], self.open[:k], self.high[:k], self.low[:k],
                    self.close[:k], self.volume[:k], {c: a[:k] for c, a in self.optional.items()}, f)

    def sliced(self, start: int, stop: int) -> Bars:
        f = None
        if self.funding is not None:
            f = self.funding[self.funding["timestamp"] <= self.ts[stop - 1]] if stop > start else self.funding.iloc[:0]
        return Bars(self.symbol, self.timeframe, self.ts[start:stop], self.open[start:stop], self.high[start:stop],
                    self.low[start:stop], self.close[start:stop], self.volume[start:stop],
                    {c: a[start:stop] for c, a in self.optional.items()}, f)

    # shared intermediates, computed once per symbol
    def cached(self, key: str, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def logret(self) -> np.ndarray:
        """log(close_t / close_{t-1}); NaN at the first bar."""
        return self.cached("logret", lambda: log_ratio(self.close, shift(self.close, 1)))


@dataclass
class Universe:
    """Several symbols on one regular time grid (step = the timeframe).  ``close`` is
    (n_grid, n_symbols) with NaN where a symbol has no bar; ``rows[s]`` maps symbol s's own
    rows to grid positions.  ``btc`` is the BTC reference column (selected or loaded)."""

    timeframe: str
    symbols: list[str]  # the symbols of the set
    grid: np.ndarray  # int64 ns
    close: np.ndarray  # (n_grid, n_all) where n_all = symbols (+ btc reference when not selected)
    columns: list[str]
    rows: dict[str, np.ndarray]
    btc: str | None
    sectors: dict[str, str]  # symbol -> sector name
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, bars: dict[str, Bars], timeframe: str, btc: str | None, reference: dict[str, Bars],
              sectors: dict[str, str]) -> Universe:
        allb = {**bars, **{k: v for k, v in reference.items() if k not in bars}}
        step = tf_seconds(timeframe) * NS
        t0 = min(int(b.ts[0]) for b in allb.values())
        t1 = max(int(b.ts[-1]) for b in allb.values())
        grid = np.arange(t0, t1 + step, step, dtype=np.int64)
        cols = list(allb)
        close = np.full((len(grid), len(cols)), np.nan)
        rows = {}
        for j, s in enumerate(cols):
            b = allb[s]
            pos = (b.ts - t0) // step
            if np.any((b.ts - t0) % step):
                raise ValueError(f"{s}: timestamps are not on the {timeframe} grid")
            close[pos, j] = b.close
            rows[s] = pos
        return cls(timeframe, list(bars), grid, close, cols, rows, btc, sectors)

    def col(self, symbol: str) -> int:
        return self.columns.index(symbol)

    def cached(self, key: str, fn):
        """Intermediates shared by every symbol (grid returns, ranks), computed once: the
        per-symbol build asks for one symbol at a time."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]
