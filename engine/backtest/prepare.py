"""The first step of every backtest and sweep: validate the parameters, resolve the symbols,
direction and period, refuse an in-sample period, load the candles (``prepare``), and turn the
source's signals into raw targets (``_targets``). Shared by ``run.py`` (single runs) and
``sweep.py`` (grids), so neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.backtest.market import Market, load_market
from engine.backtest.params import BacktestParams
from engine.backtest.sources import ModelSource, Source
from storage.workspace import Workspace


@dataclass
class Prepared:
    source: Source
    params: BacktestParams
    market: Market
    start: pd.Timestamp
    end: pd.Timestamp
    notes: list[str]


def prepare(ws: Workspace, source: Source, params: BacktestParams) -> Prepared:
    p = params.validated()
    symbols = p.symbols or list(source.symbols)
    if not symbols:
        raise BadInput("no symbols to backtest")
    if isinstance(source, ModelSource):
        unknown = [s for s in symbols if s not in source.symbols]
        if unknown:
            raise BadInput(f"model {source.source_id} has no predictions for {', '.join(unknown)}",
                           hint=f"it has {', '.join(source.symbols)}")
    if p.sizing == "value" and params.size is None:
        p.size = p.init_cash / len(symbols)  # a sleeve's worth per trade
    p.symbols = symbols
    p.resolve_direction(symbols)  # None -> the cost model's default (spot: long-only)
    source.thresholds([p.threshold])  # in range for this source
    d0, d1 = source.default_period()
    start = p.start if p.start is not None else d0
    end = p.end if p.end is not None else d1
    if start is not None and end is not None:
        if start > end:
            raise BadInput(f"the period is empty: start {start} is after end {end}")
        source.check_period(start, end)
    market = load_market(ws, symbols, source.timeframe, start, end, funding=p.funding)
    start, end = market.index[0], market.index[-1]
    source.check_period(start, end)  # the bars actually used
    if isinstance(source, ModelSource):
        inside = source.predictions[source.predictions["timestamp"].between(start, end)]
        missing = [s for s in symbols if not (inside["symbol"] == s).any()]
        if missing:
            raise BadInput(f"model {source.source_id} has no {', '.join(missing)} predictions between {start} and {end}",
                           hint="the period is empty for this model: use its test split (the default)")
    return Prepared(source, p, market, start, end, list(source.notes) + list(market.notes))


def _targets(prep: Prepared, thresholds: np.ndarray, ws: Workspace) -> np.ndarray:
    """(bars, thresholds, symbols) raw targets."""
    costs = prep.params.fee_for(prep.market.symbols) + prep.params.slippage
    return np.stack([prep.source.targets(ws, s, prep.market.index, thresholds, costs) for s in prep.market.symbols], axis=2)


def _stops(value: float | None) -> float:
    return np.nan if value is None else float(value)
