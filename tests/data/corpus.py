"""Builders for the bad-input corpus and for well-formed files in every real format, all made
from the bundled real candles (so the good files are real data in each real layout)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.sources.sample import SAMPLE_DIR


def real_candles(n: int = 400, symbol: str = "BTCUSDT") -> pd.DataFrame:
    """The first ``n`` real 15m candles of the sample: timestamp (UTC), open, high, low, close, volume, amount."""
    return pd.read_parquet(SAMPLE_DIR / f"{symbol}_15m.parquet").head(n).reset_index(drop=True)


def to_naive_csv(df: pd.DataFrame, path: Path) -> Path:
    out = df.assign(time=df.timestamp.dt.strftime("%Y-%m-%d %H:%M:%S"))[["time", "open", "high", "low", "close", "volume"]]
    out.to_csv(path, index=False)
    return path


def to_binance_dump(df: pd.DataFrame, path: Path, *, header: bool = False, unit: str = "ms", zipped: bool = False) -> Path:
    """data.binance.vision kline layout: 12 columns (open_time ... ignore), epoch ms (us since 2025 for spot)."""
    mult = {"ms": 1, "us": 1000}[unit]
    ot = (df.timestamp.astype("int64") // 10**6 if str(df.timestamp.dtype).startswith("datetime64[ns") else
          pd.DatetimeIndex(df.timestamp).as_unit("ms").asi8) * mult
    out = pd.DataFrame({
        "open_time": ot, "open": df.open, "high": df.high, "low": df.low, "close": df.close, "volume": df.volume,
        "close_time": ot + (15 * 60 * 1000 - 1) * mult, "quote_volume": df.amount, "count": np.arange(len(df)) + 100,
        "taker_buy_base_asset_volume": (df.volume * 0.5).round(8), "taker_buy_quote_asset_volume": (df.amount * 0.5).round(4),
        "ignore": 0})
    csv_path = path.with_suffix(".csv") if zipped else path
    out.to_csv(csv_path, index=False, header=header)
    if zipped:
        with zipfile.ZipFile(path, "w") as z:
            z.write(csv_path, csv_path.name)
        csv_path.unlink()
    return path


def write_csv_rows(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + ("\n" if rows else ""))
    return path
