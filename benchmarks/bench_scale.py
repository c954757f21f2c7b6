"""Scale benchmark (issue 16): the memory-bounded pipeline on the seed's data-set size, 22 symbols
x 300,000 15m bars (6.6 M rows, ~8.6 years each), against the design before it (every symbol's
columns in memory at once; benchmarks/reference_whole_table.py and ``build_windows`` on whole
tables).

    python benchmarks/bench_scale.py [--data DIR] [--symbols 22] [--bars 300000]
                                     [--ref-bars 10000,20000] [--max-rss-gb 8] [--keep DIR]

How the scale set is made (real returns, stitched and block-bootstrapped)
-------------------------------------------------------------------------
Source: the 10 real Binance spot series of ``../shared/data/binance-spot-15m-2025`` (BTC ETH SOL
BNB XRP DOGE ADA AVAX LINK DOT, 35,040 15m bars each, identical timestamps).  Synthetic symbol k
takes real symbol k mod 10 (replica r = k div 10: the first ten keep the real names, the others
are named ``<BASE>R<r>USDT``, e.g. ``ETHR1USDT``).  Its bars are a **circular block bootstrap of
whole real days** (blocks of 96 bars, drawn uniformly with replacement from the 365 real days,
wrapping around the end): each drawn real bar keeps its own shape, its OHLC relative to its
close and its volume, and its close-to-close log return (the first real bar's return is taken as
0, so the wrap-around never adds a year-long jump).  The closes are the cumulative product of
those returns **re-anchored to the real first close** of the source symbol, and open / high / low
are the real bar scaled by the same factor as its close, so every bar is a real bar's shape at a
new price level and OHLC consistency holds exactly.  All symbols of one replica draw the **same
sequence of days**, so the real cross-asset co-movement (what the cross-asset family measures)
is kept within a replica; replicas draw independent sequences (seed 16 + r).  Timestamps are a
regular 15m grid from 2017-08-17 00:00 UTC (the seed's start).  The generator is streaming: one
symbol is made, written as a Parquet file and imported (``data import``, the real validation)
before the next, so it holds a single symbol's bars at a time.

What is measured (each step in a child process; its peak RSS is the child's own
``ru_maxrss``; a watchdog stops any child whose RSS passes --max-rss-gb)
----------------------------------------------------------------------
* features: ``features build`` of every family (features + 24 targets + ZigZag + leakage
  audit + Parquet + sha256 + manifest) over the whole scale set, the new design;
* windows: the training dataset of that set (all usable features, context 96) with
  ``build_windows_lazy`` (memory-mapped inputs) and one batch of 256 windows gathered, for the
  DirectionPredictor's targets (4 horizons + 4 aux returns) and PatchTST's default (all 24 targets);
* the old design on the last --ref-bars bars of every symbol (whole-table build; whole tables
  read + ``build_windows``), since at full size it needs ~22 GB (features) and ~10 GB (windows):
  more than the 8 GB this benchmark allows itself on a shared machine.  Its peak RSS is fitted as
  a + b x rows over the --ref-bars sizes and extrapolated to the full set, its time scaled by rows
  from the largest slice (both labelled as such); the new design is measured on the same slices
  for a like-for-like ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance-spot-15m-2025"
REAL = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT"]
DAY = 96  # 15m bars per day: the bootstrap block
START = pd.Timestamp("2017-08-17", tz="UTC")
STEP_NS = 15 * 60 * 1_000_000_000
DIRECTION_TARGETS = ["direction_15m", "direction_1h", "direction_4h", "direction_12h"]
DIRECTION_AUX = ["future_return_15m", "future_return_1h", "future_return_4h", "future_return_12h"]


def scale_symbols(n: int) -> list[str]:
    return [REAL[k % 10] if k < 10 else f"{REAL[k % 10][:-4]}R{k // 10}USDT" for k in range(n)]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# -- the scale set --------------------------------------------------------------------------------
def synth_bars(real: pd.DataFrame, days: np.ndarray, bars: int) -> pd.DataFrame:
    """One synthetic series: the real bars of the drawn days (circularly), re-priced (see the docstring)."""
    n_real = len(real)
    idx = (days[:, None] * DAY + np.arange(DAY)[None, :]).ravel()[:bars] % n_real
    close_r = real["close"].to_numpy("float64")
    logret = np.r_[0.0, np.diff(np.log(close_r))]
    close = close_r[0] * np.exp(np.cumsum(logret[idx]))
    factor = close / close_r[idx]
    out = pd.DataFrame({"timestamp": pd.to_datetime(START.value + np.arange(bars, dtype=np.int64) * STEP_NS, utc=True),
                        "open": real["open"].to_numpy("float64")[idx] * factor,
                        "high": real["high"].to_numpy("float64")[idx] * factor,
                        "low": real["low"].to_numpy("float64")[idx] * factor, "close": close,
                        "volume": real["volume"].to_numpy("float64")[idx]})
    out["high"] = np.maximum(out["high"], out[["open", "close"]].max(axis=1))  # float rounding of the scaled bar
    out["low"] = np.minimum(out["low"], out[["open", "close"]].min(axis=1))
    return out


def make_scale_set(ws_root: Path, data: Path, n_symbols: int, bars: int) -> dict:
    """Generate and import the scale set, one symbol at a time (streaming)."""
    os.environ["KLINELAB_HOME"] = str(ws_root)
    from engine.data.importer import import_path
    from storage.workspace import Workspace

    ws = Workspace.open()
    ws.ensure()
    n_days = -(-bars // DAY)
    draws = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for k, sym in enumerate(scale_symbols(n_symbols)):
            real = pd.read_parquet(data / f"{REAL[k % 10]}_15m.parquet", columns=["timestamp", "open", "high", "low",
                                                                                  "close", "volume"])
            r = k // 10
            if r not in draws:
                draws[r] = np.random.default_rng(16 + r).integers(0, -(-len(real) // DAY), size=n_days)
            df = synth_bars(real, draws[r], bars)
            p = Path(tmp) / f"{sym}_15m.parquet"
            df.to_parquet(p, index=False)
            del df, real
            import_path(ws, p, symbol=sym, timeframe="15m")
            p.unlink()
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": _peak_mb()}


# -- the measured steps (each run in a child process) ---------------------------------------------
def _start_of_last(ws, symbols: list[str], bars: int | None):
    if not bars:
        return None
    from engine.data.store import load_candles

    last = max(load_candles(ws, s, "15m", columns=["close"])["timestamp"].iloc[-1] for s in symbols[:1])
    return (last - pd.Timedelta(minutes=15) * (bars - 1)).isoformat()


def step_features_new(ws, symbols, ref_bars) -> dict:
    from engine.features.pipeline import build_feature_set

    base = _peak_mb()
    t0 = time.perf_counter()
    doc = build_feature_set(ws, symbols, "15m", start=_start_of_last(ws, symbols, ref_bars), use_cache=False)
    return {"seconds": time.perf_counter() - t0, "rows": doc["rows"], "featureset_id": doc["featureset_id"],
            "n_features": doc["n_features"], "audit_passed": doc["audit_passed"], "baseline_rss_mb": base}


def step_features_old(ws, symbols, ref_bars) -> dict:
    from benchmarks.reference_whole_table import build_whole_table

    base = _peak_mb()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=ws.root) as out:
        rows = build_whole_table(ws, symbols, "15m", Path(out), start=_start_of_last(ws, symbols, ref_bars))
    return {"seconds": time.perf_counter() - t0, "rows": rows, "baseline_rss_mb": base}


def _window_args(fs, which: str):
    from engine.splits import chronological_split
    from engine.training.dataset import target_specs
    from engine.training.tasks import DirectionTask

    if which == "direction":
        specs, aux = DirectionTask.specs(["15m", "1h", "4h", "12h"]), DIRECTION_AUX
    else:
        specs, aux = target_specs(fs.target_meta, fs.target_names), DIRECTION_AUX
    ts = fs.dataset("features").to_table(columns=["timestamp"]).column("timestamp").to_pandas()
    plan = chronological_split(ts, fs.timeframe, purge_bars=fs.max_horizon_bars)
    return specs, aux, plan


def step_windows_new(ws, fid, which) -> dict:
    import torch

    from engine.features.store import load_feature_set
    from engine.training.dataset import build_windows_lazy

    torch.set_num_threads(1)
    fs = load_feature_set(ws, fid)
    specs, aux, plan = _window_args(fs, which)
    base = _peak_mb()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=ws.root) as tmp:
        w = build_windows_lazy(fs, input_names=fs.usable_features(), specs=specs, plan=plan, context=96,
                               scratch=Path(tmp), aux_names=aux)
        built = time.perf_counter() - t0
        before_batch = _peak_mb()
        e = np.random.default_rng(0).choice(w.ends["train"], 256, replace=False)
        xb, yb, ab = w.batch(e)
        batch_mb = (xb.numel() * 4 + yb.numel() * 4 + ab.numel() * 4) / 2**20
        counts = w.counts()
        del w, xb, yb, ab
    return {"seconds": built, "baseline_rss_mb": base, "peak_before_batch_mb": before_batch, "batch_mb": batch_mb,
            "windows": counts, "targets": len(specs)}


def step_windows_old(ws, fid, which) -> dict:
    import torch

    from engine.features.store import load_feature_set
    from engine.training.dataset import build_windows

    torch.set_num_threads(1)
    fs = load_feature_set(ws, fid)
    specs, aux, plan = _window_args(fs, which)
    base = _peak_mb()
    t0 = time.perf_counter()
    feats = fs.features(fs.usable_features())  # run.py's prepare before: the whole tables
    targs = fs.targets(list(dict.fromkeys([s.name for s in specs] + aux)))
    w = build_windows(feats, targs, input_names=fs.usable_features(), specs=specs, plan=plan, timeframe=fs.timeframe,
                      context=96, aux_names=aux)
    built = time.perf_counter() - t0
    e = np.random.default_rng(0).choice(w.ends["train"], 256, replace=False)
    w.batch(e)
    return {"seconds": built, "baseline_rss_mb": base, "windows": w.counts(), "targets": len(specs)}


def child_main(argv: list[str]) -> None:
    step, ws_root, arg, extra = argv[0], Path(argv[1]), argv[2], argv[3] if len(argv) > 3 else ""
    if step == "gen":  # arg: the real data folder, extra: symbols,bars
        n, bars = (int(x) for x in extra.split(","))
        print("RESULT " + json.dumps(make_scale_set(ws_root, Path(arg), n, bars)), flush=True)
        return
    os.environ["KLINELAB_HOME"] = str(ws_root)
    from storage.workspace import Workspace

    ws = Workspace.open()
    if step == "features-new":
        res = step_features_new(ws, arg.split(","), int(extra) if extra else None)
    elif step == "features-old":
        res = step_features_old(ws, arg.split(","), int(extra) if extra else None)
    elif step == "windows-new":
        res = step_windows_new(ws, arg, extra)
    elif step == "windows-old":
        res = step_windows_old(ws, arg, extra)
    else:
        raise SystemExit(f"unknown step {step}")
    res["peak_rss_mb"] = _peak_mb()
    print("RESULT " + json.dumps(res), flush=True)


def run_child(args: list[str], max_rss_gb: float) -> dict:
    """Run one step in a child; stop it when its RSS passes the limit."""
    import psutil

    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "KLINELAB_QUIET": "1"})
    ps = psutil.Process(proc.pid)
    killed = None
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss
        except psutil.NoSuchProcess:
            break
        if rss > max_rss_gb * 2**30:
            killed = rss
            proc.kill()
            break
        time.sleep(0.2)
    out, err = proc.communicate()
    if killed:
        return {"stopped": f"RSS passed {max_rss_gb} GB ({killed / 2**30:.2f} GB)"}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"step {args[0]} failed:\n{err[-3000:]}")


def _fit(xs: list[float], ys: list[float], x: float) -> float:
    if len(xs) < 2:
        return ys[0] * x / xs[0]
    b, a = np.polyfit(xs, ys, 1)
    return a + b * x


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--symbols", type=int, default=22)
    ap.add_argument("--bars", type=int, default=300_000)
    ap.add_argument("--ref-bars", default="10000,20000", help="slices (bars per symbol) the old design runs on")
    ap.add_argument("--max-rss-gb", type=float, default=8.0)
    ap.add_argument("--keep", type=Path, help="a workspace folder to build in and keep (default: a temporary one)")
    ap.add_argument("--skip-old", action="store_true", help="measure the new design only")
    ap.add_argument("--featureset", help="measure the windows on this set of a --keep workspace (no features build)")
    ap.add_argument("--slices-only", action="store_true",
                    help="only the --ref-bars slices (both designs), e.g. on a --keep workspace already measured")
    args = ap.parse_args()
    if not (args.data / "BTCUSDT_15m.parquet").is_file():
        print(f"no real candles in {args.data}: pass --data ../shared/data/binance-spot-15m-2025")
        return 2
    import psutil

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    syms = scale_symbols(args.symbols)
    print(f"scale set: {args.symbols} symbols x {args.bars:,} 15m bars = {args.symbols * args.bars:,} rows "
          f"(block bootstrap of real days from {args.data.name}); workspace {root}")
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        if all((root / "artifacts" / "ohlcv" / f"ohlcv-{s}-15m" / "manifest.json").is_file() for s in syms):
            print("  the scale set is already in the workspace (--keep): not generated again")
        else:
            gen = run_child(["gen", str(root), str(args.data), f"{args.symbols},{args.bars}"], args.max_rss_gb)
            print(f"  generated + imported in {gen['seconds']:.1f} s, generator peak RSS {gen['peak_rss_mb']:.0f} MB")
        rows = []
        ref_bars = [int(x) for x in args.ref_bars.split(",") if x.strip()] if not args.skip_old else []
        feats_new, win = {}, {}
        if args.featureset:
            feats_new = {"featureset_id": args.featureset, "rows": args.symbols * args.bars}
        elif not args.slices_only:
            feats_new = run_child(["features-new", str(root), ",".join(syms)], args.max_rss_gb)
            rows.append(("features build, new", args.symbols * args.bars, feats_new))
        fid = feats_new.get("featureset_id")
        if fid:
            for which in ("direction", "patchtst"):
                win[which] = run_child(["windows-new", str(root), fid, which], args.max_rss_gb)
                rows.append((f"windows ({which}), new", feats_new["rows"], win[which]))
        old = {"features": [], "windows": []}
        for rb in ref_bars:
            o = run_child(["features-old", str(root), ",".join(syms), str(rb)], args.max_rss_gb)
            n = run_child(["features-new", str(root), ",".join(syms), str(rb)], args.max_rss_gb)
            rows += [(f"features build, old, last {rb:,} bars", o.get("rows"), o),
                     (f"features build, new, last {rb:,} bars", n.get("rows"), n)]
            old["features"].append((o.get("rows"), o))
            if n.get("featureset_id"):
                wo = run_child(["windows-old", str(root), n["featureset_id"], "direction"], args.max_rss_gb)
                wn = run_child(["windows-new", str(root), n["featureset_id"], "direction"], args.max_rss_gb)
                rows += [(f"windows (direction), old, last {rb:,} bars", n["rows"], wo),
                         (f"windows (direction), new, last {rb:,} bars", n["rows"], wn)]
                old["windows"].append((n["rows"], wo))
        print(f"\n{'step':<44} {'rows':>11} {'time s':>8} {'peak RSS MB':>12} {'MB/1k rows':>11}  note")
        for name, nrows, r in rows:
            if "stopped" in r:
                print(f"{name:<44} {nrows or 0:>11,} {'-':>8} {'-':>12} {'-':>11}  stopped: {r['stopped']}")
                continue
            note = ""
            if "batch_mb" in r:
                note = f"baseline {r['baseline_rss_mb']:.0f} MB; one batch {r['batch_mb']:.0f} MB; windows {r['windows']}"
            elif "baseline_rss_mb" in r:
                note = f"baseline (imports) {r['baseline_rss_mb']:.0f} MB"
            print(f"{name:<44} {nrows or 0:>11,} {r['seconds']:>8.1f} {r['peak_rss_mb']:>12.0f} "
                  f"{r['peak_rss_mb'] / max(nrows or 1, 1) * 1000:>11.2f}  {note}")
        full = args.symbols * args.bars
        for what, pts in old.items():
            pts = [(n, r) for n, r in pts if n and "peak_rss_mb" in r]
            if not pts:
                continue
            est = _fit([n for n, _ in pts], [r["peak_rss_mb"] for _, r in pts], feats_new.get("rows", full))
            big_n, big = max(pts, key=lambda p: p[0])  # time: proportional to rows from the largest slice
            est_t = big["seconds"] * feats_new.get("rows", full) / big_n
            new = feats_new if what == "features" else win.get("direction", {})
            ratio = f"; new design measured {new['peak_rss_mb']:.0f} MB, {est / new['peak_rss_mb']:.1f}x less" \
                if "peak_rss_mb" in new else ""
            print(f"old design, {what}, extrapolated to the full set: ~{est:,.0f} MB peak RSS (linear fit over "
                  f"{len(pts)} slices), ~{est_t:,.0f} s (rows x the largest slice's time){ratio}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
