"""Helpers for the features tests: real bars straight from the bundled sample (no workspace
needed), synthetic fractional Gaussian noise, a default config."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.features.config import load_config
from engine.features.context import Bars

SAMPLE = Path(__file__).resolve().parents[2] / "engine" / "data" / "sample"


def sample_frame(symbol: str = "BTCUSDT", n: int = 3000) -> pd.DataFrame:
    df = pd.read_parquet(SAMPLE / f"{symbol}_15m.parquet").rename(columns={"amount": "quote_volume"})
    return df.iloc[-n:].reset_index(drop=True)


def real_bars(symbol: str = "BTCUSDT", n: int = 3000) -> Bars:
    return Bars.from_frame(symbol, "15m", sample_frame(symbol, n))


def make_bars(close, *, open_=None, high=None, low=None, volume=None, start="2025-01-01", tf="15m", symbol="TESTUSDT",
              timestamps=None) -> Bars:
    c = np.asarray(close, dtype=float)
    o = c if open_ is None else np.asarray(open_, dtype=float)
    h = np.maximum(o, c) if high is None else np.asarray(high, dtype=float)
    lo = np.minimum(o, c) if low is None else np.asarray(low, dtype=float)
    v = np.ones_like(c) if volume is None else np.asarray(volume, dtype=float)
    ts = timestamps if timestamps is not None else pd.date_range(start, periods=len(c), freq=tf.replace("m", "min"), tz="UTC")
    df = pd.DataFrame({"timestamp": ts, "open": o, "high": h, "low": lo, "close": c, "volume": v})
    return Bars.from_frame(symbol, tf, df)


def fgn(n: int, hurst: float, rng: np.random.Generator) -> np.ndarray:
    """Exact fractional Gaussian noise by circulant embedding (Davies-Harte / Wood-Chan)."""
    k = np.arange(n + 1, dtype=float)
    g = 0.5 * ((k + 1) ** (2 * hurst) - 2 * k ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    c = np.concatenate([g, g[-2:0:-1]])
    lam = np.fft.fft(c).real
    assert lam.min() > -1e-9  # the embedding is valid for fGn
    z = rng.standard_normal(len(c)) + 1j * rng.standard_normal(len(c))
    return np.fft.fft(np.sqrt(np.maximum(lam, 0.0) / len(c)) * z)[:n].real


@pytest.fixture(scope="session")
def cfg():
    return load_config()
