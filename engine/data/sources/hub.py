"""Candles from a Hugging Face dataset in the layout ``klines/{SYMBOL}/{BASE}_{tf}.parquet``
(default repo ``zongowo111/v2-crypto-ohlcv-data``, whose files carry Binance's full kline
columns), through the real huggingface_hub client.  ``HF_ENDPOINT`` points it at another
Hub-compatible server (the tests start one on loopback).  Files are downloaded to a
temporary folder outside the workspace and read from there."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from config.errors import BadInput, NotFound, RemoteError
from engine.data.names import base_asset, check_symbol
from engine.data.sources.base import DataSource, Series, csv_list
from engine.data.sources.files import FileSource
from engine.data.timeframes import parse_timeframe
from engine.progress import progress

DEFAULT_REPO = "zongowo111/v2-crypto-ohlcv-data"


def kline_path(symbol: str, timeframe: str) -> str:
    s = check_symbol(symbol)
    return f"klines/{s}/{base_asset(s)}_{parse_timeframe(timeframe)}.parquet"


def hub_errors(e: Exception, what: str) -> Exception:
    """Map huggingface_hub / network errors onto KlineLab errors with a message a user can act on."""
    from huggingface_hub import errors as hfe

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if isinstance(e, hfe.RepositoryNotFoundError):
        return NotFound(f"{what}: repository not found on {endpoint} (or it is private and no valid token was given)",
                        hint="check the repo id; set HF_TOKEN for private repos")
    if isinstance(e, (getattr(hfe, "LocalEntryNotFoundError", ()), hfe.OfflineModeIsEnabled)):
        # raised by hf_hub_download when the Hub could not be reached (and the file is not cached): it
        # subclasses EntryNotFoundError, so it must be told apart before "file not found" below
        cause = e.__cause__ or e.__context__ or e
        return RemoteError(f"{what}: cannot reach the Hub at {endpoint} ({type(cause).__name__}: {str(cause)[:160]})",
                           hint="check the network connection and HF_ENDPOINT")
    if isinstance(e, hfe.RevisionNotFoundError):
        return NotFound(f"{what}: revision not found")
    if isinstance(e, (hfe.EntryNotFoundError, getattr(hfe, "RemoteEntryNotFoundError", hfe.EntryNotFoundError))):
        return NotFound(f"{what}: file not found in the repository")
    if isinstance(e, hfe.GatedRepoError):
        return RemoteError(f"{what}: the repository is gated; accept its terms on the Hub and use a token")
    if isinstance(e, hfe.HfHubHTTPError):
        status = getattr(getattr(e, "response", None), "status_code", "?")
        if status in (401, 403):
            return RemoteError(f"{what}: the Hub refused the token (HTTP {status})", hint="check HF_TOKEN")
        return RemoteError(f"{what}: the Hub answered HTTP {status}: {str(e).splitlines()[0][:200]}")
    if isinstance(e, (ConnectionError, OSError, TimeoutError)) or type(e).__module__.startswith("httpx"):
        return RemoteError(f"{what}: cannot reach the Hub at {endpoint} ({type(e).__name__}: {str(e)[:160]})")
    return RemoteError(f"{what}: {type(e).__name__}: {e}")


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
        from huggingface_hub import hf_hub_download

        tmp = Path(tempfile.mkdtemp(prefix="klinelab-hub-"))
        out: list[Series] = []
        try:
            pairs = [(s, t) for s in self.symbols for t in self.timeframes]
            for i, (sym, tf) in enumerate(pairs):
                fn = kline_path(sym, tf)
                progress(i / len(pairs), f"downloading {fn} from {self.repo_id}")
                try:
                    local = hf_hub_download(self.repo_id, fn, repo_type=self.repo_type, revision=self.revision,
                                            token=self.token, local_dir=tmp / "dl")
                except Exception as e:  # mapped to a KlineLab error with the cause named
                    raise hub_errors(e, f"{self.repo_id}/{fn}") from e
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
