"""Symbol and timeframe from file names, as the real files name them:

    BTC_USDT-15m.feather              freqtrade spot            -> BTCUSDT, 15m
    BTC_USDT_USDT-15m-futures.feather freqtrade USDT-M perp     -> BTCUSDT-PERP, 15m
    BTC_USDT_USDT-1h-funding_rate...  freqtrade funding rates   -> BTCUSDT-PERP funding
    BTC_USDT_USDT-1h-mark.feather     freqtrade mark price      -> BTCUSDT-MARK, 1h
    BTCUSDT_15m.parquet, BTCUSDT_15m_365.csv, BTCUSDT_1h_epoch_ms.parquet
    BTCUSDT-15m-2024-01.csv / .zip    Binance data.binance.vision kline dumps
    XAUUSD_H1_mt5.csv                 MetaTrader export (M15 / H1 / D1 spellings)
    klines/BTCUSDT/BTC_15m.parquet    the Hugging Face dataset layout
    gemini_BTCUSD_1d.csv              CryptoDataDownload ({exchange}_{PAIR}_{tf})  -> BTCUSD, 1d
    BTC-USD.csv                       Yahoo Finance download                       -> BTCUSD (timeframe from the data)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from config.errors import BadInput
from engine.data.timeframes import parse_timeframe

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}(-(PERP|MARK|INDEX))?$")
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY")
# exchange names CryptoDataDownload puts before the pair ("Binance_BTCUSDT_1h.csv", "gemini_BTCUSD_1d.csv")
_EXCHANGES = {"binance", "binanceus", "bitfinex", "bitstamp", "bittrex", "coinbase", "gdax", "gemini", "kraken",
              "kucoin", "okex", "okx", "poloniex", "bybit", "huobi", "ftx", "bitmex", "deribit", "cexio", "exmo"}


@dataclass(frozen=True)
class NameInfo:
    symbol: str | None
    timeframe: str | None
    market: str = "spot"  # spot | perp | mark | funding
    hint: str | None = None  # format hint from the name (mt5, binance, freqtrade)


def check_symbol(symbol: str) -> str:
    s = str(symbol).strip().upper().replace("/", "").replace(":", "-")
    s = re.sub(r"_", "", s)
    if not _SYMBOL_RE.match(s):
        raise BadInput(f"invalid symbol {symbol!r}", hint="symbols look like BTCUSDT, BTCUSDT-PERP or XAUUSD")
    return s


def _tf_token(tok: str) -> str | None:
    try:
        return parse_timeframe(tok)
    except BadInput:
        return None


def parse_file_name(path: str | Path) -> NameInfo:
    p = Path(path)
    stem = p.name
    for ext in (".gz", ".zip", ".csv", ".parquet", ".feather", ".arrow", ".json", ".pq", ".txt", ".tsv"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    low = stem.lower()
    hint = "mt5" if re.search(r"(^|[_\-])mt[45]($|[_\-])", low) else None
    market = "spot"
    if "funding" in low:
        market = "funding"
    elif re.search(r"(^|[_\-])mark($|[_\-])", low):
        market = "mark"
    elif "futures" in low or re.search(r"^[a-z0-9]+_([a-z0-9]+)_\1(-|_)", low) or re.search(r"(^|[_\-])perp($|[_\-])", low):
        market = "perp"
    tokens = [t for t in re.split(r"[_\-\s.]+", stem) if t]
    tf = None
    tf_index = None
    for i, t in enumerate(tokens):
        if re.fullmatch(r"\d{4}", t):  # a year, e.g. in Binance dumps' dates
            continue
        v = _tf_token(t)
        if v is not None and not re.fullmatch(r"\d+", t):
            tf, tf_index = v, i
            break
    sym_tokens = tokens[:tf_index] if tf_index is not None else []
    if len(sym_tokens) == 2 and sym_tokens[0].lower() in _EXCHANGES:
        sym_tokens = sym_tokens[1:]
    if tf_index is None and len(tokens) == 2 and tokens[1].upper() in _QUOTES and tokens[0].isalnum():
        sym_tokens = tokens  # Yahoo Finance: BTC-USD.csv
    # freqtrade futures: BTC_USDT_USDT -> base BTC quote USDT settle USDT
    if len(sym_tokens) == 3 and sym_tokens[1].upper() == sym_tokens[2].upper():
        sym_tokens = sym_tokens[:2]
        market = market if market != "spot" else "perp"
    symbol = "".join(sym_tokens).upper() if sym_tokens else None
    # HF layout klines/BTCUSDT/BTC_15m.parquet: the folder carries the full symbol
    parent = p.parent.name.upper()
    if symbol and parent.startswith(symbol) and _SYMBOL_RE.match(parent) and parent != symbol:
        symbol = parent
    if symbol and not _SYMBOL_RE.match(symbol):
        symbol = None
    if symbol and symbol.isdigit():
        symbol = None
    if symbol and market in ("perp", "funding"):
        symbol = f"{symbol}-PERP"
    elif symbol and market == "mark":
        symbol = f"{symbol}-MARK"
    return NameInfo(symbol=symbol, timeframe=tf, market=market, hint=hint)


def base_asset(symbol: str) -> str:
    s = symbol.split("-")[0]
    for q in _QUOTES:
        if s.endswith(q) and len(s) > len(q):
            return s[: -len(q)]
    return s
