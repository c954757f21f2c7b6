"""The simulation: one vectorbt ``Portfolio.from_signals`` call over every column at once.

Columns are (combo, symbol) pairs, combo-major: a single backtest has one combo; a sweep
has one combo per grid point (threshold x stop-loss x take-profit).  Each symbol trades its
own sleeve of ``init_cash / n_symbols`` (no cash sharing); a combo's portfolio is the group
of its symbols (vectorbt ``group_by``), so its value is the sum of the sleeves.

Funding (perpetuals): vectorbt has no cash-flow input in ``from_signals``, so funding is
booked next to it, vectorised: at a funding time the position held into it (the position
at the previous bar's close) pays ``position x price x rate`` (longs pay a positive rate,
shorts receive it); the running total is added to the portfolio value.  Funding cash does
not change later order sizes (a second-order effect at ~0.01 % per 8 h).

Borrow (spot shorts): booked the same way, outside vectorbt: every bar a spot short is held
into (the position at the previous bar's close) pays ``|position| x open x borrow_rate /
bars_per_year`` (``borrow_rate`` annual, from ``engine.costs``).  Perpetuals pay funding instead.
Both flows are also attributed to the trade holding the position (``trades.parquet``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from config.settings import YEAR_DAYS
from engine.backtest.market import Market
from engine.backtest.params import BacktestParams
from engine.backtest.signals import finalize_targets, to_signals
from engine.costs import market_of
from engine.data.timeframes import bars_per_year, tf_timedelta

YEAR = pd.Timedelta(days=YEAR_DAYS)  # crypto trades 24/7: 35,040 15m bars or 8,760 1h bars a year


@dataclass
class Simulation:
    pf: object  # vectorbt Portfolio, columns (combo, symbol), grouped by combo
    market: Market
    n_combos: int
    init_cash: float
    slippage: float
    funding_flow: np.ndarray  # (bars, columns) cash received (+) / paid (-) as funding
    group_by: object
    borrow_flow: np.ndarray | None = None  # (bars, columns) cash paid (-) to borrow spot shorts
    execution: str = "next_open"  # the order price: the bar's open ("next_open") or close

    @property
    def cash_flow(self) -> np.ndarray:
        """(bars, columns) cash booked next to vectorbt: funding plus borrow."""
        return self.funding_flow if self.borrow_flow is None else self.funding_flow + self.borrow_flow

    @property
    def n_symbols(self) -> int:
        return len(self.market.symbols)

    @property
    def n_columns(self) -> int:
        return self.n_combos * self.n_symbols

    def grouped(self, per_column: np.ndarray) -> np.ndarray:
        """Sum (bars, columns) or (columns,) over the symbols of each combo."""
        a = np.asarray(per_column, dtype="float64")
        if a.ndim == 1:
            return a.reshape(self.n_combos, self.n_symbols).sum(axis=1)
        return a.reshape(a.shape[0], self.n_combos, self.n_symbols).sum(axis=2)


def _cache_simulation_kernel() -> None:
    """vectorbt compiles its from-signals kernel (~10 s) in every process without caching it:
    switch numba's on-disk cache on for it (a public numba API), so later processes (jobs, the
    CLI) load it in a fraction of a second."""
    from numba.core.caching import NullCache
    from vectorbt.portfolio import nb as pnb

    if isinstance(pnb.simulate_from_signals_nb._cache, NullCache):
        pnb.simulate_from_signals_nb.enable_caching()


def simulate(market: Market, targets: np.ndarray, params: BacktestParams, *, sl_stop: np.ndarray,
             tp_stop: np.ndarray) -> Simulation:
    """``targets``: (bars, combos, symbols) raw target positions (NaN = hold); ``sl_stop`` /
    ``tp_stop``: (combos,) fractions or NaN."""
    import vectorbt as vbt

    _cache_simulation_kernel()

    n, k, s = targets.shape
    if k * s == 1:
        # a single column would reach numba with other array layouts (C instead of F) than several
        # columns do, compiling the whole simulation a second time in the process (~10 s): simulate
        # a twin combo instead; callers read the combos they asked for (combo 0 here)
        targets, sl_stop, tp_stop, k = np.concatenate([targets, targets], axis=1), np.repeat(sl_stop, 2), np.repeat(tp_stop, 2), 2
    if params.direction is None:  # not resolved by prepare(): the cost model's default for these symbols
        params = replace(params)
        params.resolve_direction(market.symbols)
    final = finalize_targets(targets.reshape(n, k * s), direction=params.direction, hold_bars=params.hold_bars,
                             execution=params.execution)
    le, lx, se, sx = to_signals(final)
    columns = pd.MultiIndex.from_product([range(k), market.symbols], names=["combo", "symbol"])

    def tile(a: np.ndarray) -> np.ndarray:  # (bars, symbols) -> (bars, combos x symbols), C-ordered
        return np.tile(a, (1, k))

    # Inputs go in as C-ordered numpy arrays (no pandas copies, no re-layout inside vectorbt: a 100-point
    # sweep on a year of 15m bars moves ~30 MB per input); only close carries the index and columns,
    # and with a naive UTC index (a tz-aware one costs vectorbt seconds per call).
    close, opn = tile(market.close), tile(market.open)
    close_df = pd.DataFrame(close, index=market.index.tz_localize(None), columns=columns, copy=False)
    price = opn if params.execution == "next_open" else close
    fees = params.fee_for(market.symbols)
    sl = np.repeat(np.asarray(sl_stop, dtype="float64"), s)[None, :]
    tp = np.repeat(np.asarray(tp_stop, dtype="float64"), s)[None, :]
    use_stops = bool(np.isfinite(sl).any() or np.isfinite(tp).any())
    size, size_type = {"all": (np.inf, "amount"), "percent": (params.size, "percent"), "value": (params.size, "value"),
                       "amount": (params.size, "amount")}[params.sizing]
    group_by = columns.get_level_values("combo")  # also for one symbol: one compiled code path
    pf = vbt.Portfolio.from_signals(
        close_df, entries=le, exits=lx, short_entries=se, short_exits=sx,
        price=price, open=opn, high=tile(market.high), low=tile(market.low),
        size=size, size_type=size_type, fees=fees, slippage=params.slippage,
        sl_stop=sl, sl_trail=params.sl_trail, tp_stop=tp, use_stops=use_stops, stop_entry_price="fillprice",
        init_cash=params.init_cash / s, cash_sharing=False, group_by=group_by, freq=tf_timedelta(market.timeframe))
    flow = np.zeros((n, k * s))
    borrow = np.zeros((n, k * s))
    spot = np.array([market_of(x) == "spot" for x in market.symbols])
    charge_borrow = params.direction in ("short", "both") and spot.any() and (params.borrow_rate or 0) > 0
    if (params.funding and market.has_funding) or charge_borrow:
        assets = np.asarray(pf.assets(), dtype="float64")
        held = np.vstack([np.zeros((1, k * s)), assets[:-1]])  # position held into the bar's open
        if params.funding and market.has_funding:
            flow = -held * opn * tile(market.funding)
        if charge_borrow:
            per_bar = float(params.borrow_rate) / bars_per_year(market.timeframe)
            borrow = np.minimum(held, 0.0) * opn * per_bar * np.tile(spot, k)[None, :]
    return Simulation(pf=pf, market=market, n_combos=k, init_cash=params.init_cash, slippage=params.slippage,
                      funding_flow=flow, group_by=group_by, borrow_flow=borrow, execution=params.execution)
