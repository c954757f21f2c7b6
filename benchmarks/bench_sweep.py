"""Sweep benchmark (issue 12): a 1,000-cell sweep (10 thresholds x 10 stop-losses x 10 take-profits)
on 35,040 real 15m bars (a year of BTCUSDT from the bundled sample) WITH its selection-bias
corrections, side by side with vectorbt's plain 1,000-column run of the same grid.

1. vectorbt alone: one ``Portfolio.from_signals`` call with 1,000 columns (signals, stop-loss and
   take-profit per column) over all 35,040 bars, and the total return of every column.
2. KlineLab's whole ``backtest sweep`` path (``run_sweep``): targets, the grid simulated on the
   selection part (70 %) by engine/backtest/grid.py (vectorbt's order logic without records), every
   metric of every cell, the deflated Sharpe ratio of the chosen
   cell, the PBO (CSCV, 16 blocks = 12,870 combinations over the traded cells), the held-out
   re-run of the chosen cell with bootstrap CIs, and the artifact written.  Target: under 10 s.
3. The corrections alone (DSR, PBO) on the 24,528 x 1,000 per-bar return matrix, for scale.

Both sides are warmed up first (numba compilation is not timed).  Wall and CPU seconds (best of
``--repeat``); on a shared machine the CPU time is the steadier figure.

    python benchmarks/bench_sweep.py [--repeat 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_backtest import best_of, probabilities, targets  # the same noisy 1h-ahead peek and signals (script folder on sys.path)

from engine.backtest.market import load_market
from engine.backtest.params import BacktestParams
from engine.backtest.run import run_sweep
from engine.backtest.signals import finalize_targets, to_signals
from engine.backtest.sources import Source
from engine.data.sources.sample import import_sample
from engine.stats.selection import deflated_sharpe, pbo_cscv, per_period_sharpe
from storage.workspace import Workspace

FEES, SLIPPAGE = 0.001, 0.0001
THRESHOLDS = np.round(np.linspace(0.40, 0.85, 10), 4)
SL_STOPS = [None, *np.round(np.linspace(0.005, 0.05, 9), 4).tolist()]
TP_STOPS = [None, *np.round(np.linspace(0.005, 0.08, 9), 4).tolist()]


@dataclass
class BenchSource(Source):
    """The probabilities above as a signal source (a plain Source: no model artifact needed)."""

    up: pd.Series | None = None
    down: pd.Series | None = None

    def targets(self, ws, symbol, index, thresholds, costs):
        return targets(self.up.reindex(index).to_numpy(), self.down.reindex(index).to_numpy(), thresholds)


def main() -> None:
    import vectorbt as vbt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="klinelab-bench-")
    ws = Workspace.open(Path(tmp.name) / "workspace")
    import_sample(ws)
    market = load_market(ws, ["BTCUSDT"], "15m", None, None, funding=False)
    n = len(market.index)
    up, down = probabilities(market.close[:, 0])
    src = BenchSource(kind="bench", timeframe="15m", symbols=["BTCUSDT"], threshold_range=(0.0, 1.0),
                      default_threshold=0.5, up=pd.Series(up, index=market.index), down=pd.Series(down, index=market.index))
    grid = [(t, s, p) for t in range(len(THRESHOLDS)) for s in SL_STOPS for p in TP_STOPS]
    k = len(grid)

    # 1. vectorbt's plain 1,000-column run over the whole year
    raw = targets(up, down, THRESHOLDS)[:, [g[0] for g in grid]]
    le, lx, se, sx = to_signals(finalize_targets(raw, direction="both", hold_bars=None, execution="next_open"))
    idx = market.index.tz_localize(None)
    nan_if = np.array([[np.nan if v is None else v for v in (g[1] for g in grid)]])
    tp_if = np.array([[np.nan if v is None else v for v in (g[2] for g in grid)]])

    def plain() -> np.ndarray:
        c = np.repeat(market.close[:, :1], k, axis=1)
        pf = vbt.Portfolio.from_signals(pd.DataFrame(c, index=idx, copy=False), le, lx, se, sx,
                                        price=np.repeat(market.open[:, :1], k, axis=1),
                                        open=np.repeat(market.open[:, :1], k, axis=1),
                                        high=np.repeat(market.high[:, :1], k, axis=1),
                                        low=np.repeat(market.low[:, :1], k, axis=1), fees=FEES, slippage=SLIPPAGE,
                                        sl_stop=nan_if, tp_stop=tp_if, stop_entry_price="fillprice",
                                        init_cash=10_000.0, freq=pd.Timedelta(minutes=15))
        return np.asarray(pf.total_return())

    # 1b. the same 1,000 columns through KlineLab's grid kernel (engine/backtest/grid.py), no borrow cost
    # (vectorbt's plain run has none): the same total return in every column, and its time
    from engine.backtest.grid import grid_metrics, simulate_grid

    kp = BacktestParams(fees=FEES, slippage=SLIPPAGE, direction="both", borrow_rate=0.0).validated()

    def kernel() -> np.ndarray:
        run = simulate_grid(market, targets(up, down, THRESHOLDS)[:, :, None], np.array([g[0] for g in grid]), kp,
                            sl_stop=nan_if[0], tp_stop=tp_if[0])
        return grid_metrics(run, market, kp.init_cash)["total_return"].to_numpy()

    params = BacktestParams(fees=FEES, slippage=SLIPPAGE, direction="both")

    def klinelab() -> dict:
        return run_sweep(ws, src, params, thresholds=THRESHOLDS.tolist(), sl_stops=SL_STOPS, tp_stops=TP_STOPS,
                         metric="sharpe")

    plain(), kernel(), klinelab()  # numba warm-up of both sides, not timed
    w_v, c_v, tot = best_of(args.repeat, plain)
    w_g, c_g, tot_g = best_of(args.repeat, kernel)
    gap = float(np.max(np.abs(tot_g - tot)))
    assert gap < 1e-9, gap
    w_k, c_k, r = best_of(args.repeat, klinelab)

    # 3. the corrections alone, on the selection part's per-bar returns of the same grid
    from engine.backtest.run import prepare
    from engine.backtest.sweep import _simulate_cells, _slice_market

    sel = r["selection"]
    n_sel = sel["selection_period"]["bars"]
    prep = prepare(ws, src, params)
    _, ret, _ = _simulate_cells(_slice_market(prep.market, 0, n_sel), raw[:n_sel, :, None], np.arange(k), prep.params,
                                nan_if[0], tp_if[0])
    sr = per_period_sharpe(ret)
    w_d, c_d, _ = best_of(args.repeat, lambda: deflated_sharpe(ret[:, int(np.argmax(sr))], sr))
    w_p, c_p, pb = best_of(args.repeat, lambda: pbo_cscv(ret, 16))

    print(f"backtest sweep with selection-bias corrections: {k:,} cells ({len(THRESHOLDS)} thresholds x "
          f"{len(SL_STOPS)} stop-losses x {len(TP_STOPS)} take-profits) on {n:,} bars (BTCUSDT 15m, fees 0.1 %, "
          f"slippage 1 bp, long/short), best of {args.repeat}")
    print(f"  {'':<68} {'wall s':>8} {'CPU s':>8}")
    print(f"  {f'vectorbt alone: one {k:,}-column from_signals run, {n:,} bars':<68} {w_v:8.3f} {c_v:8.3f}")
    print(f"  {f'the same {k:,} columns in the grid kernel (max |total return gap| {gap:.1e})':<68} {w_g:8.3f} {c_g:8.3f}")
    print(f"  {'KlineLab backtest sweep (70 % selection + DSR + PBO + held-out run)':<68} {w_k:8.3f} {c_k:8.3f}")
    print(f"  {'ratio (KlineLab / vectorbt alone)':<68} {w_k / w_v:7.2f}x {c_k / c_v:7.2f}x")
    print(f"  {'  of which deflated Sharpe ratio':<68} {w_d:8.3f} {c_d:8.3f}")
    label = f"  of which PBO ({pb['combinations']:,} CSCV combinations x {k:,} cells)"
    print(f"  {label:<68} {w_p:8.3f} {c_p:8.3f}")
    print(f"  target: the whole KlineLab sweep under 10 s -> {'met' if w_k < 10 else 'NOT met'} "
          f"(wall {w_k:.2f} s)")
    c = sel["confirmation"] or {}
    b = r["best"] or {}

    def f3(x) -> str:
        return "-" if x is None else f"{x:.3f}"

    print(f"  result: {sel['n_cells_traded']} of {sel['n_cells']} cells traded, {sel['n_cells_ruined']} wiped out the "
          f"account; best {sel['best']} (Sharpe {f3(b.get('sharpe'))}, total return {f3(b.get('total_return'))}); DSR "
          f"{f3(sel['deflated_sharpe'])} (N {(sel['dsr'] or {}).get('n_trials')}); PBO {f3(sel['pbo'])} over "
          f"{(sel['pbo_detail'] or {}).get('n_configurations')} selectable cells (PBO over all {k:,} cells, ruined ones "
          f"included: {f3(pb['value'])}); held-out Sharpe {f3((c.get('metrics') or {}).get('sharpe'))}, total return "
          f"{f3((c.get('metrics') or {}).get('total_return'))} over {(c.get('sample') or {}).get('bars')} bars; "
          f"vectorbt-alone best total return {np.nanmax(tot):.3f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
