"""``features build``: validate the request, load candles, compute features / targets /
ZigZag labels, audit for leakage, and write one ``features`` artifact (docs/CONTRACTS.md).

Memory-bounded: the set is built symbol by symbol.  The cross-asset family reads only the
aligned close matrix of every symbol (a :class:`Universe`, built once: n_bars x n_symbols
float64); each symbol's features, targets, labels and ZigZag pivots are computed, written as
that symbol's Parquet files (``features/<SYMBOL>.parquet`` ...) and freed before the next.
At most ``build_workers`` symbols are in flight at once (threads: TA-Lib, numpy and the
numba kernels release the GIL), chosen so their columns fit ``KLINELAB_BUILD_MEMORY_MB``
(default 1,500 MB).  The leakage audit recomputes the set on the last ``audit.window_bars``
bars of every symbol only, so its memory does not grow with the history.

Everything that can be wrong with a request (unknown symbol or family, a series stored at
another timeframe, too little history for the lookbacks, a bad config) is raised as a
``KlineLabError`` before anything is written.  A feature set is cached by a key over the data
hashes of its inputs, the feature-set version and registry fingerprint, the config and the
parameters: the same request on the same data returns the stored artifact.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from config import settings
from config.errors import BadInput, NotFound
from engine.data.canonical import parse_utc, ts_ns
from engine.data.names import check_symbol
from engine.data.timeframes import infer_timeframe, parse_timeframe
from engine.features.audit import AuditResult, run_audit
from engine.features.config import FeaturesConfig, load_config
from engine.features.context import Bars, Universe
from engine.features.registry import FEATURESET_VERSION, FeatureDef, registry
from engine.features.store import (
    AUDIT_FILE,
    FEATURES_DIR,
    LABELS_DIR,
    TARGETS_DIR,
    ZIGZAG_DIR,
    has_tables,
    partition_file,
)
from engine.features.targets import TARGET_NAMES, compute_targets, max_horizon_bars, target_meta
from engine.features.zigzag import pivot_labels, zigzag_pivots
from storage.workspace import Workspace

MIN_ROWS_AFTER_WARMUP = 200
BUILD_MEMORY_MB = int(settings.BUILD_MEMORY_MB.default)  # MB the symbols in flight may hold (KLINELAB_BUILD_MEMORY_MB)
Progress = Callable[[float, str], None]


def _noop(fraction: float, message: str) -> None:
    pass


@dataclass
class Plan:
    """A validated request with its data loaded: nothing has been written yet."""

    symbols: list[str]
    timeframe: str
    families: list[str]
    features: list[FeatureDef]
    skipped: dict[str, str]
    bars: dict[str, Bars]
    reference: dict[str, Bars]  # BTC when it is not one of the symbols
    cfg: FeaturesConfig
    parents: list[str]
    data_hashes: dict[str, str]
    warmup: int
    params: dict = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def cache_key(self) -> str:
        doc = {"version": FEATURESET_VERSION, "registry": registry().fingerprint(), "config": self.cfg.fingerprint(),
               "params": self.params, "data": self.data_hashes, "features": self.feature_names}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _data_hash(ws: Workspace, aid: str, df: pd.DataFrame) -> str:
    from storage.artifacts import read_manifest

    try:
        h = read_manifest(ws, aid, "ohlcv").extra.get("data_sha256")
    except NotFound:
        h = None
    if h:
        return h
    from engine.data.store import data_hash

    return data_hash(df)


def _load_series(ws: Workspace, symbol: str, tf: str, start, end) -> tuple[pd.DataFrame, str]:
    from engine.data.store import available, load_candles, series_id

    aid = series_id(symbol, tf)
    if not (ws.artifact_dir("ohlcv", aid) / "ohlcv.parquet").is_file():
        other = sorted({t for s, t in available(ws) if s == symbol})
        if other:
            raise BadInput(f"mismatched timeframe: {symbol} has {', '.join(other)} candles, not {tf}",
                           hint=f"build at {other[0]} or resample it on the Data page (`python -m engine data resample "
                                f"{symbol} --from {other[0]} --to {tf}`)")
        known = sorted({s for s, _ in available(ws)})
        raise NotFound(f"unknown symbol {symbol}: there are no candles for it in the workspace",
                       hint=f"import it on the Data page; available: {', '.join(known) or 'none'}")
    df = load_candles(ws, symbol, tf, start=start, end=end)
    if len(df) >= 3:
        spacing = infer_timeframe(ts_ns(df["timestamp"]))
        if spacing != tf:
            raise BadInput(f"mismatched timeframes: the {symbol} {tf} series has bars {spacing or 'irregularly'} apart",
                           hint="re-import the file with the right --timeframe")
    return df, aid


def plan_build(ws: Workspace, symbols: list[str] | str, timeframe: str, *, families: list[str] | None = None,
               start=None, end=None, config_path: str | None = None) -> Plan:
    """Validate a request and load its data; raises KlineLabError naming the problem."""
    from engine.data.store import funding_id, load_funding

    tf = parse_timeframe(timeframe)
    if isinstance(symbols, str):
        symbols = symbols.split(",")
    syms = [check_symbol(s) for s in symbols if str(s).strip()]
    if not syms:
        raise BadInput("no symbol given", hint="pass --symbols BTCUSDT,ETHUSDT,...")
    dup = sorted({s for s in syms if syms.count(s) > 1})
    if dup:
        raise BadInput(f"symbol(s) given twice: {', '.join(dup)}")
    syms = sorted(syms)
    reg = registry()
    fams = reg.check_families(families)
    cfg = load_config(config_path)
    t0, t1 = parse_utc(start, "start time"), parse_utc(end, "end time")
    if t0 is not None and t1 is not None and t1 <= t0:
        raise BadInput(f"end {t1} is not after start {t0}")
    bars: dict[str, Bars] = {}
    parents: list[str] = []
    hashes: dict[str, str] = {}
    for s in syms:
        df, aid = _load_series(ws, s, tf, t0, t1)
        fund = load_funding(ws, s)
        if fund is not None and len(fund):
            fund = pd.DataFrame({"timestamp": ts_ns(fund["timestamp"]), "funding_rate": fund["funding_rate"].to_numpy()})
            if t1 is not None:
                fund = fund[fund["timestamp"] <= t1.value]
            parents.append(funding_id(s))
            hashes[funding_id(s)] = hashlib.sha256(fund.to_numpy().tobytes()).hexdigest()
        else:
            fund = None
        if len(df) == 0:
            raise BadInput(f"too little history: {s} {tf} has no bars between {t0 or 'the start'} and {t1 or 'the end'}")
        bars[s] = Bars.from_frame(s, tf, df, fund)
        parents.append(aid)
        hashes[aid] = _data_hash(ws, aid, df)
    reference: dict[str, Bars] = {}
    inputs = set.intersection(*(b.inputs() for b in bars.values()))
    if "cross_asset" in fams:
        if len(syms) >= 2:
            inputs.add("universe")
        btc = cfg.btc_symbol
        if btc in bars:
            inputs.add("btc")
        else:
            try:
                df, aid = _load_series(ws, btc, tf, t0, t1)
            except (NotFound, BadInput):
                df = None
            if df is not None and len(df):
                reference[btc] = Bars.from_frame(btc, tf, df)
                parents.append(aid)
                hashes[aid] = _data_hash(ws, aid, df)
                inputs.add("btc")
    feats, skipped = reg.select(fams, inputs)
    if not feats:
        raise BadInput(f"none of the features of {', '.join(fams)} can be built from these symbols",
                       hint="; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3]))
    warmup = max(f.lookback for f in feats)
    need = warmup + MIN_ROWS_AFTER_WARMUP + max_horizon_bars(tf)
    for s, b in bars.items():
        if len(b) < need:
            raise BadInput(f"too little history: {s} {tf} has {len(b)} bars, the chosen features need {warmup} bars of "
                           f"history plus at least {MIN_ROWS_AFTER_WARMUP + max_horizon_bars(tf)} rows (so {need})",
                           hint="widen the date range or choose fewer families")
    params = {"symbols": syms, "timeframe": tf, "families": fams, "start": None if t0 is None else t0.isoformat(),
              "end": None if t1 is None else t1.isoformat(), "config": cfg.source, "featureset_version": FEATURESET_VERSION}
    return Plan(syms, tf, fams, feats, skipped, bars, reference, cfg, parents, hashes, warmup, params)


def _families(features: list[FeatureDef]):
    """{family: [wanted names]}, the symbol-scope families and the universe-scope ones."""
    reg = registry()
    wanted: dict[str, list[str]] = {}
    for f in features:
        wanted.setdefault(f.family, []).append(f.name)
    sym_fams = [reg.families[f] for f in wanted if reg.families[f].scope == "symbol"]
    uni_fams = [reg.families[f] for f in wanted if reg.families[f].scope == "universe"]
    return wanted, sym_fams, uni_fams


def _symbol_values(b: Bars, wanted: dict[str, list[str]], sym_fams, cfg: FeaturesConfig) -> dict[str, np.ndarray]:
    res = {}
    for fam in sym_fams:
        vals = fam.compute(b, cfg)
        for name in wanted[fam.name]:
            res[name] = vals[name]
    return res


def make_universe(bars: dict[str, Bars], reference: dict[str, Bars], timeframe: str, features: list[FeatureDef],
                  cfg: FeaturesConfig) -> Universe | None:
    """The aligned close matrix of every symbol (+ the BTC reference) when a universe-scope family
    is wanted; None otherwise."""
    if not _families(features)[2]:
        return None
    ref = {k: v for k, v in reference.items() if k not in bars}
    btc = cfg.btc_symbol if (cfg.btc_symbol in bars or cfg.btc_symbol in ref) else None
    return Universe.build(bars, timeframe, btc, ref, {s: cfg.sector_of(s) for s in bars})


def symbol_features(b: Bars, universe: Universe | None, features: list[FeatureDef],
                    cfg: FeaturesConfig) -> dict[str, np.ndarray]:
    """{feature name: float64 array over the symbol's rows} for one symbol (in ``features`` order);
    the cross-asset values come from ``universe`` (the same values as in the whole-set computation)."""
    wanted, sym_fams, uni_fams = _families(features)
    out = _symbol_values(b, wanted, sym_fams, cfg)
    for fam in uni_fams:
        vals = fam.compute(universe, cfg, symbols=[b.symbol])[b.symbol]
        for name in wanted[fam.name]:
            out[name] = vals[name]
    return {f.name: out[f.name] for f in features}


def compute_features(bars: dict[str, Bars], reference: dict[str, Bars], timeframe: str, features: list[FeatureDef],
                     cfg: FeaturesConfig, progress: Progress = _noop) -> dict[str, dict[str, np.ndarray]]:
    """{symbol: {feature name: float64 array over the symbol's rows}} for ``features``, every symbol
    in memory at once (the leakage audit's windows; the build itself goes symbol by symbol)."""
    wanted, sym_fams, uni_fams = _families(features)
    out: dict[str, dict[str, np.ndarray]] = {s: {} for s in bars}

    # TA-Lib, numpy and the numba kernels (nogil) release the GIL: symbols run on threads
    workers = max(1, min(len(bars), os.cpu_count() or 1, 8))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_symbol_values, b, wanted, sym_fams, cfg): s for s, b in bars.items()}
        for i, fut in enumerate(as_completed(futures)):
            s = futures[fut]
            out[s].update(fut.result())
            progress((i + 1) / max(len(bars), 1), f"features: {s}")
    if uni_fams:
        u = make_universe(bars, reference, timeframe, features, cfg)
        for fam in uni_fams:
            vals = fam.compute(u, cfg)
            for s in bars:
                for name in wanted[fam.name]:
                    out[s][name] = vals[s][name]
    order = [f.name for f in features]
    return {s: {n: d[n] for n in order} for s, d in out.items()}


def audit_plan(plan: Plan, *, window: int | None = None, cut_fractions: tuple[float, ...] | None = None,
               progress: Progress = _noop) -> AuditResult:
    cfg = plan.cfg
    w = max(window or cfg.audit_window_bars, plan.warmup + MIN_ROWS_AFTER_WARMUP)

    def compute(b: dict[str, Bars]) -> dict[str, dict[str, np.ndarray]]:
        ref = {}
        if plan.reference:
            last = max(int(x.ts[-1]) for x in b.values())
            first = min(int(x.ts[0]) for x in b.values())
            ref = {k: r.sliced(int(np.searchsorted(r.ts, first)), int(np.searchsorted(r.ts, last, side="right")))
                   for k, r in plan.reference.items()}
            ref = {k: r for k, r in ref.items() if len(r)}
        return compute_features(b, ref, plan.timeframe, plan.features, cfg)

    return run_audit(compute, plan.bars, window=w, cut_fractions=cut_fractions or cfg.audit_cut_fractions,
                     rtol=cfg.audit_rtol, atol=cfg.audit_atol, progress=progress)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    return v


def _ts_array(ns: np.ndarray) -> pa.Array:
    return pa.array(ns // 1_000_000, type=pa.timestamp("ms", tz="UTC"))


def _write_table(columns: dict[str, pa.Array], path) -> None:
    # dictionary-encode the symbol only: trying it on every float column costs 5x the write time
    pq.write_table(pa.table(columns), path, compression="zstd", compression_level=1, use_dictionary=["symbol"])


ZIGZAG_SCHEMA = pa.schema([("symbol", pa.string()), ("pivot_time", pa.timestamp("ms", tz="UTC")),
                           ("confirm_time", pa.timestamp("ms", tz="UTC")), ("price", pa.float64()),
                           ("side", pa.string()), ("type", pa.string()), ("label", pa.int8())])


def find_cached(ws: Workspace, key: str) -> str | None:
    from storage.artifacts import list_manifests

    for m in list_manifests(ws, "features"):
        if m.extra.get("cache_key") == key:
            d = ws.artifact_dir("features", m.id)
            if has_tables(d, (FEATURES_DIR, TARGETS_DIR, ZIGZAG_DIR, LABELS_DIR)) and (d / AUDIT_FILE).is_file():
                return m.id
    return None


@dataclass
class SymbolStats:
    rows: int
    pivots: int
    first_ns: int
    last_ns: int


def build_workers(plan: Plan) -> int:
    """Symbols computed at once: the cores, but no more than the float64 columns of the largest
    symbol (about 2.5 copies of them in flight: the values, their float32 table, intermediates)
    allow within ``KLINELAB_BUILD_MEMORY_MB``."""
    budget = float(settings.BUILD_MEMORY_MB.get()) * 2**20
    per_symbol = max(len(b) for b in plan.bars.values()) * (len(plan.features) + len(TARGET_NAMES)) * 8 * 2.5
    return max(1, min(len(plan.bars), os.cpu_count() or 1, 8, int(budget // max(per_symbol, 1))))


def write_symbol(plan: Plan, s: str, universe: Universe | None, meta: dict, path: Callable[[str], object]) -> SymbolStats:
    """Compute one symbol's features, targets, labels and ZigZag pivots and write them as its four
    Parquet files (``path(relative)`` gives where); nothing of it stays in memory afterwards."""
    cfg, tf = plan.cfg, plan.timeframe
    b = plan.bars[s]
    feats = symbol_features(b, universe, plan.features, cfg)
    keep = slice(plan.warmup, len(b))
    ts = b.ts[keep]
    n = len(ts)
    ts_arr = _ts_array(ts)
    sym_arr = pa.array(np.full(n, s, dtype=object), type=pa.string())
    fcols: dict[str, pa.Array] = {"timestamp": ts_arr, "symbol": sym_arr}
    for nm in plan.feature_names:
        v = feats.pop(nm)[keep].astype(np.float32)
        v[~np.isfinite(v)] = np.nan
        fcols[nm] = pa.array(v)
    _write_table(fcols, path(partition_file(FEATURES_DIR, s)))
    del fcols, feats
    tv = compute_targets(b.ts, b.high, b.low, b.close, tf, cfg, cost=plan.params["best_action_cost"][s])
    tcols: dict[str, pa.Array] = {"timestamp": ts_arr, "symbol": sym_arr}
    for nm in TARGET_NAMES:
        v = tv[nm][keep]
        mask = np.isnan(v)
        if meta[nm]["type"] == "regression":
            tcols[nm] = pa.array(v, mask=mask, type=pa.float64())
        else:
            tcols[nm] = pa.array(np.where(mask, 0, v).astype(np.int8), mask=mask, type=pa.int8())
    _write_table(tcols, path(partition_file(TARGETS_DIR, s)))
    del tcols, tv
    piv = zigzag_pivots(b.ts, b.high, b.low, cfg.zigzag_deviation(tf))
    lab = pivot_labels(len(b), piv, pd.to_datetime(b.ts, utc=True).as_unit("ms")).iloc[plan.warmup:]
    ltab = {"timestamp": ts_arr, "symbol": sym_arr, "pivot": pa.array(lab["pivot"].to_numpy(), type=pa.int8()),
            "pivot_label": pa.array(lab["pivot_label"].to_numpy(), type=pa.int8()),
            "confirm_time": pa.array(lab["confirm_time"].dt.tz_convert(None).to_numpy(), type=pa.timestamp("ms", tz="UTC"),
                                     from_pandas=True)}
    _write_table(ltab, path(partition_file(LABELS_DIR, s)))
    zz = piv.drop(columns=["pivot_idx", "confirm_idx"])
    zz.insert(0, "symbol", s)
    pq.write_table(pa.Table.from_pandas(zz, schema=ZIGZAG_SCHEMA, preserve_index=False),
                   path(partition_file(ZIGZAG_DIR, s)))
    return SymbolStats(n, len(zz), int(ts[0]), int(ts[-1]))


def write_by_symbol(plan: Plan, path: Callable[[str], object], meta: dict,
                    progress: Progress = _noop) -> dict[str, SymbolStats]:
    """Every symbol's files, at most ``build_workers(plan)`` symbols in memory at once."""
    universe = make_universe(plan.bars, plan.reference, plan.timeframe, plan.features, plan.cfg)
    stats: dict[str, SymbolStats] = {}
    with ThreadPoolExecutor(max_workers=build_workers(plan)) as pool:
        futures = {pool.submit(write_symbol, plan, s, universe, meta, path): s for s in plan.symbols}
        for i, fut in enumerate(as_completed(futures)):
            s = futures[fut]
            stats[s] = fut.result()
            progress((i + 1) / len(plan.symbols), f"features: {s} ({stats[s].rows} rows with targets and ZigZag written)")
    return {s: stats[s] for s in plan.symbols}


def build_feature_set(ws: Workspace, symbols, timeframe: str, *, families=None, start=None, end=None,
                      config_path: str | None = None, use_cache: bool = True, audit: bool = True, name: str = "",
                      progress: Progress = _noop) -> dict:
    """Build (or find in the cache) a feature set; returns the CLI's JSON document."""
    from storage.artifacts import create_artifact

    t_start = time.perf_counter()
    progress(0.0, "checking the request and loading candles")
    plan = plan_build(ws, symbols, timeframe, families=families, start=start, end=end, config_path=config_path)
    plan.params["audited"] = bool(audit)  # an unaudited set never answers a request for an audited one
    from engine.costs import load_costs
    from engine.features.targets import best_action_cost

    costs = load_costs()  # the one cost model: best_action_4h's round trip per symbol (part of the cache key)
    plan.params["best_action_cost"] = {s: best_action_cost(plan.cfg, s, costs) for s in plan.symbols}
    key = plan.cache_key()
    if use_cache:
        cached = find_cached(ws, key)
        if cached:
            progress(1.0, f"cached: {cached}")
            return result_document(ws, cached, cached=True)
    cfg, tf = plan.cfg, plan.timeframe
    names = plan.feature_names
    meta = target_meta(tf, cfg, plan.params["best_action_cost"])
    audit_res = None
    if audit:
        progress(0.02, "leakage audit")
        audit_res = audit_plan(plan, progress=lambda f, m: progress(0.02 + 0.2 * f, m))
    leaking = audit_res.leaking if audit_res else []
    with create_artifact(ws, "features", name=name or f"{','.join(plan.symbols)} {tf}", symbols=plan.symbols,
                         timeframe=tf, params=plan.params, parents=plan.parents) as d:
        stats = write_by_symbol(plan, d.path, meta, lambda f, m: progress(0.22 + 0.73 * f, m))
        progress(0.95, "hashing the feature set")
        audit_doc = audit_res.to_dict() if audit_res else {"passed": None, "skipped": "built with --no-audit"}
        d.path(AUDIT_FILE).write_text(json.dumps(_jsonable(audit_doc), indent=1))
        m = d.manifest
        first = pd.Timestamp(min(st.first_ns for st in stats.values()), unit="ns", tz="UTC")
        last = pd.Timestamp(max(st.last_ns for st in stats.values()), unit="ns", tz="UTC")
        m.start, m.end = first.isoformat(), last.isoformat()
        m.metrics = {"n_features": len(names), "n_targets": len(TARGET_NAMES), "rows": sum(st.rows for st in stats.values()),
                     "n_leaking": len(leaking), "pivots": sum(st.pivots for st in stats.values()),
                     "build_seconds": round(time.perf_counter() - t_start, 2)}
        m.extra = {
            "feature_names": names,
            "feature_families": {f.name: f.family for f in plan.features},
            "target_names": list(TARGET_NAMES),
            "targets": meta,
            "max_horizon_bars": max_horizon_bars(tf),
            "leaking": leaking,
            "audit": audit_res.summary() if audit_res else {"passed": None},
            "zigzag": {"deviation_pct": cfg.zigzag_deviation(tf)},
            "cache_key": key,
            "skipped_features": plan.skipped,
            "warmup_bars": plan.warmup,
            "rows_per_symbol": {s: st.rows for s, st in stats.items()},
            "pivots_per_symbol": {s: st.pivots for s, st in stats.items()},
            "layout": "by_symbol",
            "feature_dtype": "float32",
            "data_sha256": plan.data_hashes,
            "registry_fingerprint": registry().fingerprint(),
            "config_fingerprint": cfg.fingerprint(),
            "costs": {"cost_model": costs.to_dict(), "best_action_4h_round_trip": plan.params["best_action_cost"],
                      "fee_override_pct_per_side": cfg.fee_pct_per_side},
        }
        fid = d.id
    progress(1.0, f"done: {fid}")
    return result_document(ws, fid, cached=False)


def _table_path(fs, table: str):
    """The folder of a by_symbol table (pandas / polars / DuckDB read it as one dataset); the file
    of a single-layout one."""
    return fs.path / table if fs.layout == "by_symbol" else fs.table_files(table)[0]


def result_document(ws: Workspace, featureset_id: str, *, cached: bool) -> dict:
    from engine.features.store import load_feature_set

    fs = load_feature_set(ws, featureset_id)
    audit = fs.manifest.extra.get("audit", {})
    doc = {
        "featureset_id": fs.id,
        "cached": cached,
        "timeframe": fs.timeframe,
        "symbols": fs.symbols,
        "rows": fs.manifest.metrics.get("rows"),
        "layout": fs.layout,
        "features_path": str(_table_path(fs, FEATURES_DIR)),
        "targets_path": str(_table_path(fs, TARGETS_DIR)),
        "zigzag_path": str(_table_path(fs, ZIGZAG_DIR)),
        "labels_path": str(_table_path(fs, LABELS_DIR)),
        "audit_path": str(fs.path / AUDIT_FILE),
        "feature_tables": [str(p) for p in fs.table_files(FEATURES_DIR)],
        "target_tables": [str(p) for p in fs.table_files(TARGETS_DIR)],
        "n_features": len(fs.feature_names),
        "feature_names": fs.feature_names,
        "target_names": fs.target_names,
        "max_horizon_bars": fs.max_horizon_bars,
        "leaking": fs.leaking,
        "audit_passed": audit.get("passed"),
        "skipped_features": fs.manifest.extra.get("skipped_features", {}),
    }
    doc["_text"] = (f"{'cached' if cached else 'built'} {fs.id}: {len(fs.symbols)} symbol(s) {fs.timeframe}, "
                    f"{doc['rows']} rows, {len(fs.feature_names)} features, {len(fs.target_names)} targets, "
                    f"audit {'passed' if audit.get('passed') else 'NOT passed' if audit.get('passed') is False else 'skipped'}"
                    f"{' (leaking: ' + ', '.join(fs.leaking) + ')' if fs.leaking else ''}\n"
                    f"  features: {doc['features_path']}\n  targets:  {doc['targets_path']}")
    return doc
