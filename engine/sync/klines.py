"""Candles in the seeds' Hub layout ``klines/{SYMBOL}/{BASE}_{tf}.parquet`` with Binance's
kline column names (open_time / close_time in epoch milliseconds, quote_asset_volume,
number_of_trades, taker_buy_*_asset_volume, ignore), which ``data import-hub`` and the
seed notebooks read.  Optional columns the series does not carry are left out."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.data.sources.hub import kline_path  # noqa: F401 - the one definition of the layout
from engine.data.timeframes import tf_seconds

RENAME = {"quote_volume": "quote_asset_volume", "trades": "number_of_trades",
          "taker_buy_base": "taker_buy_base_asset_volume", "taker_buy_quote": "taker_buy_quote_asset_volume"}


def to_binance(df: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    open_ms = df["timestamp"].astype("datetime64[ms, UTC]").astype("int64")
    out = pd.DataFrame({"open_time": open_ms})
    for c in ("open", "high", "low", "close", "volume"):
        out[c] = df[c].to_numpy()
    out["close_time"] = open_ms + tf_seconds(timeframe) * 1000 - 1
    for ours, theirs in RENAME.items():
        if ours in df.columns:
            out[theirs] = df[ours].to_numpy()
    out["ignore"] = "0"
    return out


def binance_file(src: Path, timeframe: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    to_binance(pd.read_parquet(src), timeframe).to_parquet(target, index=False)
    return target
