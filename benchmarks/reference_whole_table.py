"""The design before the memory-bounded pipeline, kept as the reference of bench_scale.py:
every symbol's features computed at once (``compute_features`` over all bars, cross-asset from
the whole universe), the columns of all symbols concatenated and written as one Parquet file per
table.  The code is the body of ``build_feature_set`` before the per-symbol build (commit
34db9b6), minus the artifact bookkeeping (manifest, sha256), which costs the same in both designs.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.features.pipeline import _jsonable, _ts_array, _write_table, audit_plan, compute_features, plan_build
from engine.features.targets import TARGET_NAMES, best_action_cost, compute_targets, target_meta
from engine.features.zigzag import pivot_labels, zigzag_pivots


def build_whole_table(ws, symbols: list[str], timeframe: str, out: Path, *, start=None, audit: bool = True) -> int:
    """Build the set the old way into ``out`` (features.parquet, targets.parquet, zigzag.parquet,
    labels.parquet, audit.json); returns the number of rows."""
    from engine.costs import load_costs

    plan = plan_build(ws, symbols, timeframe, start=start)
    costs = load_costs()
    plan.params["best_action_cost"] = {s: best_action_cost(plan.cfg, s, costs) for s in plan.symbols}
    feats = compute_features(plan.bars, plan.reference, plan.timeframe, plan.features, plan.cfg)
    cfg, tf = plan.cfg, plan.timeframe
    dev = cfg.zigzag_deviation(tf)
    names = plan.feature_names
    fcols: dict[str, list] = {"timestamp": [], "symbol": [], **{n: [] for n in names}}
    tcols: dict[str, list] = {"timestamp": [], "symbol": [], **{n: [] for n in TARGET_NAMES}}
    lcols: dict[str, list] = {"timestamp": [], "symbol": [], "pivot": [], "pivot_label": [], "confirm_time": []}
    zz_frames = []
    for s in plan.symbols:
        b = plan.bars[s]
        keep = slice(plan.warmup, len(b))
        ts = b.ts[keep]
        n = len(ts)
        for c in (fcols, tcols, lcols):
            c["timestamp"].append(ts)
            c["symbol"].append(np.full(n, s, dtype=object))
        for nm in names:
            v = feats[s][nm][keep].astype(np.float32)
            v[~np.isfinite(v)] = np.nan
            fcols[nm].append(v)
        tv = compute_targets(b.ts, b.high, b.low, b.close, tf, cfg, cost=plan.params["best_action_cost"][s])
        for nm in TARGET_NAMES:
            tcols[nm].append(tv[nm][keep])
        piv = zigzag_pivots(b.ts, b.high, b.low, dev)
        lab = pivot_labels(len(b), piv, pd.to_datetime(b.ts, utc=True).as_unit("ms")).iloc[plan.warmup:]
        lcols["pivot"].append(lab["pivot"].to_numpy())
        lcols["pivot_label"].append(lab["pivot_label"].to_numpy())
        lcols["confirm_time"].append(lab["confirm_time"].dt.tz_convert(None).to_numpy())
        zz = piv.drop(columns=["pivot_idx", "confirm_idx"])
        zz.insert(0, "symbol", s)
        zz_frames.append(zz)
    meta = target_meta(tf, cfg, plan.params["best_action_cost"])
    audit_res = audit_plan(plan) if audit else None
    all_ts = np.concatenate(fcols["timestamp"])
    sym_arr = pa.array(np.concatenate(fcols["symbol"]), type=pa.string())
    ts_arr = _ts_array(all_ts)
    ftab = {"timestamp": ts_arr, "symbol": sym_arr, **{n: pa.array(np.concatenate(fcols[n])) for n in names}}
    ttab: dict[str, pa.Array] = {"timestamp": ts_arr, "symbol": sym_arr}
    for nm in TARGET_NAMES:
        v = np.concatenate(tcols[nm])
        mask = np.isnan(v)
        if meta[nm]["type"] == "regression":
            ttab[nm] = pa.array(v, mask=mask, type=pa.float64())
        else:
            ttab[nm] = pa.array(np.where(mask, 0, v).astype(np.int8), mask=mask, type=pa.int8())
    ltab = {"timestamp": ts_arr, "symbol": sym_arr, "pivot": pa.array(np.concatenate(lcols["pivot"]), type=pa.int8()),
            "pivot_label": pa.array(np.concatenate(lcols["pivot_label"]), type=pa.int8()),
            "confirm_time": pa.array(np.concatenate(lcols["confirm_time"]), type=pa.timestamp("ms", tz="UTC"),
                                     from_pandas=True)}
    zz_all = pd.concat(zz_frames, ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    _write_table(ftab, out / "features.parquet")
    _write_table(ttab, out / "targets.parquet")
    zz_all.to_parquet(out / "zigzag.parquet", index=False)
    _write_table(ltab, out / "labels.parquet")
    doc = audit_res.to_dict() if audit_res else {"passed": None}
    (out / "audit.json").write_text(json.dumps(_jsonable(doc), indent=1))
    return len(all_ts)
