"""Backtest benchmark (SPEC 14): a 100-point threshold sweep on 35,040 real 15m bars (a year of
BTCUSDT from the bundled sample) as ONE vectorised vectorbt run vs 100 separate runs.

1. vectorbt itself: one ``Portfolio.from_signals`` call with 100 signal columns against 100
   calls with one column each (the same signals, fees, slippage; the final values must agree).
2. KlineLab's whole sweep path (targets for 100 thresholds -> one simulation -> every metric
   of every grid point), the way ``backtest sweep`` runs it, for scale.

3. A single backtest on the same year with and without its evidence (sample sizes, the
   stationary-bootstrap CIs of Sharpe / total return / profit factor / win rate, warnings):
   what the bootstrap adds to one run (target: under 1 s).

Both sides are warmed up first (numba compilation is not timed).  The signal is a
direction-style probability built from the real series (a noisy peek at the 1h-ahead return).

    python benchmarks/bench_backtest.py [--points 100] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.backtest.market import load_market
from engine.backtest.metrics import simulation_metrics
from engine.backtest.params import BacktestParams
from engine.backtest.portfolio import simulate
from engine.backtest.signals import finalize_targets, to_signals
from engine.data.sources.sample import import_sample
from storage.workspace import Workspace

FEES, SLIPPAGE = 0.001, 0.0001


def probabilities(close: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fr = np.zeros(len(close))
    fr[:-4] = close[4:] / close[:-4] - 1
    z = fr / fr.std() + rng.normal(0, 1.5, len(close))
    logits = np.column_stack([-z, np.zeros(len(z)), z])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p[:, 2], p[:, 0]


def targets(up: np.ndarray, down: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    thr = thresholds[None, :]
    return ((up[:, None] >= thr) & (up > down)[:, None]).astype("float64") - ((down[:, None] >= thr) & (down > up)[:, None])


def best_of(repeat: int, fn):
    """(best wall seconds, best CPU seconds of this process, result): on a shared machine the
    CPU time is the steadier figure (numba runs single-threaded here)."""
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu), out


def main() -> None:
    import vectorbt as vbt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="klinelab-bench-") as tmp:
        ws = Workspace.open(Path(tmp) / "workspace")
        import_sample(ws)
        market = load_market(ws, ["BTCUSDT"], "15m", None, None, funding=False)
    n, k = len(market.index), args.points
    up, down = probabilities(market.close[:, 0])
    thresholds = np.linspace(0.35, 0.85, k)
    raw = targets(up, down, thresholds)
    le, lx, se, sx = to_signals(finalize_targets(raw, direction="both", hold_bars=None, execution="next_open"))
    idx = market.index.tz_localize(None)
    close = pd.Series(market.close[:, 0], index=idx)
    opn = market.open[:, 0]
    freq = pd.Timedelta(minutes=15)

    def vectorised() -> np.ndarray:
        pf = vbt.Portfolio.from_signals(pd.DataFrame(np.repeat(close.to_numpy()[:, None], k, axis=1), index=idx),
                                        le, lx, se, sx, price=np.repeat(opn[:, None], k, axis=1), fees=FEES,
                                        slippage=SLIPPAGE, init_cash=10_000.0, freq=freq)
        return np.asarray(pf.final_value())

    def single(j: int) -> float:
        return vbt.Portfolio.from_signals(close, le[:, j], lx[:, j], se[:, j], sx[:, j], price=opn, fees=FEES,
                                          slippage=SLIPPAGE, init_cash=10_000.0, freq=freq).final_value()

    def separate() -> np.ndarray:
        return np.array([single(j) for j in range(k)])

    params = BacktestParams(fees=FEES, slippage=SLIPPAGE, direction="both").validated()
    nan = np.full(k, np.nan)

    def klinelab_sweep() -> pd.DataFrame:
        sim = simulate(market, raw[:, :, None], params, sl_stop=nan, tp_stop=nan)
        return simulation_metrics(sim).iloc[:k]

    vectorised(), single(0), klinelab_sweep()  # numba warm-up of every side, not timed
    w_vec, c_vec, a = best_of(args.repeat, vectorised)
    w_sep, c_sep, b = best_of(args.repeat, separate)
    w_kl, c_kl, m = best_of(args.repeat, klinelab_sweep)
    assert np.allclose(a, b, rtol=1e-9), "one vectorised run must equal the separate runs"
    assert np.allclose(m["final_value"].to_numpy(), a, rtol=1e-9), "KlineLab's sweep must equal vectorbt's"
    print(f"backtest sweep: {k} thresholds x {n:,} bars (BTCUSDT 15m, fees 0.1 %, slippage 1 bp, long/short), "
          f"best of {args.repeat}")
    print(f"  {'':<50} {'wall s':>8} {'CPU s':>8}")
    print(f"  {f'one vectorised vectorbt run ({k} columns)':<50} {w_vec:8.3f} {c_vec:8.3f}")
    print(f"  {f'{k} separate vectorbt runs (reference)':<50} {w_sep:8.3f} {c_sep:8.3f}")
    print(f"  {'ratio (separate / vectorised)':<50} {w_sep / w_vec:7.1f}x {c_sep / c_vec:7.1f}x")
    print(f"  {'KlineLab sweep: targets + simulation + all metrics':<50} {w_kl:8.3f} {c_kl:8.3f}")
    best = int(np.argmax(a))
    print(f"  identical results on every side; best threshold {thresholds[best]:.3f} (final value {a[best]:,.0f} of 10,000)")

    bench_single_evidence(market, up, down, args.repeat)


def bench_single_evidence(market, up: np.ndarray, down: np.ndarray, repeat: int) -> None:
    """One long-only backtest (threshold 0.55) on the whole series: simulation + metrics + equity /
    trades frames, then the evidence on top (engine.backtest.evidence, as run_prepared adds it)."""
    from engine.backtest import evidence as ev
    from engine.backtest.metrics import equity_frame, trades_frame
    from engine.data.timeframes import bars_per_year

    params = BacktestParams(fees=FEES, slippage=SLIPPAGE, direction="long").validated()
    raw = targets(up, down, np.array([0.55]))[:, :, None]
    one = np.array([np.nan])

    def plain():
        sim = simulate(market, raw, params, sl_stop=one, tp_stop=one)
        metrics = simulation_metrics(sim).iloc[0].to_dict()
        return metrics, equity_frame(sim), trades_frame(sim)

    def evidence(metrics, equity, trades):
        sample = ev.sample_of(len(market.index), market.timeframe, trades)
        unc = ev.uncertainty_of(ev.per_bar_returns(equity["equity"].to_numpy(), params.init_cash),
                                bars_per_year(market.timeframe), ev.closed_pnl(trades))
        return ev.headline(metrics, unc, sample, trades), unc

    metrics, equity, trades = plain()
    evidence(metrics, equity, trades)  # warm-up (numba kernels, arch import)
    w_plain, c_plain, (metrics, equity, trades) = best_of(repeat, plain)
    w_ev, c_ev, (_, unc) = best_of(repeat, lambda: evidence(metrics, equity, trades))
    n_closed = int((trades["status"] == "closed").sum())
    print(f"single backtest: {len(market.index):,} bars, {n_closed:,} closed trades, best of {repeat}")
    print(f"  {'':<50} {'wall s':>8} {'CPU s':>8}")
    print(f"  {'without evidence (simulation, metrics, frames)':<50} {w_plain:8.3f} {c_plain:8.3f}")
    print(f"  {'with evidence (+ sample, 2 bootstraps x 1,000)':<50} {w_plain + w_ev:8.3f} {c_plain + c_ev:8.3f}")
    print(f"  {'added by the evidence (target < 1 s)':<50} {w_ev:8.3f} {c_ev:8.3f}")
    print(f"  Sharpe 95% CI {unc['sharpe']}, block length {unc['method']['returns']['block_length']} bars")


if __name__ == "__main__":
    main()
