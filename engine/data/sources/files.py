"""CSV / Parquet / Feather / JSON / zip files in the formats found in the wild.

The file's content decides how it is read (magic bytes), and must agree with its extension;
``--source-format`` overrides the detection.  Formats: Binance kline dumps (with or without
header, epoch ms or us, plain or zipped), freqtrade feather (``date`` column), epoch-ms
Parquet, naive time-string CSV, MetaTrader exports (comma or tab, ``time`` or
``<DATE>``/``<TIME>``), pandas JSON.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa

from config.errors import BadInput, NotFound
from engine.data.canonical import BINANCE_KLINE_COLUMNS
from engine.data.names import check_symbol, parse_file_name
from engine.data.normalize import normalize
from engine.data.sources.base import DataSource, Series, finish
from engine.data.timeframes import parse_timeframe
from storage.manifest import sha256_file

FORMATS = ("auto", "binance", "freqtrade", "mt5", "csv", "parquet", "feather", "json")
DATA_EXTENSIONS = {".csv", ".tsv", ".txt", ".parquet", ".pq", ".feather", ".arrow", ".ipc", ".json", ".zip"}
MAX_CSV_BYTES = 2 * 1024**3


def sniff_content(head: bytes, tail: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1") or head.startswith(b"FEA1"):
        return "feather"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if b"\x00" in head:
        return "binary"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return "binary"
    s = text.lstrip("\ufeff \r\n\t")
    if not s:
        return "empty"
    if s[0] in "{[":
        return "json"
    return "text"


_EXT_KIND = {".csv": "text", ".tsv": "text", ".txt": "text", ".parquet": "parquet", ".pq": "parquet",
             ".feather": "feather", ".arrow": "feather", ".ipc": "feather", ".json": "json", ".zip": "zip"}


def _read_text_table(text_or_buf, name: str, fmt: str) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    sample = text_or_buf[:20000] if isinstance(text_or_buf, str) else ""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:20]
    if not lines:
        raise BadInput(f"{name}: the file is empty")
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:10]), delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = "\t" if "\t" in lines[0] else ","
    first = [t.strip().strip('"') for t in lines[0].split(sep)]

    def numeric(tok: str) -> bool:
        return bool(re.fullmatch(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?", tok))

    has_header = not all(numeric(t) for t in first if t != "")
    kw = dict(sep=sep, skipinitialspace=True, low_memory=False)
    if has_header:
        df = pd.read_csv(io.StringIO(text_or_buf), **kw)
    else:
        ncols = len(first)
        if ncols == 12 or fmt == "binance":
            names = BINANCE_KLINE_COLUMNS[:ncols] if ncols <= 12 else None
            if names is None:
                raise BadInput(f"{name}: {ncols} columns without a header; a Binance kline dump has 12")
            df = pd.read_csv(io.StringIO(text_or_buf), header=None, names=names, **kw)
            notes.append("no header: read as a Binance kline dump (open_time, open, high, low, close, volume, close_time, ...)")
        elif ncols in (6, 7):
            names = ["timestamp", "open", "high", "low", "close", "volume", "quote_volume"][:ncols]
            df = pd.read_csv(io.StringIO(text_or_buf), header=None, names=names, **kw)
            notes.append(f"no header: columns read as {', '.join(names)}")
        else:
            raise BadInput(f"{name}: no header and {ncols} columns, so the columns cannot be told apart",
                           hint="add a header row (time, open, high, low, close, volume)")
    return df, notes


def read_table(path: Path, source_format: str = "auto") -> tuple[pd.DataFrame, list[str], str]:
    """-> (raw table, notes, detected format).  Raises BadInput for unreadable content."""
    name = path.name
    if source_format not in FORMATS:
        raise BadInput(f"unknown source format {source_format!r}", hint=f"use one of {', '.join(FORMATS)}")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"{name}: the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(4096)
        f.seek(max(0, size - 8))
        tail = f.read()
    content = sniff_content(head, tail)
    ext = path.suffix.lower()
    forced = {"binance": "text", "mt5": "text", "csv": "text", "parquet": "parquet", "feather": "feather",
              "freqtrade": "feather", "json": "json"}.get(source_format)
    if content == "gzip" and ext == ".gz":
        content = "text"
    if forced is None:
        if ext not in _EXT_KIND:
            raise BadInput(f"{name}: unsupported file type {ext or '(no extension)'}",
                           hint="use CSV, Parquet, Feather, JSON or a Binance .zip dump")
        if content == "binary":
            raise BadInput(f"{name}: not a CSV, Parquet or Feather file (unrecognised binary content)")
        if content == "empty":
            raise BadInput(f"{name}: the file holds only whitespace")
        expected = _EXT_KIND[ext]
        if expected != content:
            raise BadInput(f"{name}: the content is {content.upper()} but the name ends in {ext}",
                           hint=f"rename the file, or pass --source-format {content if content in FORMATS else 'auto'}")
        kind = content
    else:
        kind = forced
    notes: list[str] = []
    try:
        if kind == "parquet":
            if not tail.endswith(b"PAR1"):
                raise BadInput(f"{name}: truncated Parquet file (no footer)")
            df = pd.read_parquet(path)
        elif kind == "feather":
            df = pd.read_feather(path)
        elif kind == "json":
            df = _read_json(path)
        elif kind == "zip":
            df, notes = _read_zip(path, source_format)
        else:
            if size > MAX_CSV_BYTES:
                raise BadInput(f"{name}: {size / 1e9:.1f} GB is too large for a CSV import; convert it to Parquet")
            raw = path.read_bytes()
            if raw.startswith(b"\x1f\x8b"):
                import gzip

                raw = gzip.decompress(raw)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                try:
                    text = raw.decode("utf-16")
                except UnicodeError:
                    raise BadInput(f"{name}: not UTF-8 text") from None
            df, notes = _read_text_table(text, name, source_format)
    except BadInput:
        raise
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError, pd.errors.ParserError, EOFError, KeyError) as e:
        what = {"parquet": "Parquet", "feather": "Feather", "json": "JSON", "zip": "zip", "text": "CSV"}[kind]
        raise BadInput(f"{name}: not a readable {what} file (truncated or corrupt: {str(e).splitlines()[0][:160]})") from e
    return df, notes, kind


def _read_json(path: Path) -> pd.DataFrame:
    df = pd.read_json(path)
    if not isinstance(df, pd.DataFrame):
        raise BadInput(f"{path.name}: the JSON is not a table")
    return df


def _read_zip(path: Path, source_format: str) -> tuple[pd.DataFrame, list[str]]:
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise BadInput(f"{path.name}: a zip must hold exactly one CSV (it holds {len(members)} files)")
            m = members[0]
            if m.file_size > MAX_CSV_BYTES:
                raise BadInput(f"{path.name}: {m.filename} is too large ({m.file_size / 1e9:.1f} GB unpacked)")
            text = z.read(m).decode("utf-8-sig")
    except zipfile.BadZipFile as e:
        raise BadInput(f"{path.name}: not a readable zip file ({e})") from e
    df, notes = _read_text_table(text, path.name, source_format)
    return df, [f"read {members[0].filename} from the zip"] + notes


class FileSource(DataSource):
    name = "file"

    def __init__(self, path: str | Path, *, symbol: str | None = None, timeframe: str | None = None,
                 source_format: str = "auto", timezone: str | None = None, mapping: dict[str, str] | None = None,
                 now: float | None = None):
        self.path = Path(path)
        self.symbol = check_symbol(symbol) if symbol else None
        self.timeframe = parse_timeframe(timeframe) if timeframe else None
        self.source_format = source_format
        self.timezone = timezone
        self.mapping = mapping
        self.now = now

    def read(self) -> list[Series]:
        p = self.path
        if not p.exists():
            raise NotFound(f"no such file: {p}")
        if not p.is_file():
            raise BadInput(f"{p} is not a file")
        info = parse_file_name(p)
        label = p.name
        raw, notes, kind = read_table(p, self.source_format)
        funding = info.market == "funding" or "funding_rate" in {str(c).lower() for c in raw.columns}
        mapping = dict(self.mapping or {})
        if funding and "funding_rate" not in {str(c).lower() for c in raw.columns} and "funding_rate" not in mapping:
            if "open" in raw.columns:
                mapping["funding_rate"] = "open"
                notes.append("freqtrade funding file: the rate is read from the 'open' column")
        mt5 = self.source_format == "mt5" or info.hint == "mt5"
        norm = normalize(raw, label, timezone=self.timezone, mapping=mapping or None, mt5=mt5, funding=funding)
        norm.notes = notes + norm.notes
        symbol = self.symbol or info.symbol
        if funding and symbol and not symbol.endswith("-PERP"):
            symbol = f"{symbol}-PERP"
        tf = self.timeframe or (None if funding else info.timeframe)
        source = {"type": "file", "path": str(p.resolve()), "format": kind, "sha256": sha256_file(p),
                  "size": p.stat().st_size, "name_symbol": info.symbol, "name_timeframe": info.timeframe}
        return [finish(norm, symbol=symbol, timeframe=tf, label=label, source=source, now=self.now)]


def list_data_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(data files, other files) under ``folder``, recursively, in a stable order."""
    data, other = [], []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        (data if p.suffix.lower() in DATA_EXTENSIONS else other).append(p)
    return data, other
