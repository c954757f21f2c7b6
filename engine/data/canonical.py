"""The canonical OHLCV table (SPEC 3).

    timestamp        bar-open time, UTC (datetime64[ms, UTC])
    open high low close volume            float64, required
    quote_volume trades taker_buy_base taker_buy_quote   optional (Binance kline columns)

Funding rates of perpetuals are a separate series (timestamp, funding_rate), joined onto
candles by :func:`engine.data.store.load_candles` when asked.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.errors import BadInput

REQUIRED = ["open", "high", "low", "close", "volume"]
OPTIONAL = ["quote_volume", "trades", "taker_buy_base", "taker_buy_quote"]
PRICE = ["open", "high", "low", "close"]
CANONICAL = ["timestamp", *REQUIRED, *OPTIONAL]
FUNDING = ["timestamp", "funding_rate"]
TS_UNIT = "ms"
TS_DTYPE = "datetime64[ms, UTC]"

# column-name synonyms seen in real files (lower-cased, spaces/brackets removed)
SYNONYMS: dict[str, list[str]] = {
    "timestamp": ["open_time", "opentime", "timestamp", "time", "date", "datetime", "ts", "open_timestamp",
                  "date_time", "gmt_time", "local_time", "candle_begin_time", "start_time", "t"],
    "open": ["open", "o", "open_price", "first", "openprice"],
    "high": ["high", "h", "high_price", "max", "highprice"],
    "low": ["low", "l", "low_price", "min", "lowprice"],
    "close": ["close", "c", "close_price", "last", "closeprice"],
    "volume": ["volume", "vol", "v", "base_volume", "volume_base", "tick_volume", "tickvol", "real_volume", "basevolume"],
    "quote_volume": ["quote_volume", "quote_asset_volume", "amount", "quote_av", "turnover", "quotevolume", "volume_quote", "qav"],
    "trades": ["trades", "count", "number_of_trades", "num_trades", "trade_count", "numberoftrades"],
    "taker_buy_base": ["taker_buy_base", "taker_buy_base_asset_volume", "taker_base_vol", "tb_base_av", "takerbuybase", "taker_buy_volume"],
    "taker_buy_quote": ["taker_buy_quote", "taker_buy_quote_asset_volume", "taker_quote_vol", "tb_quote_av", "takerbuyquote"],
    "funding_rate": ["funding_rate", "fundingrate", "funding"],
}
IGNORED = {"close_time", "closetime", "ignore", "unnamed:_0", "index", "spread", "symbol", "interval", "pair", "exchange"}

# Binance kline dumps (data.binance.vision) have no header: these 12 columns in this order
BINANCE_KLINE_COLUMNS = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                         "trades", "taker_buy_base", "taker_buy_quote", "ignore"]


def ts_ns(values) -> np.ndarray:
    """Epoch nanoseconds (int64) of a timestamp column, tz-aware or naive (naive = UTC)."""
    idx = pd.DatetimeIndex(values)
    return np.asarray(idx.as_unit("ns").asi8, dtype="int64")


def parse_utc(value, what: str = "time") -> pd.Timestamp | None:
    """A date / time typed by a user (or stored in a manifest) as a UTC timestamp; naive = UTC;
    None for an empty value; a clear BadInput naming ``what`` for anything unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as e:
        raise BadInput(f"{what} {value!r} is not a date", hint="use e.g. 2026-01-31 or 2026-01-31T12:00") from e
    if t is pd.NaT:
        raise BadInput(f"{what} {value!r} is not a date")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
