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
                  "date_time", "gmt_time", "local_time", "candle_begin_time", "start_time", "t", "unix",
                  "unix_timestamp"],
    "open": ["open", "o", "open_price", "first", "openprice"],
    "high": ["high", "h", "high_price", "max", "highprice"],
    "low": ["low", "l", "low_price", "min", "lowprice"],
    "close": ["close", "c", "close_price", "last", "closeprice"],
    "volume": ["volume", "vol", "v", "base_volume", "volume_base", "tick_volume", "tickvol", "real_volume", "basevolume"],
    "quote_volume": ["quote_volume", "quote_asset_volume", "amount", "quote_av", "turnover", "quotevolume", "volume_quote", "qav"],
    "trades": ["trades", "count", "number_of_trades", "num_trades", "trade_count", "numberoftrades", "tradecount",
               "trades_count", "n_trades", "no_of_trades"],
    "taker_buy_base": ["taker_buy_base", "taker_buy_base_asset_volume", "taker_base_vol", "tb_base_av", "takerbuybase",
                       "taker_buy_volume", "taker_base_volume", "taker_buy_base_volume", "taker_buy_base_vol",
                       "takerbuybaseassetvolume", "taker_buy_base_asset_vol", "buy_base_volume"],
    "taker_buy_quote": ["taker_buy_quote", "taker_buy_quote_asset_volume", "taker_quote_vol", "tb_quote_av", "takerbuyquote",
                        "taker_quote_volume", "taker_buy_quote_volume", "taker_buy_quote_vol", "takerbuyquoteassetvolume",
                        "taker_buy_quote_asset_vol", "buy_quote_volume"],
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


# The longest date / time text read (ISO 8601 with nanoseconds and an offset is 35 characters; MetaTrader
# "<DATE> <TIME>" pairs and "2024-01-02 03:04:05.123456789 +00:00"-style values stay well below).  Longer
# values are refused before any date parser sees them: dateutil / pandas take quadratic time on one long
# token (issue 17 defect 5: 400 KB -> 6.5 s, 5 MB -> over 300 s).
MAX_TIME_CHARS = 64


def short(value, limit: int = 40) -> str:
    """repr of a value cut to ``limit`` characters (messages never format unbounded input)."""
    s = value if isinstance(value, str) else str(value)
    r = repr(s[:limit])
    return r if len(s) <= limit else f"{r[:-1]}...{r[-1]} ({len(s)} characters)"


def parse_utc(value, what: str = "time") -> pd.Timestamp | None:
    """A date / time typed by a user (or stored in a manifest) as a UTC timestamp; naive = UTC;
    None for an empty value; a clear BadInput naming ``what`` for anything unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and len(value.strip()) > MAX_TIME_CHARS:
        raise BadInput(f"{what} {short(value.strip())} is not a date (longer than {MAX_TIME_CHARS} characters)",
                       hint="use e.g. 2026-01-31 or 2026-01-31T12:00")
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as e:
        raise BadInput(f"{what} {short(value)} is not a date", hint="use e.g. 2026-01-31 or 2026-01-31T12:00") from e
    if t is pd.NaT:
        raise BadInput(f"{what} {short(value)} is not a date")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
