"""Catalog: refresh of 10,000 manifests and filtered-query latency (SPEC 14: refresh < 3 s,
filtered query < 50 ms), side by side with the reference way of answering the same query
without a catalog (read every manifest.json and filter in Python).

    .venv/bin/python benchmarks/bench_catalog.py [--n 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.catalog import Catalog
from storage.workspace import Workspace

KINDS = ["ohlcv", "features", "analysis", "model", "stage1", "stage2", "backtest"]
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT"]


def populate(ws: Workspace, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        aid = f"{kind}-2026{(i % 12) + 1:02d}{(i % 28) + 1:02d}-{i:06d}"
        d = ws.artifacts_dir / kind / aid
        d.mkdir(parents=True)
        syms = rnd.sample(SYMBOLS, rnd.randint(1, 3))
        m = {"id": aid, "kind": kind, "name": f"{kind} {i}", "created_at": f"2026-{(i % 12) + 1:02d}-{(i % 28) + 1:02d}T12:00:00Z",
             "symbols": syms, "timeframe": rnd.choice(["15m", "1h"]), "params": {"seed": i, "lr": 1e-3},
             "metrics": {"sharpe": rnd.gauss(0.5, 1), "accuracy": rnd.random(), "val": {"loss": rnd.random()}},
             "parents": [f"{KINDS[(i - 1) % len(KINDS)]}-x-{i - 1:06d}"] if i else [],
             "files": [{"path": f"f{j}.parquet", "size": 1000 * j, "sha256": "0" * 64} for j in range(3)],
             "origin": "local", "code_version": "0.1.0", "start": "2025-04-10T17:00:00Z", "end": "2026-04-10T16:45:00Z",
             "extra": {}}
        (d / "manifest.json").write_text(json.dumps(m))


def naive_query(ws: Workspace) -> list[str]:
    """The reference: no index, read every manifest and filter."""
    out = []
    for p in ws.artifacts_dir.glob("*/*/manifest.json"):
        m = json.loads(p.read_text())
        if m["kind"] == "backtest" and "ETHUSDT" in m["symbols"] and m["metrics"]["sharpe"] >= 1.0:
            out.append(m["id"])
    return out


def timed(fn, repeat: int) -> tuple[float, object]:
    ts, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws").ensure()
        populate(ws, a.n)
        cat = Catalog(ws)
        t0 = time.perf_counter()
        r = cat.refresh()
        first = time.perf_counter() - t0
        assert r.added == a.n, r.to_dict()
        noop, _ = timed(lambda: cat.refresh(), 3)
        # touch 100 manifests
        for p in list(ws.artifacts_dir.glob("model/*/manifest.json"))[:100]:
            os.utime(p, (time.time() + 5, time.time() + 5))
        t0 = time.perf_counter()
        r = cat.refresh()
        incr = time.perf_counter() - t0
        rebuild, _ = timed(lambda: cat.rebuild(), 1)
        q, ids = timed(lambda: cat.query(kind="backtest", symbol="ETHUSDT", metric="sharpe", metric_min=1.0), 20)
        q2, _ = timed(lambda: cat.query(timeframe="1h", since="2026-06-01", text="model", limit=100), 20)
        lin, _ = timed(lambda: cat.lineage("backtest-20260707-000006"), 20)
        ref, ref_ids = timed(lambda: naive_query(ws), 3)
        assert sorted(ids["id"]) == sorted(ref_ids), "catalog and reference disagree"
        print(f"catalog benchmark, {a.n:,} manifests")
        print(f"{'measure':<44}{'KlineLab':>12}{'reference':>12}{'ratio':>9}  target")
        print(f"{'refresh, empty catalog (index all)':<44}{first:>11.3f}s{'':>12}{'':>9}  < 3 s  {'OK' if first < 3 else 'MISSED'}")
        print(f"{'refresh, nothing changed':<44}{noop:>11.3f}s")
        print(f"{'refresh, 100 manifests changed':<44}{incr:>11.3f}s")
        print(f"{'rebuild from manifests':<44}{rebuild:>11.3f}s")
        print(f"{'filtered query (kind+symbol+metric)':<44}{q * 1000:>10.1f}ms{ref * 1000:>10.1f}ms{ref / q:>8.0f}x  < 50 ms  {'OK' if q < 0.05 else 'MISSED'}")
        print(f"{'filtered query (timeframe+date+text)':<44}{q2 * 1000:>10.1f}ms")
        print(f"{'lineage (recursive ancestors/descendants)':<44}{lin * 1000:>10.1f}ms")


if __name__ == "__main__":
    main()
