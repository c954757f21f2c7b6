"""The sweep's grid simulation, specialised: every cell of a sweep (threshold x stop-loss x take-profit)
simulated with vectorbt's own order logic, reduced to what a sweep reads (per-bar equity and per-cell
sums) without building order or trade records.

Why not ``Portfolio.from_signals`` (what single backtests and the held-out confirmation use): the bench's
1,000-cell grid (benchmarks/bench_sweep.py, 24,528 selection bars, fees + slippage, stops, long/short) makes
13.7 million orders and 8.9 million exit trades.  Measured on the 2-core development machine (CPU time, load
~5): vectorbt 1.2's ``simulate_from_signals_nb`` takes 10.3 s, its Rust engine (vectorbt-rust 1.2.0) 13.2 s,
the exit-trade records 1.0-1.7 s more, and value / assets / cash matrices plus the per-record metrics another
~10 s: the whole sweep 26-32 s of CPU against a target of 10 s of wall time.  Most of that is writing and
re-reading ~1.4 GB of records that a sweep only sums.

So this kernel is vectorbt's ``simulate_from_signals_nb`` loop for the case the sweep uses (long/short
signal arrays, no cash sharing, one column at a time) calling vectorbt's OWN numba functions for every decision
and every fill (``get_stop_price_nb``, ``generate_stop_signal_nb``, ``resolve_stop_price_and_slippage_nb``, the
three conflict resolvers, ``signals_to_size_nb``, ``order_nb``, ``execute_order_nb``, ``should_update_stop_nb``),
and it feeds each fill straight into a port of ``get_exit_trades_nb`` (same state machine, vectorbt's
``get_trade_stats_nb`` for P&L) instead of storing it.  Written by hand because vectorbt has no reduced
(record-free) mode.  ``tests/backtest/test_sweep_grid.py`` checks it cell for cell against
``Portfolio.from_signals`` + ``engine.backtest.metrics.simulation_metrics`` on the bundled sample (long,
short, both; fees + slippage; stops, trailing stop; funding, borrow; several symbols; every sizing).

Serial on purpose (one core: ~1.5 s of CPU for the bench's grid): numba's parallel layer here is GNU OpenMP,
which is not fork-safe, and the app and the executors fork worker processes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit
from vectorbt.portfolio.enums import Direction, OrderSide, OrderStatus, ProcessOrderState, StopEntryPrice, TradeDirection
from vectorbt.portfolio.nb import (
    execute_order_nb,
    generate_stop_signal_nb,
    get_stop_price_nb,
    get_trade_stats_nb,
    order_nb,
    resolve_dir_conflict_nb,
    resolve_opposite_entry_nb,
    resolve_signal_conflict_nb,
    resolve_stop_price_and_slippage_nb,
    should_update_stop_nb,
    signals_to_size_nb,
)
from vectorbt.returns.nb import (
    annualized_return_1d_nb,
    calmar_ratio_1d_nb,
    cum_returns_1d_nb,
    cum_returns_final_1d_nb,
    max_drawdown_1d_nb,
    returns_1d_nb,
    sharpe_ratio_1d_nb,
    sortino_ratio_1d_nb,
)
from vectorbt.utils.math_ import is_close_nb, is_close_or_less_nb, is_less_nb

# the per-column sums the kernel returns (columns of ``stats``)
TRADES, CLOSED, WINS_N, WINS, LOSSES, RET_SUM, FEES, SLIP, EXPOSED, FUNDING, BORROW = range(11)
N_STATS = 11


@njit(cache=True, inline="always")
def _close_trade(stats, col, size, entry_price, entry_fees, exit_price, exit_fees, direction, flows):
    """One closed exit-trade record, as ``get_exit_trades_nb`` + ``metrics._trade_stats`` count it."""
    pnl, _ = get_trade_stats_nb(size, entry_price, entry_fees, exit_price, exit_fees, direction)
    pnl_all = pnl + flows
    entry_val = size * entry_price
    stats[col, TRADES] += 1
    stats[col, CLOSED] += 1
    if pnl_all > 0:
        stats[col, WINS_N] += 1
        stats[col, WINS] += pnl_all
    elif pnl_all < 0:
        stats[col, LOSSES] += pnl_all
    stats[col, RET_SUM] += pnl_all / entry_val if entry_val != 0 else np.nan


# settings of the kernel, packed in two arrays (see simulate_grid)
F_SIZE, F_FEES, F_FIXED_FEES, F_SLIPPAGE, F_MIN_SIZE, F_MAX_SIZE, F_GRANULARITY, F_INIT_CASH = range(8)
(I_SIZE_TYPE, I_ACCUMULATE, I_LONG_CONFLICT, I_SHORT_CONFLICT, I_DIR_CONFLICT, I_OPPOSITE_ENTRY, I_STOP_ENTRY_PRICE,
 I_STOP_EXIT_PRICE, I_STOP_EXIT, I_STOP_UPDATE, I_LOCK_CASH, I_ALLOW_PARTIAL, I_SL_TRAIL, I_USE_STOPS, I_FFILL_VAL_PRICE,
 I_UPDATE_VALUE) = range(16)
# per-column stop state (simulate_from_signals_nb's sl_curr_price, sl_curr_stop, sl_curr_trail, tp_init_price,
# tp_curr_stop) and exit-trade state (get_exit_trades_nb's in_position, direction, entry size / gross / fees sums,
# plus the cumulative funding and borrow at the trade's entry bar: its flows are those of (entry, exit])
SL_PRICE, SL_STOP, SL_TRAIL, TP_PRICE, TP_STOP = range(5)
T_OPEN, T_DIR, T_SIZE, T_GROSS, T_FEES, T_CF, T_CB = range(7)


@njit(cache=True, inline="always")
def _stop_price(st, position, o, h, lo, c):
    """The stop price hit on this bar (NaN if none), and the trailing stop moved (simulate_from_signals_nb)."""
    stop_price = np.nan
    if np.isnan(o):
        o = c
    if np.isnan(lo):
        lo = min(o, c)
    if np.isnan(h):
        h = max(o, c)
    if not np.isnan(st[SL_STOP]):
        stop_price = get_stop_price_nb(position, st[SL_PRICE], st[SL_STOP], o, lo, h, True)
    if np.isnan(stop_price) and not np.isnan(st[TP_STOP]):
        stop_price = get_stop_price_nb(position, st[TP_PRICE], st[TP_STOP], o, lo, h, False)
    if not np.isnan(st[SL_STOP]) and st[SL_TRAIL] != 0:  # trailing stop (vectorbt's comparisons)
        if position > 0 and h > st[SL_PRICE]:
            st[SL_PRICE] = h
        elif position < 0 and lo < st[SL_PRICE]:
            st[SL_PRICE] = lo
    return stop_price


@njit(cache=True, inline="always")
def _signals(le, lx, se, sx, position, icfg):
    """Resolve the four signals of a bar as simulate_from_signals_nb does (conflicts, opposite entry)."""
    accumulate = icfg[I_ACCUMULATE]
    if le or se:
        le, lx = resolve_signal_conflict_nb(position, le, lx, Direction.LongOnly, icfg[I_LONG_CONFLICT])
        se, sx = resolve_signal_conflict_nb(position, se, sx, Direction.ShortOnly, icfg[I_SHORT_CONFLICT])
        le, se = resolve_dir_conflict_nb(position, le, se, icfg[I_DIR_CONFLICT])
        le, lx, se, sx, accumulate = resolve_opposite_entry_nb(position, le, lx, se, sx, icfg[I_OPPOSITE_ENTRY],
                                                               accumulate)
    return le, lx, se, sx, accumulate


@njit(cache=True, inline="always")
def _book_fill(ts, stats, col, side, o_size, o_price, o_fees, cf, cb, slippage):
    """One filled order: its fees and slippage (``slippage``: what vectorbt applied to THIS fill, 0 for a stop
    exit under vectorbt's default stop_exit_price "stoplimit"; metrics._slippage_per_column counts the same
    fills), then get_exit_trades_nb's state machine, one order at a time."""
    stats[col, FEES] += o_fees
    factor = 1 + slippage if side == OrderSide.Buy else 1 - slippage
    stats[col, SLIP] += abs(o_size) * abs(o_price - o_price / factor)
    if ts[T_OPEN] == 0:
        ts[T_OPEN] = 1
        ts[T_DIR] = TradeDirection.Long if side == OrderSide.Buy else TradeDirection.Short
        ts[T_SIZE] = 0.0
        ts[T_GROSS] = 0.0
        ts[T_FEES] = 0.0
        ts[T_CF] = cf
        ts[T_CB] = cb
    if (ts[T_DIR] == TradeDirection.Long and side == OrderSide.Buy) or (
            ts[T_DIR] == TradeDirection.Short and side == OrderSide.Sell):
        ts[T_SIZE] += o_size
        ts[T_GROSS] += o_size * o_price
        ts[T_FEES] += o_fees
        return
    e_size = ts[T_SIZE]
    flows = (cf - ts[T_CF]) + (cb - ts[T_CB])
    direction = int(ts[T_DIR])
    if is_close_or_less_nb(o_size, e_size):
        exit_size = e_size if is_close_nb(o_size, e_size) else o_size
        _close_trade(stats, col, exit_size, ts[T_GROSS] / e_size, exit_size / e_size * ts[T_FEES], o_price, o_fees,
                     direction, flows)
        if is_close_nb(o_size, e_size):
            ts[T_OPEN] = 0
            ts[T_DIR] = -1
        else:
            frac = (e_size - o_size) / e_size
            ts[T_SIZE] *= frac
            ts[T_GROSS] *= frac
            ts[T_FEES] *= frac
    else:  # reversed: close the trade, open the opposite one with the rest of the order
        cl_fees = e_size / o_size * o_fees
        _close_trade(stats, col, e_size, ts[T_GROSS] / e_size, e_size / e_size * ts[T_FEES], o_price, cl_fees,
                     direction, flows)
        ts[T_SIZE] = o_size - e_size
        ts[T_GROSS] = ts[T_SIZE] * o_price
        ts[T_FEES] = o_fees - cl_fees
        ts[T_CF] = cf
        ts[T_CB] = cb
        ts[T_DIR] = TradeDirection.Short if direction == TradeDirection.Long else TradeDirection.Long


@njit(cache=True, inline="always")
def _set_stops(st, position, prev_position, new_init_price, sl_stop, tp_stop, icfg):
    """Stops after a fill (simulate_from_signals_nb): cleared when flat, set on an opened / reversed
    position, overridden on an increased one."""
    if position == 0:
        st[SL_PRICE] = st[SL_STOP] = st[TP_PRICE] = st[TP_STOP] = np.nan
        st[SL_TRAIL] = 0
    elif prev_position == 0 or np.sign(position) != np.sign(prev_position):
        st[SL_PRICE] = st[TP_PRICE] = new_init_price
        st[SL_STOP] = sl_stop
        st[SL_TRAIL] = icfg[I_SL_TRAIL]
        st[TP_STOP] = tp_stop
    elif abs(position) > abs(prev_position):
        if should_update_stop_nb(sl_stop, icfg[I_STOP_UPDATE]):
            st[SL_PRICE] = new_init_price
            st[SL_STOP] = sl_stop
            st[SL_TRAIL] = icfg[I_SL_TRAIL]
        if should_update_stop_nb(tp_stop, icfg[I_STOP_UPDATE]):
            st[TP_PRICE] = new_init_price
            st[TP_STOP] = tp_stop


@njit(cache=True, inline="always")
def _order(size, size_type, direction, price, slippage, fcfg, icfg):
    return order_nb(size=size, price=price, size_type=size_type, direction=direction, fees=fcfg[F_FEES],
                    fixed_fees=fcfg[F_FIXED_FEES], slippage=slippage, min_size=fcfg[F_MIN_SIZE],
                    max_size=fcfg[F_MAX_SIZE], size_granularity=fcfg[F_GRANULARITY], reject_prob=0.0,
                    lock_cash=icfg[I_LOCK_CASH] != 0, allow_partial=icfg[I_ALLOW_PARTIAL] != 0, raise_reject=False,
                    log=False)


@njit(cache=True, inline="always")
def _column(col, combo, sc, s, le, lx, se, sx, opn, high, low, close, price, funding, borrow_bar, sl_stop, tp_stop,
            fcfg, icfg, slip_stat, equity, borrow_cum, stats):
    """One column (one symbol's sleeve of one cell) over every bar: simulate_from_signals_nb's loop for one
    column without cash sharing, adding its value (+ funding) into ``equity[combo]``."""
    n = le.shape[0]
    use_stops = icfg[I_USE_STOPS] != 0
    cash = free_cash = fcfg[F_INIT_CASH]
    position = debt = cf = cb = 0.0
    last_val_price = np.nan
    st = np.full(5, np.nan)
    st[SL_TRAIL] = 0
    ts = np.zeros(7)
    ts[T_DIR] = -1
    for i in range(n):
        _price = price[i, s]
        if not np.isnan(_price) or icfg[I_FFILL_VAL_PRICE] == 0:  # val_price=inf: the order price
            last_val_price = _price
        if funding.shape[0] > 0:  # flows of the position held into this bar (as portfolio.simulate books them)
            cf += -position * opn[i, s] * funding[i, s]
        if borrow_bar[s] != 0:
            cb += min(position, 0.0) * opn[i, s] * borrow_bar[s]
        _slippage = fcfg[F_SLIPPAGE]
        stop_price = np.nan
        if use_stops and (not np.isnan(st[SL_STOP]) or not np.isnan(st[TP_STOP])):
            stop_price = _stop_price(st, position, opn[i, s], high[i, s], low[i, s], close[i, s])
        if use_stops and not np.isnan(stop_price):
            is_le, is_lx, is_se, is_sx, accumulate = generate_stop_signal_nb(position, icfg[I_STOP_EXIT],
                                                                             icfg[I_ACCUMULATE])
            _price, _slippage = resolve_stop_price_and_slippage_nb(stop_price, _price, close[i, s], _slippage,
                                                                   icfg[I_STOP_EXIT_PRICE])
        else:
            is_le, is_lx, is_se, is_sx, accumulate = _signals(le[i, sc], lx[i, sc], se[i, sc], sx[i, sc], position,
                                                              icfg)
        _size, _size_type, _direction = signals_to_size_nb(position, is_le, is_lx, is_se, is_sx, fcfg[F_SIZE],
                                                           icfg[I_SIZE_TYPE], accumulate, last_val_price)
        if _size != 0:
            if _direction == Direction.ShortOnly:
                _size *= -1  # as simulate_from_signals_nb does before process_order_nb
            value = cash + position * last_val_price if position != 0 else cash
            order = _order(_size, _size_type, _direction, _price, _slippage, fcfg, icfg)
            state = ProcessOrderState(cash=cash, position=position, debt=debt, free_cash=free_cash,
                                      val_price=last_val_price, value=value, oidx=0, lidx=0)
            new, res = execute_order_nb(state, order)
            prev_position = position
            cash, position, debt, free_cash = new.cash, new.position, new.debt, new.free_cash
            if res.status == OrderStatus.Filled:
                if icfg[I_UPDATE_VALUE] != 0:
                    last_val_price = res.price
                _book_fill(ts, stats, col, res.side, res.size, res.price, res.fees, cf, cb, _slippage)
                if use_stops:
                    sep = icfg[I_STOP_ENTRY_PRICE]
                    init_price = (last_val_price if sep == StopEntryPrice.ValPrice else order.price
                                  if sep == StopEntryPrice.Price else res.price if sep == StopEntryPrice.FillPrice
                                  else close[i, s])
                    _set_stops(st, position, prev_position, init_price, sl_stop, tp_stop, icfg)
        if position != 0:
            stats[col, EXPOSED] += 1
        equity[combo, i] += cash + position * close[i, s] + cf
        if borrow_cum.shape[1] > 0:
            borrow_cum[combo, i] += cb
    if ts[T_OPEN] != 0 and is_less_nb(-ts[T_SIZE], 0):
        stats[col, TRADES] += 1  # still open at the end: a trade, not a closed one
    stats[col, FUNDING] = cf
    stats[col, BORROW] = cb


@njit(cache=True)
def grid_nb(le, lx, se, sx, sig_col, sym_col, n_sym, opn, high, low, close, price, funding, borrow_bar, sl_stop,
            tp_stop, fcfg, icfg, slip_stat):
    """Simulate combos x symbols columns (combo-major; column ``c`` reads signal column ``sig_col[c]`` and
    symbol ``sym_col[c]``) over the bars.  Returns (equity (combos, n): the sum of the combo's sleeve values
    plus the cumulative funding cash, borrow (combos, n or 0): the cumulative borrow cash, stats (columns,
    N_STATS))."""
    n, n_cols = le.shape[0], sig_col.shape[0]
    n_combos = n_cols // n_sym
    equity = np.zeros((n_combos, n))
    borrow_cum = np.zeros((n_combos, n if np.any(borrow_bar != 0) else 0))
    stats = np.zeros((n_cols, N_STATS))
    for col in range(n_cols):
        _column(col, col // n_sym, sig_col[col], sym_col[col], le, lx, se, sx, opn, high, low, close, price, funding,
                borrow_bar, sl_stop[col], tp_stop[col], fcfg, icfg, slip_stat, equity, borrow_cum, stats)
    return equity, borrow_cum, stats


@dataclass
class GridRun:
    equity_t: np.ndarray  # (combos, bars) value + cumulative funding (sweep.equity_matrix)
    borrow_t: np.ndarray  # (combos, bars) cumulative borrow cash (no columns when none is charged)
    stats: np.ndarray  # (columns, N_STATS)
    n_symbols: int
    returns_t: np.ndarray | None = None  # (combos, bars) per-bar returns, filled by grid_metrics

    @property
    def equity(self) -> np.ndarray:
        """(bars, combos), a view."""
        return self.equity_t.T


@njit(cache=True)
def _max_drawdown_duration_1d_nb(cum: np.ndarray) -> float:
    """Longest drawdown of a cumulative-return series in bars (0 without one): the maximum of
    ``Drawdowns.duration`` over vectorbt's drawdown records (``get_drawdowns_nb`` + ``range_duration_nb``: a
    recovered drawdown lasts recovery - peak - 1 bars, the active one last bar - peak), without materialising
    the records (several million in a 1,000-cell sweep)."""
    n = cum.shape[0]
    out = 0.0
    last_i = n - 1
    while last_i >= 0 and np.isnan(cum[last_i]):
        last_i -= 1
    started = False
    peak_idx = -1
    peak_val = np.nan
    for i in range(n):
        cur = cum[i]
        if np.isnan(cur):
            continue
        store = False
        active = False
        if np.isnan(peak_val) or cur >= peak_val:
            if not started:
                peak_val = cur
                peak_idx = i
            else:
                started = False
                store = True
        elif not started:
            started = True
        if i == last_i and started:
            started = False
            store = True
            active = True
        if store:
            out = max(out, i - (peak_idx + 1) + (1 if active else 0))
            peak_idx = i
            peak_val = cur
    return out


@njit(cache=True)
def returns_metrics_nb(equity_t, borrow_t, init_value, ann_factor, risk_free, ddof, required_return):
    """Per combo (row of ``equity_t`` (combos, bars): value + funding; ``borrow_t``: the cumulative borrow
    cash, or no columns): the figures ``metrics.returns_metrics`` takes from vectorbt's ReturnsAccessor on
    the equity incl. funding and borrow, by the same vectorbt 1-D functions its 2-D versions loop over (so
    the same numbers), one column at a time while it is in cache; and the per-bar returns the sweep's DSR
    and PBO use (``sweep.bar_returns`` of ``sweep.equity_matrix``: value + funding + borrow, from
    ``init_value``)."""
    k, n = equity_t.shape
    out = np.empty((k, 7))
    bar_ret = np.empty((k, n))
    for c in range(k):
        eq = equity_t[c]
        r = returns_1d_nb(eq + borrow_t[c] if borrow_t.shape[1] > 0 else eq, init_value)
        out[c, 0] = cum_returns_final_1d_nb(r, 0.0)
        out[c, 1] = annualized_return_1d_nb(r, ann_factor)
        out[c, 2] = sharpe_ratio_1d_nb(r, ann_factor, risk_free, ddof)
        out[c, 3] = sortino_ratio_1d_nb(r, ann_factor, required_return)
        out[c, 4] = calmar_ratio_1d_nb(r, ann_factor)
        out[c, 5] = max_drawdown_1d_nb(r)
        out[c, 6] = _max_drawdown_duration_1d_nb(cum_returns_1d_nb(r, 1.0))
        prev = init_value
        for i in range(n):  # net of funding AND borrow, as the metrics (sweepfix: the borrow was left out)
            cur = eq[i] + borrow_t[c, i] if borrow_t.shape[1] > 0 else eq[i]
            bar_ret[c, i] = cur / prev - 1
            prev = cur
    return out, bar_ret


def _settings() -> dict | None:
    """vectorbt's portfolio defaults that ``engine.backtest.portfolio.simulate`` leaves to vectorbt, resolved
    as ``Portfolio.from_signals`` resolves them; None where the kernel does not implement a setting (the
    caller then runs the vectorbt path)."""
    from vectorbt._settings import settings
    from vectorbt.portfolio.enums import (
        AccumulationMode,
        ConflictMode,
        DirectionConflictMode,
        OppositeEntryMode,
        StopEntryPrice,
        StopExitMode,
        StopExitPrice,
        StopUpdateMode,
    )
    from vectorbt.utils.enum_ import map_enum_fields

    c = settings["portfolio"]
    if (not np.isinf(c["val_price"]) or c["val_price"] < 0 or np.any(c["reject_prob"]) or c["raise_reject"]
            or c["cash_sharing"] or np.ndim(c["fixed_fees"]) or np.ndim(c["min_size"])):
        return None
    return {"fixed_fees": float(c["fixed_fees"]), "min_size": float(c["min_size"]), "max_size": float(c["max_size"]),
            "size_granularity": float(c["size_granularity"]), "lock_cash": bool(c["lock_cash"]),
            "allow_partial": bool(c["allow_partial"]),
            "accumulate": int(map_enum_fields(c["accumulate"], AccumulationMode, ignore_type=(int, bool))),
            "upon_long_conflict": int(map_enum_fields(c["upon_long_conflict"], ConflictMode)),
            "upon_short_conflict": int(map_enum_fields(c["upon_short_conflict"], ConflictMode)),
            "upon_dir_conflict": int(map_enum_fields(c["upon_dir_conflict"], DirectionConflictMode)),
            "upon_opposite_entry": int(map_enum_fields(c["upon_opposite_entry"], OppositeEntryMode)),
            "stop_entry_price": int(map_enum_fields("fillprice", StopEntryPrice)),  # what simulate() passes
            "stop_exit_price": int(map_enum_fields(c["stop_exit_price"], StopExitPrice)),
            "upon_stop_exit": int(map_enum_fields(c["upon_stop_exit"], StopExitMode)),
            "upon_stop_update": int(map_enum_fields(c["upon_stop_update"], StopUpdateMode)),
            "ffill_val_price": bool(c["ffill_val_price"]), "update_value": bool(c["update_value"])}


def simulate_grid(market, targets: np.ndarray, combo_target: np.ndarray, params, *, sl_stop: np.ndarray,
                  tp_stop: np.ndarray) -> GridRun | None:
    """The grid of ``engine.backtest.portfolio.simulate`` without records: ``targets`` (bars, signal sets,
    symbols) raw target positions, ``combo_target`` (combos,) which signal set each combo trades (the
    100 stop / take-profit cells of one threshold share theirs), ``sl_stop`` / ``tp_stop`` (combos,).
    None when the inputs need the general vectorbt path (missing prices, a vectorbt setting the kernel
    does not implement)."""
    from vectorbt.portfolio.enums import SizeType
    from vectorbt.utils.enum_ import map_enum_fields

    from engine.backtest.signals import finalize_targets, to_signals
    from engine.costs import market_of
    from engine.data.timeframes import bars_per_year

    cfg = _settings()
    prices = (market.open, market.high, market.low, market.close)
    if cfg is None or not all(np.isfinite(a).all() for a in prices):
        return None
    if params.direction is None:  # as simulate(): the cost model's default for these symbols
        params = replace(params)
        params.resolve_direction(market.symbols)
    n, m, s = targets.shape
    k = len(combo_target)
    final = finalize_targets(targets.reshape(n, m * s), direction=params.direction, hold_bars=params.hold_bars,
                             execution=params.execution)
    le, lx, se, sx = (np.ascontiguousarray(a) for a in to_signals(final))
    sig_col = (np.repeat(np.asarray(combo_target, dtype=np.int64), s) * s + np.tile(np.arange(s), k)).astype(np.int64)
    sym_col = np.tile(np.arange(s, dtype=np.int64), k)
    size, size_type = {"all": (np.inf, "amount"), "percent": (params.size, "percent"), "value": (params.size, "value"),
                       "amount": (params.size, "amount")}[params.sizing]
    sl = np.repeat(np.asarray(sl_stop, dtype="float64"), s)
    tp = np.repeat(np.asarray(tp_stop, dtype="float64"), s)
    use_stops = bool(np.isfinite(sl).any() or np.isfinite(tp).any())
    spot = np.array([market_of(x) == "spot" for x in market.symbols])
    charge_borrow = params.direction in ("short", "both") and spot.any() and (params.borrow_rate or 0) > 0
    borrow_bar = (float(params.borrow_rate) / bars_per_year(market.timeframe) * spot if charge_borrow
                  else np.zeros(s))
    funding = (np.ascontiguousarray(market.funding, dtype="float64") if params.funding and market.has_funding
               else np.zeros((0, s)))
    fcfg = np.array([size, params.fee_for(market.symbols), cfg["fixed_fees"], params.slippage, cfg["min_size"],
                     cfg["max_size"], cfg["size_granularity"], float(params.init_cash) / s], dtype="float64")
    icfg = np.array([map_enum_fields(size_type, SizeType), cfg["accumulate"], cfg["upon_long_conflict"],
                     cfg["upon_short_conflict"], cfg["upon_dir_conflict"], cfg["upon_opposite_entry"],
                     cfg["stop_entry_price"], cfg["stop_exit_price"], cfg["upon_stop_exit"], cfg["upon_stop_update"],
                     cfg["lock_cash"], cfg["allow_partial"], bool(params.sl_trail), use_stops, cfg["ffill_val_price"],
                     cfg["update_value"]], dtype=np.int64)
    c = np.ascontiguousarray
    equity, borrow_cum, stats = grid_nb(
        le, lx, se, sx, sig_col, sym_col, s, c(market.open, dtype="float64"), c(market.high, dtype="float64"),
        c(market.low, dtype="float64"), c(market.close, dtype="float64"),
        c(market.open if params.execution == "next_open" else market.close, dtype="float64"), funding,
        np.asarray(borrow_bar, dtype="float64"), sl, tp, fcfg, icfg, float(params.slippage))
    return GridRun(equity_t=equity, borrow_t=borrow_cum, stats=stats, n_symbols=s)


def grid_metrics(run: GridRun, market, init_cash: float):
    """One row per combo, the columns of ``engine.backtest.metrics.METRICS``, as ``simulation_metrics`` computes
    them from a vectorbt portfolio: the return / risk ratios with vectorbt's own return functions (the ones its
    ReturnsAccessor calls) on the equity matrix, the trade statistics from the kernel's sums.  Also fills
    ``run.returns_t`` (the per-bar returns of ``sweep.bar_returns``, for the DSR and PBO)."""
    import pandas as pd
    from vectorbt._settings import settings

    from engine.backtest.metrics import METRICS
    from engine.data.timeframes import bars_per_year, tf_seconds

    n, k = run.equity_t.shape[1], run.equity_t.shape[0]
    d = settings["returns"]["defaults"]
    rm, run.returns_t = returns_metrics_nb(run.equity_t, run.borrow_t, float(init_cash), float(bars_per_year(market.timeframe)),
                                           float(d["risk_free"]), int(d["ddof"]), float(d["required_return"]))
    out = pd.DataFrame(rm[:, :6], columns=["total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown"])
    out["max_drawdown_duration_bars"] = rm[:, 6]
    out["max_drawdown_duration_days"] = out["max_drawdown_duration_bars"] * tf_seconds(market.timeframe) / 86400
    g = run.stats.reshape(k, run.n_symbols, N_STATS).sum(axis=1)
    closed, losses = g[:, CLOSED], g[:, LOSSES]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["win_rate"] = g[:, WINS_N] / closed
        out["profit_factor"] = np.where((closed > 0) & (losses < 0), g[:, WINS] / np.abs(losses), np.nan)
        out["expectancy"] = (g[:, WINS] + losses) / closed
        out["avg_trade_return"] = g[:, RET_SUM] / closed
    out["trades"] = g[:, TRADES].astype(int)
    out["closed_trades"] = closed.astype(int)
    out["open_trades"] = out["trades"] - out["closed_trades"]
    out["exposure"] = (run.stats[:, EXPOSED] / n).reshape(k, run.n_symbols).mean(axis=1)
    out["fees_paid"] = g[:, FEES]
    out["slippage_paid"] = g[:, SLIP]
    out["funding_paid"] = -g[:, FUNDING]
    out["borrow_paid"] = -g[:, BORROW]
    out["final_value"] = run.equity_t[:, -1] + (run.borrow_t[:, -1] if run.borrow_t.shape[1] else 0.0)
    close = market.close
    bench = init_cash / run.n_symbols * close / close[0]
    out["buy_and_hold_return"] = bench[-1].sum() / init_cash - 1
    out["excess_return"] = out["total_return"] - out["buy_and_hold_return"]
    return out[METRICS]
