"""Artifacts of every kind the sync groups carry, written through ``create_artifact`` in the
layouts of docs/CONTRACTS.md, with real file formats (parquet from the real sample, a torch
checkpoint, an HDF5 Keras-style file, a LightGBM text model)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


def _features(ws):
    from engine.data.store import load_candles
    from storage.artifacts import create_artifact

    c = load_candles(ws, "BTCUSDT", "15m").iloc[:2000]
    ret = c.close.pct_change()
    feats = pd.DataFrame({"timestamp": c.timestamp, "symbol": "BTCUSDT", "ret_1": ret.astype("float32"),
                          "range": ((c.high - c.low) / c.close).astype("float32")})
    targets = pd.DataFrame({"timestamp": c.timestamp, "symbol": "BTCUSDT",
                            "future_return_15m": c.close.shift(-1) / c.close - 1})
    with create_artifact(ws, "features", name="BTC 15m features", symbols=["BTCUSDT"], timeframe="15m",
                         parents=["ohlcv-BTCUSDT-15m"], params={"families": ["returns"]}) as d:
        feats.to_parquet(d.path("features.parquet"), index=False)
        targets.to_parquet(d.path("targets.parquet"), index=False)
        d.path("audit.json").write_text(json.dumps({"leaking": []}))
        d.manifest.extra = {"feature_names": ["ret_1", "range"], "target_names": ["future_return_15m"], "leaking": []}
        d.manifest.start, d.manifest.end = str(c.timestamp.iloc[0]), str(c.timestamp.iloc[-1])
    return d.id


def _analysis(ws, fs_id):
    from storage.artifacts import create_artifact

    with create_artifact(ws, "analysis", name="report", symbols=["BTCUSDT"], timeframe="15m", parents=[fs_id],
                         params={"target": "direction_1h"}) as d:
        pd.DataFrame({"feature": ["ret_1", "range"], "mean": [0.0, 0.01]}).to_csv(d.path("feature_statistics.csv"), index=False)
        d.path("excluded_features.txt").write_text("# high correlation\nrange\n")
        d.path("included_features.txt").write_text("ret_1\n")
        d.path("feature_analysis_report.html").write_text("<html><body><h1>Feature analysis</h1></body></html>")
        d.path("plots/importance.html").write_text("<div>plot</div>")
        d.manifest.metrics = {"n_features": 2}
    return d.id


def _model(ws, fs_id):
    import torch

    from storage.artifacts import create_artifact

    net = torch.nn.Linear(4, 3)
    with create_artifact(ws, "model", name="direction", symbols=["BTCUSDT"], timeframe="15m", parents=[fs_id],
                         params={"model": "direction"}) as d:
        torch.save(net.state_dict(), d.path("checkpoints/best.pt"))
        torch.save(net.state_dict(), d.path("checkpoints/last.pt"))
        d.path("config.yaml").write_text("model: direction\ncontext: 96\n")
        d.path("scaler.json").write_text(json.dumps({"center_": [0.0, 0.1], "scale_": [1.0, 2.0], "features": ["ret_1", "range"]}))
        pd.DataFrame({"epoch": [1, 2], "val_loss": [0.9, 0.8]}).to_csv(d.path("metrics.csv"), index=False)
        d.manifest.metrics = {"val_loss": 0.8}
    return d.id


def _stage1(ws, symbol="BTCUSDT", tf="15m", seed=0):
    import h5py

    from storage.artifacts import create_artifact

    with create_artifact(ws, "stage1", name=f"stage1 {symbol} {tf}", symbols=[symbol], timeframe=tf) as d:
        with h5py.File(d.path(f"v1_model/{symbol}/{tf}/classification.h5"), "w") as h:
            h.create_dataset("dense/kernel", data=np.random.default_rng(seed).normal(size=(8, 2)).astype("float32"))
        d.path(f"v1_model/{symbol}/{tf}/params.json").write_text(json.dumps(
            {"mean": [0.0] * 8, "std": [1.0] * 8, "sequence_length": 30, "metrics": {"accuracy": 0.71, "f1": 0.4}}))
    return d.id


def _stage2(ws, fs_id):
    import lightgbm as lgb

    from storage.artifacts import create_artifact

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)
    booster = lgb.train({"objective": "multiclass", "num_class": 4, "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, y), num_boost_round=3)
    with create_artifact(ws, "stage2", name="stage2 BTC 15m", symbols=["BTCUSDT"], timeframe="15m", parents=[fs_id]) as d:
        booster.save_model(str(d.path("model.txt")))
        d.path("scaler.json").write_text(json.dumps({"mean": [0, 0, 0], "scale": [1, 1, 1]}))
        d.path("summary.txt").write_text("Stage 2 summary\naccuracy 0.5\n")
        d.manifest.metrics = {"accuracy": 0.5}
    return d.id


@pytest.fixture
def artifacts(sample_ws):
    """The sample workspace plus one artifact of each kind the Hub groups carry; returns their ids."""
    fs = _features(sample_ws)
    ids = {"features": fs, "analysis": _analysis(sample_ws, fs), "model": _model(sample_ws, fs),
           "stage1": _stage1(sample_ws), "stage2": _stage2(sample_ws, fs)}
    return ids


@pytest.fixture
def make_stage1():
    return _stage1
