"""build_windows_lazy (a feature set's Parquet files read a column group / row block at a time,
the scaled matrix memory-mapped from a file) gives the WindowSet that build_windows gives on the
whole tables in memory, value for value."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from engine.features.store import load_feature_set
from engine.splits import chronological_split
from engine.training.dataset import build_windows, build_windows_lazy, target_specs

TARGETS = ["future_return_1h", "direction_4h", "long_reach_1pct_4h"]
AUX = ["future_return_4h"]


def _same(a, b) -> None:
    assert a.feature_names == b.feature_names and a.dropped_features == b.dropped_features
    assert torch.equal(a.x, b.x) and a.x.dtype == b.x.dtype == torch.float32
    assert np.array_equal(a.y.numpy(), b.y.numpy(), equal_nan=True)
    assert np.array_equal(a.y_raw, b.y_raw, equal_nan=True) and np.array_equal(a.aux.numpy(), b.aux.numpy(), equal_nan=True)
    assert a.counts() == b.counts() and all(np.array_equal(a.ends[k], b.ends[k]) for k in a.ends)
    assert np.array_equal(a.timestamps, b.timestamps) and list(a.symbols) == list(b.symbols)
    assert a.scalers.to_json() == b.scalers.to_json()
    e = a.ends["val"][:64]
    for p, q in zip(a.batch(e), b.batch(e), strict=True):
        assert np.array_equal(p.numpy(), q.numpy(), equal_nan=True)


@pytest.mark.parametrize("symbols,memory_mb", [(None, 2.0), (["ETHUSDT", "SOLUSDT"], 0.5)])
def test_lazy_windows_equal_the_in_memory_build(feature_ws, ws, tmp_path, symbols, memory_mb):
    fs = load_feature_set(ws, feature_ws)
    inputs = [n for n in fs.usable_features() if n != "rsi_14"] + ["rsi_14"]  # not the registry order
    feats = fs.features(inputs, symbols=symbols)
    targs = fs.targets(TARGETS + AUX, symbols=symbols)
    keep = (feats["timestamp"] >= pd.Timestamp("2025-12-20", tz="UTC")).to_numpy()  # data.start
    feats, targs = feats[keep].reset_index(drop=True), targs[keep].reset_index(drop=True)
    specs = target_specs(fs.target_meta, TARGETS)
    plan = chronological_split(feats["timestamp"], fs.timeframe, purge_bars=fs.max_horizon_bars)
    kw = {"input_names": inputs, "specs": specs, "plan": plan, "context": 32, "stride": 3, "clip": 5.0, "aux_names": AUX}
    mem = build_windows(feats, targs, timeframe=fs.timeframe, **kw)
    lazy = build_windows_lazy(fs, scratch=tmp_path, symbols=symbols, keep=keep, memory_mb=memory_mb, **kw)
    assert (tmp_path / "x.f32").stat().st_size == lazy.x.numel() * 4  # memory-mapped, not in memory
    assert (tmp_path / "y_raw.rows").stat().st_size == lazy.y_raw.size * 4 and (tmp_path / "aux.rows").is_file()
    assert lazy.y.is_contiguous() and not (tmp_path / "y.f32").exists()  # rows on disk: a batch reads its rows' pages
    _same(mem, lazy)


def test_lazy_windows_on_a_single_file_set_and_dropped_inputs(feature_ws, ws, tmp_path):
    """The old one-file layout reads the same; a constant and a mostly missing input are dropped alike."""
    from storage.artifacts import create_artifact

    fs = load_feature_set(ws, feature_ws)
    inputs = fs.usable_features()[:20]
    f, t = fs.features(inputs), fs.targets(TARGETS + AUX)
    f["rsi_14"] = np.float32(1.0)  # constant
    f.loc[f.index[::3], inputs[1]] = np.nan  # missing on a third of the rows
    with create_artifact(ws, "features", name="old layout", symbols=fs.symbols, timeframe=fs.timeframe,
                         parents=fs.manifest.parents) as d:
        f.to_parquet(d.path("features.parquet"), index=False)
        t.to_parquet(d.path("targets.parquet"), index=False)
        d.manifest.extra = {k: v for k, v in fs.manifest.extra.items() if k != "layout"}
    old = load_feature_set(ws, d.id)
    assert old.layout == "single"
    names = inputs + (["rsi_14"] if "rsi_14" not in inputs else [])
    specs = target_specs(fs.target_meta, TARGETS)
    for symbols in (None, ["BTCUSDT", "SOLUSDT"]):
        ff, tt = old.features(names, symbols=symbols), old.targets(TARGETS + AUX, symbols=symbols)
        plan = chronological_split(ff["timestamp"], fs.timeframe, purge_bars=fs.max_horizon_bars)
        kw = {"input_names": names, "specs": specs, "plan": plan, "context": 16, "aux_names": AUX}
        mem = build_windows(ff, tt, timeframe=fs.timeframe, **kw)
        lazy = build_windows_lazy(old, scratch=tmp_path / str(len(symbols or [])), symbols=symbols, memory_mb=1.0, **kw)
        assert {"rsi_14", inputs[1]} <= set(mem.dropped_features)
        _same(mem, lazy)
