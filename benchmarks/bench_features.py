"""Feature build benchmark (SPEC 14): the full set (>= 150 features + 24 targets) for 10 symbols
x 35,040 15m bars, ours vs a seed-style pandas + `ta` + rolling-apply implementation of the
same families (benchmarks/reference_features.py), side by side.

    python benchmarks/bench_features.py [--data DIR] [--ref-rows 4000] [--ref-symbols 1] [--repeat 3]

Ours (in memory, warm: numba kernels compiled once before timing): features of every family
+ 24 targets + ZigZag for all 10 symbols; the best of --repeat runs.  Also timed: the whole
`features build` pipeline (load, compute, leakage audit, Parquet + sha256, manifest).

The reference needs about a second per 100 bars per symbol (Python functions in
rolling().apply), i.e. roughly an hour for the full set, so by default it is timed on the
last --ref-rows bars of --ref-symbols symbol(s) and scaled linearly to 10 x 35,040 bars
(every part of it is linear in rows and in symbols: rolling windows of fixed size); its
cross-asset family is timed on all 10 symbols over the same rows and scaled by rows only.
--ref-rows 35040 --ref-symbols 10 times the whole reference (no scaling).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
COINS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT"]


def load(data: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for s in COINS:
        df = pd.read_parquet(data / f"{s}_15m.parquet")
        out[s] = df[["timestamp", "open", "high", "low", "close", "volume"]].reset_index(drop=True)
    return out


def ours(frames: dict[str, pd.DataFrame], repeat: int) -> tuple[float, float, int]:
    from engine.features.config import load_config
    from engine.features.context import Bars
    from engine.features.pipeline import compute_features
    from engine.features.registry import registry
    from engine.features.targets import compute_targets
    from engine.features.zigzag import zigzag_pivots

    cfg = load_config()
    feats = [f for f in registry().features.values() if f.available({"timestamp", "open", "high", "low", "close", "volume",
                                                                          "btc", "universe"})]

    def run():
        bars = {s: Bars.from_frame(s, "15m", df) for s, df in frames.items()}
        f = compute_features(bars, {}, "15m", feats, cfg)
        for b in bars.values():
            compute_targets(b.ts, b.high, b.low, b.close, "15m", cfg)
            zigzag_pivots(b.ts, b.high, b.low, cfg.zigzag_deviation("15m"))
        return f

    t = time.perf_counter()
    f = run()  # compiles the numba kernels the first time (cached on disk afterwards)
    first = time.perf_counter() - t
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(times), first, len(next(iter(f.values()))), min(cpu)


def ours_pipeline(data: Path) -> tuple[float, dict]:
    from engine.data.importer import import_path
    from engine.features.pipeline import build_feature_set
    from engine.jobs.context import set_quiet
    from storage.workspace import Workspace

    set_quiet(True)
    with tempfile.TemporaryDirectory() as d:
        ws = Workspace.open(Path(d) / "ws")
        import_path(ws, data)
        t = time.perf_counter()
        doc = build_feature_set(ws, COINS, "15m", use_cache=False)
        return time.perf_counter() - t, {"rows": doc["rows"], "features": doc["n_features"], "leaking": doc["leaking"]}


def reference(frames: dict[str, pd.DataFrame], rows: int, n_symbols: int) -> tuple[float, float, int, int]:
    import reference_features as ref

    from engine.features.config import load_config
    from engine.features.targets import best_action_cost

    cfg = load_config()
    bars = {"15m": 1, "1h": 4, "4h": 16, "12h": 48}
    thr = {h: cfg.direction_threshold_pct[h] / 100 for h in bars}
    sectors = {s: cfg.sector_of(s) for s in COINS}
    warnings.simplefilter("ignore")
    t, c0 = time.perf_counter(), time.process_time()
    n_feat = 0
    for s in COINS[:n_symbols]:
        df = frames[s].iloc[-rows:].reset_index(drop=True)
        f = ref.symbol_features(df)
        # the reference takes the per-side cost (its best_action threshold is 2 x it): half the cost model's round trip
        y = ref.targets(df, bars, thr, best_action_cost(cfg, s) / 2)
        n_feat = f.shape[1]
    per_symbol = time.perf_counter() - t
    per_symbol_cpu = time.process_time() - c0
    closes = pd.DataFrame({s: frames[s]["close"].iloc[-rows:].to_numpy() for s in COINS})
    t = time.perf_counter()
    x = ref.cross_asset(closes, sectors)
    cross = time.perf_counter() - t
    return per_symbol, cross, n_feat + next(iter(x.values())).shape[1], y.shape[1], per_symbol_cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "binance-spot-15m-2025"))
    ap.add_argument("--ref-rows", type=int, default=4000)
    ap.add_argument("--ref-symbols", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-pipeline", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        print(f"skipped: no data folder {data} (the 10-coin set of ../shared/data; pass --data DIR)")
        return
    frames = load(data)
    n_rows = min(len(df) for df in frames.values())
    print(f"data: {len(frames)} symbols x {n_rows:,} bars (15m), {os.cpu_count()} CPU(s), load average "
          f"{os.getloadavg()[0]:.1f}")
    best, first, n_feat, cpu = ours(frames, args.repeat)
    print(f"ours       features+targets+ZigZag, in memory: {best:7.2f} s wall, {cpu:.2f} s CPU (best of {args.repeat}; "
          f"first run incl. numba compile/cache load {first:.2f} s), {n_feat} features + 24 targets")
    if not args.skip_pipeline:
        pipe, doc = ours_pipeline(data)
        print(f"ours       full `features build` job (load, compute, audit, Parquet, manifest): {pipe:7.2f} s, "
              f"{doc['features']} features, {doc['rows']:,} rows, leaking {doc['leaking'] or 'none'}")
    rows = min(args.ref_rows, n_rows)
    k = min(args.ref_symbols, len(COINS))
    per_sym, cross, ref_feat, ref_targets, ref_cpu = reference(frames, rows, k)
    scale_sym = (n_rows / rows) * (len(COINS) / k)
    scale_cross = n_rows / rows
    ref_total = per_sym * scale_sym + cross * scale_cross
    how = ("measured on the whole set" if scale_sym == 1 else
           f"measured: {k} symbol(s) x {rows:,} bars = {per_sym:.1f} s, cross-asset 10 symbols x {rows:,} bars = "
           f"{cross:.2f} s; scaled x{scale_sym:.1f} and x{scale_cross:.2f} to 10 x {n_rows:,} bars")
    print(f"reference  pandas + ta + rolling().apply, {ref_feat} features + {ref_targets} targets: {ref_total:8.1f} s ({how})")
    ratio = ref_total / best
    cpu_ratio = ref_cpu * scale_sym / cpu
    print(f"ratio      reference / ours = {ratio:,.0f}x wall, {cpu_ratio:,.0f}x CPU (per-symbol part)   "
          f"(goal: ours < 10 s and >= 50x)   {'OK' if best < 10 and ratio >= 50 else 'NOT MET'}")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_features.json").write_text(json.dumps({
        "ours_s": best, "ours_cpu_s": cpu, "ours_first_s": first, "cpu_ratio": cpu_ratio, "reference_s": ref_total, "ratio": ratio, "reference_measured": how,
        "features": n_feat, "reference_features": ref_feat, "symbols": len(COINS), "bars": n_rows}, indent=1))


if __name__ == "__main__":
    main()
