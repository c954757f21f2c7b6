"""Fixtures of the training tests: small feature / target tables built from the bundled real
candles with TA-Lib (a stand-in for a full feature set where a test only needs windows), and
a tiny training config."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
import torch

from engine.training.config import loads

HORIZON_BARS = {"15m": 1, "1h": 4, "4h": 16, "12h": 48}
THRESHOLDS = {"15m": 0.0015, "1h": 0.003, "4h": 0.007, "12h": 0.01}


def candle_tables(candles: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """features (timestamp, symbol, 8 TA-Lib / return features) and targets (future return and
    direction per horizon, null where the horizon runs past the data) of real candles."""
    feats, targs = [], []
    for sym, c in candles.items():
        close, high, low, vol = (c[k].to_numpy("float64") for k in ("close", "high", "low", "volume"))
        f = pd.DataFrame({"timestamp": c.timestamp.to_numpy(), "symbol": sym})
        f["ret_1"] = np.r_[np.nan, np.diff(np.log(close))]
        f["ret_4"] = pd.Series(np.log(close)).diff(4).to_numpy()
        f["rsi_14"] = talib.RSI(close, 14)
        f["natr_14"] = talib.NATR(high, low, close, 14)
        f["adx_14"] = talib.ADX(high, low, close, 14)
        macd, sig, _ = talib.MACD(close)
        f["macd_hist"] = (macd - sig) / close
        f["vol_z"] = ((pd.Series(vol) - pd.Series(vol).rolling(48).mean()) / pd.Series(vol).rolling(48).std()).to_numpy()
        f["range"] = (high - low) / close
        t = pd.DataFrame({"timestamp": c.timestamp.to_numpy(), "symbol": sym})
        for h, n in HORIZON_BARS.items():
            fut = pd.Series(close).shift(-n).to_numpy() / close - 1
            t[f"future_return_{h}"] = fut
            d = np.where(fut > THRESHOLDS[h], 2.0, np.where(fut < -THRESHOLDS[h], 0.0, 1.0))
            t[f"direction_{h}"] = np.where(np.isfinite(fut), d, np.nan)
        t["long_reach_1pct_4h"] = np.where(np.isfinite(t["future_return_4h"]),
                                           (pd.Series(high[::-1]).rolling(16).max()[::-1].shift(-1).to_numpy() / close - 1 > 0.01)
                                           .astype(float), np.nan)
        feats.append(f)
        targs.append(t)
    meta = {f"future_return_{h}": {"type": "regression", "horizon": h, "horizon_bars": n} for h, n in HORIZON_BARS.items()}
    meta |= {f"direction_{h}": {"type": "multiclass", "horizon": h, "horizon_bars": n, "classes": ["DOWN", "FLAT", "UP"]}
             for h, n in HORIZON_BARS.items()}
    meta["long_reach_1pct_4h"] = {"type": "binary", "horizon": "4h", "horizon_bars": 16}
    return pd.concat(feats, ignore_index=True), pd.concat(targs, ignore_index=True), meta


@pytest.fixture(scope="session")
def real_tables():
    """Two symbols x ~6 weeks of the bundled 15m sample."""
    from engine.data.sources.sample import SAMPLE_DIR

    candles = {}
    for sym in ("BTCUSDT", "ETHUSDT"):
        df = pd.read_parquet(SAMPLE_DIR / f"{sym}_15m.parquet")
        ts = "timestamp" if "timestamp" in df.columns else df.columns[0]
        df = df.rename(columns={ts: "timestamp"}).tail(4000).reset_index(drop=True)
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
        candles[sym] = df
    return candle_tables(candles)


TINY = """
data: {context_window: 32}
model:
  patchtst: {d_model: 16, n_heads: 2, n_layers: 1, d_ff: 32, patch_len: 8, patch_stride: 4, channel_summary: 4, hidden: 32}
  direction: {hidden: 16, n_blocks: 2}
training: {epochs: 2, batch_size: 64, lr: 0.003, num_threads: 1, max_batches_per_epoch: 8, device: cpu, seed: 7}
"""


@pytest.fixture
def tiny_cfg():
    torch.set_num_threads(1)
    return loads(TINY, "tiny")
