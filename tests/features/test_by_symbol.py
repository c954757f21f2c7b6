"""The memory-bounded build: one Parquet file per symbol and table, written symbol by symbol,
holds exactly what the whole-table build (every symbol in memory, one file per table) held, column
for column; readers open only the symbols and columns they ask for; a set in the old single-file
layout still reads the same."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from engine.features.pipeline import _jsonable, audit_plan, build_feature_set, compute_features, plan_build
from engine.features.store import load_feature_set
from engine.features.targets import TARGET_NAMES, compute_targets, target_meta
from engine.features.zigzag import pivot_labels, zigzag_pivots

START = "2026-01-20"


def _whole_table(plan, tmp) -> dict[str, pd.DataFrame]:
    """The build before the per-symbol pipeline, verbatim: every symbol's features computed at once
    (compute_features over all bars), concatenated into one table per kind."""
    from engine.costs import load_costs
    from engine.features.targets import best_action_cost

    cost = {s: best_action_cost(plan.cfg, s, load_costs()) for s in plan.symbols}
    feats = compute_features(plan.bars, plan.reference, plan.timeframe, plan.features, plan.cfg)
    tf, cfg = plan.timeframe, plan.cfg
    meta = target_meta(tf, cfg, cost)
    f, t, lab, zz = [], [], [], []
    for s in plan.symbols:
        b = plan.bars[s]
        keep = slice(plan.warmup, len(b))
        ts = pd.to_datetime(b.ts[keep], utc=True).as_unit("ms")
        cols = {"timestamp": ts, "symbol": s}
        for n in plan.feature_names:
            v = feats[s][n][keep].astype(np.float32)
            v[~np.isfinite(v)] = np.nan
            cols[n] = v
        f.append(pd.DataFrame(cols))
        tv = compute_targets(b.ts, b.high, b.low, b.close, tf, cfg, cost=cost[s])
        tcols = {"timestamp": ts, "symbol": s}
        for n in TARGET_NAMES:
            tcols[n] = tv[n][keep]
        t.append(pd.DataFrame(tcols))
        piv = zigzag_pivots(b.ts, b.high, b.low, cfg.zigzag_deviation(tf))
        lb = pivot_labels(len(b), piv, pd.to_datetime(b.ts, utc=True).as_unit("ms")).iloc[plan.warmup:]
        lab.append(pd.DataFrame({"timestamp": ts, "symbol": s, "pivot": lb["pivot"].to_numpy(),
                                 "pivot_label": lb["pivot_label"].to_numpy(), "confirm_time": lb["confirm_time"].array}))
        z = piv.drop(columns=["pivot_idx", "confirm_idx"])
        z.insert(0, "symbol", s)
        zz.append(z)
    out = {"features": pd.concat(f, ignore_index=True), "targets": pd.concat(t, ignore_index=True),
           "labels": pd.concat(lab, ignore_index=True), "zigzag": pd.concat(zz, ignore_index=True)}
    for n in TARGET_NAMES:  # int8 with nulls in the file: float64 with NaN read back
        out["targets"][n] = out["targets"][n].astype("float64")
    assert set(meta) == set(TARGET_NAMES)
    for k, df in out.items():  # one file per table, read back as the old loader did
        df.to_parquet(tmp / f"{k}.parquet", index=False)
        out[k] = pd.read_parquet(tmp / f"{k}.parquet")
    return out


@pytest.mark.parametrize("symbols,families", [
    (["BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], None),  # every family, BTC in the set
    (["ETHUSDT", "SOLUSDT"], ["returns", "cross_asset", "volatility"]),  # BTC loaded as the reference only
])
def test_per_symbol_build_equals_the_whole_table_build(sample_ws, symbols, families, monkeypatch, tmp_path):
    monkeypatch.setenv("KLINELAB_BUILD_MEMORY_MB", "1")  # one symbol in flight at a time
    doc = build_feature_set(sample_ws, symbols, "15m", families=families, start=START)
    fs = load_feature_set(sample_ws, doc["featureset_id"])
    assert fs.layout == "by_symbol" and fs.manifest.extra["layout"] == "by_symbol"
    for table in ("features", "targets", "labels", "zigzag"):
        assert sorted(p.name for p in (fs.path / table).iterdir()) == sorted(f"{s}.parquet" for s in symbols)
    files = {f.path for f in fs.manifest.files}
    assert {f"features/{s}.parquet" for s in symbols} <= files and {f"zigzag/{s}.parquet" for s in symbols} <= files
    assert doc["feature_tables"] == [str(fs.path / "features" / f"{s}.parquet") for s in sorted(symbols)]

    plan = plan_build(sample_ws, symbols, "15m", families=families, start=START)
    ref = _whole_table(plan, tmp_path)
    pd.testing.assert_frame_equal(fs.features(), ref["features"], check_dtype=True)
    pd.testing.assert_frame_equal(fs.targets(), ref["targets"])
    pd.testing.assert_frame_equal(fs.labels(), ref["labels"])
    pd.testing.assert_frame_equal(fs.zigzag(), ref["zigzag"])
    audit = audit_plan(plan)  # the same audit on the same windows
    assert json.loads((fs.path / "audit.json").read_text()) == json.loads(json.dumps(_jsonable(audit.to_dict())))
    assert fs.manifest.metrics["rows"] == len(ref["features"]) and fs.manifest.metrics["pivots"] == len(ref["zigzag"])
    assert fs.manifest.extra["rows_per_symbol"] == ref["features"].groupby("symbol").size().to_dict()


def test_readers_open_only_the_symbols_and_columns_asked_for(feature_ws, ws):
    fs = load_feature_set(ws, feature_ws)
    assert fs.layout == "by_symbol"
    one = fs.features(["rsi_14"], symbols=["ETHUSDT"])
    assert list(one.columns) == ["timestamp", "symbol", "rsi_14"] and set(one["symbol"]) == {"ETHUSDT"}
    assert len(one) == fs.manifest.extra["rows_per_symbol"]["ETHUSDT"] == fs.rows(["ETHUSDT"])
    assert fs.table_files("features", ["SOLUSDT", "ETHUSDT"]) == [fs.path / "features" / "ETHUSDT.parquet",
                                                                 fs.path / "features" / "SOLUSDT.parquet"]
    whole = fs.features(["rsi_14"])
    pd.testing.assert_frame_equal(one, whole[whole["symbol"] == "ETHUSDT"].reset_index(drop=True))
    # a symbol the set lacks: no rows, the same columns (as the row filter of the single file gave)
    none = fs.targets(["direction_4h"], symbols=["XRPUSDT"])
    assert none.empty and list(none.columns) == ["timestamp", "symbol", "direction_4h"]
    # a lazy dataset for callers that stream: projection + filter, nothing read until asked
    tab = fs.dataset("labels", ["SOLUSDT"]).to_table(columns=["pivot"], filter=pc.field("pivot") == 1)
    assert tab.num_rows == int((fs.labels(["SOLUSDT"])["pivot"] == 1).sum()) > 0


def test_a_single_file_feature_set_still_reads_the_same(feature_ws, ws):
    """Sets written before the by_symbol layout (features.parquet, targets.parquet, ... one file each)."""
    from storage.artifacts import create_artifact

    fs = load_feature_set(ws, feature_ws)
    tables = {"features.parquet": fs.features(), "targets.parquet": fs.targets(), "labels.parquet": fs.labels(),
              "zigzag.parquet": fs.zigzag()}
    with create_artifact(ws, "features", name="old layout", symbols=fs.symbols, timeframe=fs.timeframe,
                         parents=fs.manifest.parents) as d:
        for name, df in tables.items():
            df.to_parquet(d.path(name), index=False)
        d.path("audit.json").write_text((fs.path / "audit.json").read_text())
        d.manifest.extra = {k: v for k, v in fs.manifest.extra.items() if k != "layout"}
    old = load_feature_set(ws, d.id)
    assert old.layout == "single" and old.table_files("features") == [old.path / "features.parquet"]
    pd.testing.assert_frame_equal(old.features(), tables["features.parquet"])
    pd.testing.assert_frame_equal(old.targets(["direction_4h"], symbols=["SOLUSDT"]),
                                  fs.targets(["direction_4h"], symbols=["SOLUSDT"]))
    pd.testing.assert_frame_equal(old.zigzag(["ETHUSDT"]), fs.zigzag(["ETHUSDT"]))
    assert old.rows(["BTCUSDT"]) == fs.rows(["BTCUSDT"])
    from engine.stage2.data import load_pair

    a, b = load_pair(ws, d.id, "ETHUSDT", with_candles=False), load_pair(ws, feature_ws, "ETHUSDT", with_candles=False)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert (a.pivot_label == b.pivot_label).all() and (a.confirm_ns == b.confirm_ns).all()


def test_parquet_files_are_per_symbol_and_self_describing(feature_ws, ws):
    fs = load_feature_set(ws, feature_ws)
    t = pq.read_table(fs.path / "features" / "BTCUSDT.parquet", columns=["timestamp", "symbol"])
    assert set(t.column("symbol").to_pylist()) == {"BTCUSDT"}
    whole = pd.read_parquet(fs.path / "features")  # pandas / pyarrow read the folder as one dataset
    assert len(whole) == fs.manifest.metrics["rows"]
