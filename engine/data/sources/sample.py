"""The bundled real sample (engine/data/sample/, provenance in the README): a year of
Binance 15m spot candles for BTC, ETH, SOL, BNB, XRP, DOGE plus the BTC USDT-M perpetual
with its funding rates, imported on first run so a fresh install shows real data."""
from __future__ import annotations

from pathlib import Path

from engine.data.importer import ImportResult, import_path
from engine.data.names import parse_file_name
from engine.data.store import funding_id, series_id
from storage.workspace import Workspace

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"


def sample_ids() -> list[str]:
    ids = []
    for f in sorted(SAMPLE_DIR.glob("*.parquet")):
        info = parse_file_name(f)
        ids.append(funding_id(info.symbol) if info.market == "funding" else series_id(info.symbol, info.timeframe))
    return ids


def sample_present(ws: Workspace) -> bool:
    return all((ws.artifact_dir("ohlcv", i) / "manifest.json").is_file() for i in sample_ids())


def import_sample(ws: Workspace) -> ImportResult:
    """Idempotent: imports what is missing, leaves the rest unchanged."""
    if sample_present(ws):
        return ImportResult()
    return import_path(ws, SAMPLE_DIR)


def run_import(ws: Workspace, opts=None) -> ImportResult:
    """``data import-sample`` (engine/data/sources/registry.py)."""
    return import_sample(ws)
