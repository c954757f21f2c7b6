"""Small real inputs for Stage 1 / Stage 2 unit tests: a few TA-Lib features of real sample
candles and ZigZag labels from a plain percentage ZigZag written here for the tests only
(the product's ZigZag lives in engine/features)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import talib

from engine.stage2.data import PairData

FEATURES = ["ret_1", "rsi_14", "atr_ratio", "bb_pos", "vol_z", "macd_hist"]


def zigzag_labels(close: np.ndarray, dev: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pivot (0/1), pivot_label (-1 / 0 HH / 1 LH / 2 HL / 3 LL) and the index of the bar that
    confirmed each pivot (-1 elsewhere).  A swing high is confirmed when the close falls ``dev``
    below the running high (and a low symmetrically)."""
    n = len(close)
    pivot = np.zeros(n, dtype="int8")
    label = np.full(n, -1, dtype="int8")
    conf = np.full(n, -1, dtype="int64")
    direction = 0
    ext_i = 0
    last = {"high": None, "low": None}
    for i in range(1, n):
        c = close[i]
        if direction == 0:
            if c >= close[0] * (1 + dev):
                direction, ext_i = 1, i
            elif c <= close[0] * (1 - dev):
                direction, ext_i = -1, i
            continue
        if direction == 1:
            if c > close[ext_i]:
                ext_i = i
            elif c <= close[ext_i] * (1 - dev):
                prev = last["high"]
                pivot[ext_i], conf[ext_i] = 1, i
                label[ext_i] = 0 if prev is None or close[ext_i] > prev else 1
                last["high"] = close[ext_i]
                direction, ext_i = -1, i
        else:
            if c < close[ext_i]:
                ext_i = i
            elif c >= close[ext_i] * (1 + dev):
                prev = last["low"]
                pivot[ext_i], conf[ext_i] = 1, i
                label[ext_i] = 2 if prev is None or close[ext_i] > prev else 3
                last["low"] = close[ext_i]
                direction, ext_i = 1, i
    return pivot, label, conf


def candle_features(c: pd.DataFrame) -> pd.DataFrame:
    close, high, low, vol = (c[k].to_numpy("float64") for k in ("close", "high", "low", "volume"))
    upper, _mid, lower = talib.BBANDS(close, 20)
    return pd.DataFrame({
        "timestamp": c["timestamp"].to_numpy(),
        "ret_1": np.r_[np.nan, np.diff(np.log(close))],
        "rsi_14": talib.RSI(close, 14),
        "atr_ratio": talib.ATR(high, low, close, 14) / close,
        "bb_pos": (close - lower) / (upper - lower),
        "vol_z": (vol - talib.SMA(vol, 50)) / talib.STDDEV(vol, 50),
        "macd_hist": talib.MACD(close)[2] / close,
    })


def make_pair(candles: pd.DataFrame, symbol: str = "BTCUSDT", timeframe: str = "15m", dev: float = 0.01,
              featureset_id: str | None = None, max_horizon_bars: int = 48) -> PairData:
    c = candles.reset_index(drop=True)
    frame = candle_features(c)
    pivot, label, conf_i = zigzag_labels(c["close"].to_numpy("float64"), dev)
    ts = c["timestamp"].to_numpy()
    conf = np.where(conf_i >= 0, pd.DatetimeIndex(ts[np.maximum(conf_i, 0)]).as_unit("ns").asi8, -1)
    return PairData(symbol=symbol, timeframe=timeframe, frame=frame, pivot=pivot, pivot_label=label,
                    confirm_ns=conf.astype("int64"), feature_names=list(FEATURES), max_horizon_bars=max_horizon_bars,
                    featureset_id=featureset_id, candles=c)


def seed_model(folder: Path, *, n_features: int = 6, seq_len: int | None = 16, classes: int = 5, seed: int = 0,
               mean: np.ndarray | None = None, std: np.ndarray | None = None) -> Path:
    """A Stage 1 model in the seed's exact form: an LSTM saved as legacy HDF5 ``classification.h5``
    and a params.json holding only mean / std / class_weights / metrics."""
    from engine.stage2.tfkeras import keras

    k = keras()
    k.utils.set_random_seed(seed)
    model = k.Sequential([k.Input((seq_len, n_features)), k.layers.LSTM(8), k.layers.Dense(classes, activation="softmax")])
    folder.mkdir(parents=True, exist_ok=True)
    model.save(str(folder / "classification.h5"))
    rng = np.random.default_rng(seed)
    params = {"mean": (rng.normal(size=n_features) if mean is None else mean).tolist(),
              "std": (rng.uniform(0.5, 2, size=n_features) if std is None else std).tolist(),
              "class_weights": {str(i): 1.0 + i for i in range(classes)},
              "metrics": {"accuracy": 0.91, "val_accuracy": 0.88, "f1": {"macro": 0.5}}}
    (folder / "params.json").write_text(json.dumps(params), encoding="utf-8")
    return folder
