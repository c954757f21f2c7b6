"""Candles from a Hugging Face dataset in the layout ``klines/{SYMBOL}/{BASE}_{tf}.parquet``
(default repo ``zongowo111/v2-crypto-ohlcv-data``, whose files carry Binance's full kline
columns), through the one Hub access layer (``engine/hub.py``: retries, error mapping).
``HF_ENDPOINT`` points it at another Hub-compatible server (the tests start one on loopback).
Files are downloaded to a temporary folder outside the workspace and read from there."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from config.errors import BadInput
from engine.argtypes import csv_list
from engine.data.names import base_asset, check_symbol
from engine.data.sources.base import DataSource, Series
from engine.data.sources.files import FileSource
from engine.data.timeframes import parse_timeframe
from engine.hub import DEFAULT_REPO
from engine.progress import progress


def kline_path(symbol: str, timeframe: str) -> str:
    s = check_symbol(symbol)
    return f"klines/{s}/{base_asset(s)}_{parse_timeframe(timeframe)}.parquet"


class HubSource(DataSource):
    name = "hub"

    def __init__(self, repo_id: str = DEFAULT_REPO, *, symbols: list[str], timeframes: list[str],
                 revision: str | None = None, token: str | None = None, repo_type: str = "dataset",
                 now: float | None = None):
        if not repo_id or "/" not in repo_id:
            raise BadInput(f"invalid repo id {repo_id!r}", hint="use owner/name, e.g. zongowo111/v2-crypto-ohlcv-data")
        if not symbols or not timeframes:
            raise BadInput("give at least one symbol and one timeframe")
        self.repo_id, self.revision, self.token, self.repo_type = repo_id, revision, token, repo_type
        self.symbols = [check_symbol(s) for s in symbols]
        self.timeframes = [parse_timeframe(t) for t in timeframes]
        self.now = now

    def read(self) -> list[Series]:
        from engine.hub import Hub

        hub = Hub.connect(token=self.token)
        tmp = Path(tempfile.mkdtemp(prefix="klinelab-hub-"))
        out: list[Series] = []
        try:
            pairs = [(s, t) for s in self.symbols for t in self.timeframes]
            for i, (sym, tf) in enumerate(pairs):
                fn = kline_path(sym, tf)
                progress(i / len(pairs), f"downloading {fn} from {self.repo_id}")
                local = hub.download(self.repo_id, self.repo_type, self.revision, fn, tmp / "dl",
                                     what=f"{self.repo_id}/{fn}")
                series = FileSource(local, symbol=sym, timeframe=tf, now=self.now).read()
                for s in series:
                    s.source.update({"type": "huggingface", "repo_id": self.repo_id, "filename": fn,
                                     "revision": self.revision or "main", "path": fn})
                out += series
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def run_import(ws, opts):
    """``data import-hub ...`` (engine/data/sources/registry.py)."""
    from engine.data.importer import import_sources

    src = HubSource(opts.repo_id, symbols=csv_list(opts.symbols), timeframes=csv_list(opts.timeframes),
                    revision=opts.revision)
    return import_sources(ws, [src], replace=opts.replace, dry_run=opts.dry_run)
