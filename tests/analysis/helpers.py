"""Small tables for the analysis tests: real candles of the bundled sample turned into a few
TA-Lib features, plus hand-made columns with known properties."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import talib

from engine.analysis.by_class import BY_CLASS_COLUMNS
from engine.analysis.core import AnalysisInput
from engine.analysis.correlation import PAIR_COLUMNS
from engine.analysis.drift import DIST_COLUMNS, DRIFT_COLUMNS
from engine.analysis.importance import IMPORTANCE_COLUMNS
from engine.analysis.outliers import OUTLIER_COLUMNS
from engine.analysis.statistics import STAT_COLUMNS

# every CSV of a report and its columns (the seed's names first)
SEED_FILES = {"feature_statistics.csv": STAT_COLUMNS, "feature_importance.csv": IMPORTANCE_COLUMNS,
              "outliers_analysis.csv": OUTLIER_COLUMNS, "feature_by_class_statistics.csv": BY_CLASS_COLUMNS,
              "highly_correlated_pairs_threshold_0.95.csv": PAIR_COLUMNS, "feature_drift.csv": DRIFT_COLUMNS,
              "feature_distributions.csv": DIST_COLUMNS}
SAMPLE = Path(__file__).resolve().parents[2] / "engine" / "data" / "sample"


@lru_cache(maxsize=2)
def candles(symbol: str = "BTCUSDT", rows: int = 12_000) -> pd.DataFrame:
    return pd.read_parquet(SAMPLE / f"{symbol}_15m.parquet").tail(rows).reset_index(drop=True)


def real_features(symbol: str = "BTCUSDT", rows: int = 12_000) -> pd.DataFrame:
    df = candles(symbol, rows)
    c, h, lo = (df[k].to_numpy(float) for k in ("close", "high", "low"))
    return pd.DataFrame({
        "rsi_14": talib.RSI(c, 14), "rsi_21": talib.RSI(c, 21), "ret_1": np.r_[np.nan, np.diff(np.log(c))],
        "sma_ratio_20": c / talib.SMA(c, 20) - 1, "ema_ratio_20": c / talib.EMA(c, 20) - 1,
        "atr_pct_14": talib.ATR(h, lo, c, 14) / c, "adx_14": talib.ADX(h, lo, c, 14),
    })


def direction_target(symbol: str = "BTCUSDT", rows: int = 12_000, horizon: int = 16, thr: float = 0.004) -> np.ndarray:
    c = candles(symbol, rows)["close"].to_numpy(float)
    fut = np.r_[np.log(c[horizon:] / c[:-horizon]), [np.nan] * horizon]
    return np.where(np.isnan(fut), np.nan, np.where(fut > thr, 2, np.where(fut < -thr, 0, 1)))


def future_return(symbol: str = "BTCUSDT", rows: int = 12_000, horizon: int = 16) -> np.ndarray:
    c = candles(symbol, rows)["close"].to_numpy(float)
    return np.r_[np.log(c[horizon:] / c[:-horizon]), [np.nan] * horizon]


def split_labels(n: int, train: float = 0.7, val: float = 0.15, purge: int = 16) -> np.ndarray:
    i = np.arange(n)
    a, b = int(n * train), int(n * (train + val))
    return np.where(i < a, "train", np.where((i >= a + purge) & (i < b), "val", np.where(i >= b + purge, "test", "")))


def direction_input(rows: int = 12_000, **kw) -> AnalysisInput:
    feats = real_features(rows=rows)
    return AnalysisInput(features=feats, target=direction_target(rows=rows), split=split_labels(len(feats)),
                         target_name="direction_4h", target_type="multiclass",
                         class_names={0: "DOWN", 1: "FLAT", 2: "UP"}, **kw)
