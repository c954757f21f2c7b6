"""Analysis report benchmark (SPEC 14): KlineLab's `analyze` on 35,040 rows x the full feature set
vs ydata-profiling's minimal report (`ProfileReport(minimal=True).to_file(...)`) on the same
columns, side by side.  Goal: at least 5x faster, while also computing what ydata's minimal report
does not (mutual information, F-scores, by-class statistics, exclusions, drift).

    python benchmarks/bench_analysis.py [--data DIR] [--ref-python PATH] [--target direction_4h] [--repeat 2]

The table: ETHUSDT 15m from ../shared/data/binance-spot-15m-2025 (35,040 bars, a year), its
features built with BTCUSDT beside it so the cross-asset family is there too (every family), then
reduced to the ETHUSDT rows.
* ours: `engine.analysis.pipeline.analyze` on that feature set, the whole thing as the CLI runs it
  (read the Parquet tables, split, statistics, importance, outliers, by-class, correlations,
  exclusions, drift, every CSV, the HTML report with plotly inlined, the PNG images, manifest +
  sha256, catalog), modules imported beforehand;
* reference: ydata-profiling on the same feature columns + the target, read from the same rows
  written to a Parquet file, timed inside its interpreter (import excluded): the profile and its
  HTML file.
Each side runs --repeat times (default 2) and its fastest run is reported: the machine is often
shared, and a load spike during one run says nothing about either program.

ydata-profiling pins pandas < 3, so it cannot live in the project's environment.  It runs in its
own interpreter, by default ``.venv-bench/bin/python`` at the repository root, created on first use:

    python3.11 -m venv .venv-bench && .venv-bench/bin/pip install "ydata-profiling==4.18.4" pyarrow

(``--ref-python`` points at another interpreter that has ydata-profiling and pyarrow.)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "binance-spot-15m-2025"
DEFAULT_REF = ROOT / ".venv-bench" / "bin" / "python"
YDATA = "ydata-profiling==4.18.4"

REFERENCE = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from ydata_profiling import ProfileReport, __version__
df = pd.read_parquet(sys.argv[1])
t, c = time.perf_counter(), time.process_time()
ProfileReport(df, minimal=True, progress_bar=False, title="reference").to_file(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "version": __version__,
                  "shape": list(df.shape)}))
"""


def ensure_reference(python: Path) -> Path | None:
    if python.exists():
        return python
    if python != DEFAULT_REF:
        return None
    print(f"creating {DEFAULT_REF.parent.parent} with {YDATA} (first run only) ...", flush=True)
    base = shutil.which("python3.11") or sys.executable
    r = subprocess.run([base, "-m", "venv", str(DEFAULT_REF.parent.parent)], check=False)
    if r.returncode == 0:
        r = subprocess.run([str(DEFAULT_REF), "-m", "pip", "install", "-q", YDATA, "pyarrow"], check=False)
    return DEFAULT_REF if r.returncode == 0 and DEFAULT_REF.exists() else None


def feature_table(ws, data: Path):
    """A feature set of the ETHUSDT rows (every family; BTCUSDT only serves the cross-asset inputs)."""
    from engine.data.importer import import_path
    from engine.features.pipeline import build_feature_set
    from engine.features.store import load_feature_set
    from storage.artifacts import create_artifact

    for sym in ("BTCUSDT", "ETHUSDT"):
        import_path(ws, data / f"{sym}_15m.parquet")
    both = load_feature_set(ws, build_feature_set(ws, ["BTCUSDT", "ETHUSDT"], "15m")["featureset_id"])
    with create_artifact(ws, "features", name="ETHUSDT rows", symbols=["ETHUSDT"], timeframe="15m",
                         parents=both.manifest.parents) as d:
        for name in ("features.parquet", "targets.parquet", "labels.parquet"):
            import pandas as pd

            df = pd.read_parquet(both.path / name)
            df[df["symbol"] == "ETHUSDT"].reset_index(drop=True).to_parquet(d.path(name), index=False)
        for p in both.path.iterdir():
            if p.is_file() and p.name not in ("manifest.json", "features.parquet", "targets.parquet", "labels.parquet"):
                shutil.copy2(p, d.path(p.name))
        d.manifest.extra = dict(both.manifest.extra)
    return load_feature_set(ws, d.id)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--ref-python", type=Path, default=DEFAULT_REF)
    ap.add_argument("--target", default="direction_4h")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each side; the best is reported (default 2)")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"error: no data folder {args.data} (give --data .../binance-spot-15m-2025)", file=sys.stderr)
        return 2
    from engine.analysis.pipeline import analyze  # imports (sklearn, scipy, plotly, matplotlib) before timing
    from storage.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    try:
        ws = Workspace.open(tmp / "workspace")
        os.environ["KLINELAB_HOME"] = str(ws.root)
        print("building the feature table (not timed) ...", flush=True)
        fs = feature_table(ws, args.data)
        feats = fs.features()
        n_rows, n_feat = len(feats), len(fs.feature_names)
        runs = []
        for _ in range(args.repeat):  # the best of --repeat runs, each a complete new report
            stages: list[tuple[float, str]] = []
            t0, c0 = time.perf_counter(), time.process_time()
            res = analyze(ws, fs.id, args.target, progress=lambda f, m, stages=stages: stages.append((time.perf_counter(), m)))
            runs.append((time.perf_counter() - t0, time.process_time() - c0, t0, stages, res))
        ours, ours_cpu, t0, stages, res = min(runs, key=lambda r: r[0])
        path = Path(res["path"])
        html_mb = (path / "feature_analysis_report.html").stat().st_size / 1e6

        ref = ensure_reference(args.ref_python)
        ref_doc = None
        if ref is None:
            print(f"reference interpreter {args.ref_python} missing: see the docstring for how to create it")
        else:
            table = feats[fs.feature_names].assign(**{args.target: fs.targets([args.target])[args.target].to_numpy()})
            pq = tmp / "table.parquet"
            table.to_parquet(pq, index=False)
            print(f"running ydata-profiling minimal on {table.shape[0]} x {table.shape[1]} ...", flush=True)
            for _ in range(args.repeat):
                r = subprocess.run([str(ref), "-c", REFERENCE, str(pq), str(tmp / "ydata.html")], capture_output=True,
                                   text=True, check=False)
                if r.returncode:
                    print(r.stderr[-3000:])
                    break
                doc = json.loads(r.stdout.strip().splitlines()[-1])
                ref_doc = doc if ref_doc is None or doc["seconds"] < ref_doc["seconds"] else ref_doc

        print(f"\nanalysis report: {n_rows:,} rows x {n_feat} features (+ target {args.target}); "
              f"train rows {res['summary']['train_rows']:,}, MI on {res['summary']['mi_rows']:,}")
        print(f"{'':44s}{'wall s':>9s}{'cpu s':>9s}")
        print(f"{'KlineLab analyze (everything, as the CLI)':44s}{ours:9.2f}{ours_cpu:9.2f}   "
              f"(runs: {', '.join(f'{r[0]:.2f}' for r in runs)} s)")
        if ref_doc:
            print(f"{'ydata-profiling ' + ref_doc['version'] + ' minimal report':44s}{ref_doc['seconds']:9.2f}{ref_doc['cpu']:9.2f}")
            ratio = ref_doc["seconds"] / ours
            print(f"ratio (wall): {ratio:.1f}x faster, goal >= 5x: {'PASS' if ratio >= 5 else 'FAIL'}; "
                  f"ratio (cpu): {ref_doc['cpu'] / ours_cpu:.1f}x")
        print(f"HTML report {html_mb:.1f} MB (plotly.js inlined), {len(res['files'])} files")
        print("stages (wall s): " + ", ".join(f"{m.split(' ')[0]} {b - a:.2f}"
                                             for (a, m), (b, _) in zip([(t0, "load")] + stages, stages)))
        try:
            load = os.getloadavg()[0]
            print(f"load average while running: {load:.1f} on {os.cpu_count()} cores")
        except OSError:
            pass
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
