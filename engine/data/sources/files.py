"""CSV / Parquet / Feather / JSON / zip files in the formats found in the wild.

The file's content decides how it is read (magic bytes), and must agree with its extension;
``--source-format`` overrides the detection.  Formats: Binance kline dumps (with or without
header, epoch ms or us, plain or zipped), freqtrade feather (``date`` column) and JSON
(``[[ms, o, h, l, c, v], ...]``, also ``.json.gz``), epoch-ms Parquet (also the Hub's Binance.US
files: naive datetime64 ``open_time``, ``ignore`` as the string "0"), naive time-string CSV,
MetaTrader exports (comma or tab, ``time`` or ``<DATE>``/``<TIME>``), CryptoDataDownload CSVs
(banner line, newest bar first), Yahoo Finance daily CSVs, pandas JSON; gzip of CSV / JSON.
Packed content is unpacked with a size cap (decompression bombs), and only regular files are read.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from config.errors import BadInput, NotFound
from engine.data.canonical import BINANCE_KLINE_COLUMNS
from engine.data.names import check_symbol, parse_file_name
from engine.data.normalize import Normalized, normalize
from engine.data.sources.base import DataSource, Series, finish
from engine.data.timeframes import parse_timeframe
from engine.data.validate import Report, validate
from storage.manifest import sha256_file

FORMATS = ("auto", "binance", "freqtrade", "mt5", "csv", "parquet", "feather", "json")
DATA_EXTENSIONS = {".csv", ".tsv", ".txt", ".parquet", ".pq", ".feather", ".arrow", ".ipc", ".json", ".zip", ".gz"}
MAX_CSV_BYTES = 2 * 1024**3
# Decompression bounds (issue 17 defect 4: 300 KB of gzipped NUL bytes reached 4.1 GB).  A packed candle
# file unpacks to at most MAX_UNPACK_RATIO times its packed size (real CSV / JSON candles pack 3-10x; a
# deflate bomb packs ~1000x), never below MIN_UNPACK_CAP nor above MAX_CSV_BYTES; the unpacked bytes are
# read in chunks and counted, so the declared size in a header (which a hostile file can fake) is never trusted.
MAX_UNPACK_RATIO = 100
MIN_UNPACK_CAP = 64 * 1024**2
MAX_ZIP_MEMBERS = 16
MAX_FOLDER_ENTRIES = 100_000
_CHUNK = 1 << 20
# the content a reading path expects -> the --source-format that reads it
_CONTENT_FORMAT = {"text": "csv", "json": "json", "parquet": "parquet", "feather": "feather"}


def sniff_content(head: bytes, tail: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"ARROW1", b"FEA1")):
        return "feather"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"version https://git-lfs"):
        return "lfs"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 with a byte-order mark
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
_OHLC = {"open", "high", "low", "close"}
_CDD_CREATED_RE = re.compile(r"created on\s+(\d{1,2})[-/](\d{1,2})[-/](\d{4})", re.IGNORECASE)


def unpack_limit(packed_size: int) -> int:
    return int(min(MAX_CSV_BYTES, max(MIN_UNPACK_CAP, MAX_UNPACK_RATIO * packed_size)))


def read_capped(stream, limit: int, name: str, what: str) -> bytes:
    """Every byte of ``stream`` (a decompressing reader), refused once more than ``limit`` come out.
    Content that starts with NUL bytes is refused at the first chunk (not candles, and the usual bomb).
    Chunks are kept in a list and joined only when the whole is within the cap, so a bomb costs at most
    ``limit`` bytes (a growing bytearray would briefly hold two copies at each reallocation)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if not chunks and b"\x00" in chunk[:4096] and not chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise BadInput(f"{name}: {what} holds binary data (NUL bytes), not candles")
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            chunks.clear()
            raise BadInput(f"{name}: {what} unpacks to more than {limit / 1024**2:.0f} MiB; refused as a possible "
                           f"decompression bomb (at most {MAX_UNPACK_RATIO}x the packed size is read)",
                           hint="unpack it yourself and convert it to Parquet, or split it")
    return b"".join(chunks)


def _gunzip(path: Path, size: int) -> bytes:
    import gzip

    with open(path, "rb") as f, gzip.GzipFile(fileobj=f) as g:
        return read_capped(g, unpack_limit(size), path.name, "the gzip file")


def _header_line(lines: list[str]) -> int:
    """Index of the header among the first lines: 0 normally; >0 when banner lines (CryptoDataDownload's
    ``https://www.CryptoDataDownload.com``) come before a line naming open/high/low/close."""
    for i, ln in enumerate(lines[:6]):
        toks = {re.sub(r"[\s\-]+", "_", t.strip().strip('"').strip("<>").strip().lower()) for t in re.split(r"[,;\t|]", ln)}
        if len(_OHLC & toks) >= 3:
            return i
    return 0


def _read_text_table(text_or_buf, name: str, fmt: str) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    sample = text_or_buf[:20000] if isinstance(text_or_buf, str) else ""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:20]
    if not lines:
        raise BadInput(f"{name}: the file is empty")
    exported = None
    skip = _header_line(lines)
    if skip:
        banner = lines[:skip]
        m = _CDD_CREATED_RE.search(" ".join(banner))
        if m:  # CryptoDataDownload "Created on MM-DD-YYYY" (US order): the file was written on that UTC day
            try:
                exported = (pd.Timestamp(int(m.group(3)), int(m.group(1)), int(m.group(2)), tz="UTC")
                            + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1))
            except ValueError:
                exported = None
        # cut the text after the banner lines (blank lines count for nothing)
        pos, seen = 0, 0
        for ln in text_or_buf.splitlines(keepends=True):
            if seen == skip:
                break
            pos += len(ln)
            if ln.strip():
                seen += 1
        text_or_buf = text_or_buf[pos:]
        lines = lines[skip:]
        shown = " | ".join(b.strip()[:80] for b in banner)
        notes.append(f"skipped {skip} line(s) before the header: {shown!r}")
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:10]), delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = "\t" if "\t" in lines[0] else ","
    first = [t.strip().strip('"') for t in lines[0].split(sep)]

    def numeric(tok: str) -> bool:
        return bool(re.fullmatch(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?", tok))

    has_header = not all(numeric(t) for t in first if t != "")
    kw = {"sep": sep, "skipinitialspace": True, "low_memory": False}
    if has_header:
        df = pd.read_csv(io.StringIO(text_or_buf), **kw)
        cleaned = {str(c).strip().lower() for c in df.columns}
        if {"adj close", "adj_close", "adjclose"} & cleaned:
            notes.append("Yahoo Finance layout: 'Adj Close' is not used (crypto has no dividends or splits; for "
                         "crypto pairs Yahoo's Volume is in the quote currency)")
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
    if exported is not None:
        df.attrs["exported_at"] = exported
        df.attrs["exported_by"] = "the file's 'Created on' line (end of that UTC day)"
    return df, notes


def _kind_for(name: str, ext: str, content: str, source_format: str) -> str:
    """The reading path for a file's content, name and ``--source-format``; refusals name the fix."""
    if content == "lfs":
        raise BadInput(f"{name} is a Git LFS pointer (a 130-byte text file), not the data it stands for",
                       hint="run `git lfs pull` in the repository it came from, then import the real file")
    if content == "empty":
        raise BadInput(f"{name}: the file holds only whitespace")
    if source_format == "freqtrade":
        # freqtrade writes feather (default), json or jsongz: read whichever the content is
        if content in ("feather", "json"):
            return content
        raise BadInput(f"{name}: --source-format freqtrade reads freqtrade's Feather and JSON candle files, "
                       f"but the content is {content.upper()}",
                       hint=f"pass --source-format {_CONTENT_FORMAT.get(content, 'auto')}" if content != "binary" else None)
    forced = {"binance": "text", "mt5": "text", "csv": "text", "parquet": "parquet", "feather": "feather",
              "json": "json"}.get(source_format)
    if forced is not None:
        if content == "zip" and forced == "text":
            return "zip"
        if content == "binary" and forced == "text":
            raise BadInput(f"{name}: --source-format {source_format} reads text, but the file holds binary data",
                           hint="check that this is the file you meant")
        if forced != content and content in _CONTENT_FORMAT and (forced, content) != ("text", "json"):
            raise BadInput(f"{name}: --source-format {source_format} was given but the content is {content.upper()}",
                           hint=f"pass --source-format {_CONTENT_FORMAT[content]} (or leave it at auto)")
        return forced
    if ext not in _EXT_KIND:
        if ext in (".h5", ".hdf5", ".keras"):
            raise BadInput(f"{name}: unsupported file type {ext}: a Keras model, not candles",
                           hint="import a Stage 1 model with `stage1 import PATH --symbol S --timeframe TF`")
        raise BadInput(f"{name}: unsupported file type {ext or '(no extension)'}",
                       hint="use CSV, Parquet, Feather, JSON (also .csv.gz / .json.gz) or a Binance .zip dump")
    if content == "binary":
        raise BadInput(f"{name}: not a CSV, Parquet or Feather file (unrecognised binary content)")
    expected = _EXT_KIND[ext]
    if expected != content:
        fix = _CONTENT_FORMAT.get(content)
        ren = {"text": ".csv", "zip": ".zip"}.get(content, f".{content}")
        raise BadInput(f"{name}: the content is {content.upper()} but the name ends in {ext}",
                       hint=f"rename the file to {ren}" + (f", or pass --source-format {fix}" if fix else ""))
    return content


def read_table(path: Path, source_format: str = "auto") -> tuple[pd.DataFrame, list[str], str]:
    """-> (raw table, notes, detected format).  Raises BadInput for unreadable content.

    ``raw.attrs["exported_at"]`` (a UTC Timestamp) is set when the content says when it was written."""
    name = path.name
    if source_format not in FORMATS:
        raise BadInput(f"unknown source format {source_format!r}", hint=f"use one of {', '.join(FORMATS)}")
    check_data_file(path)
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"{name}: the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(4096)
        f.seek(max(0, size - 8))
        tail = f.read()
    content = sniff_content(head, tail)
    ext = path.suffix.lower()
    unpacked: bytes | None = None
    notes: list[str] = []
    if content == "gzip":
        if ext == ".gz":
            ext = Path(path.stem).suffix.lower()
        if source_format == "auto" and ext not in (".csv", ".tsv", ".txt", ".json"):
            raise BadInput(f"{name}: the content is GZIP but the name ends in {ext or '(no extension)'}",
                           hint="name it .csv.gz or .json.gz")
        try:
            unpacked = _gunzip(path, size)
        except (OSError, EOFError, zlib.error) as e:
            raise BadInput(f"{name}: not a readable gzip file (truncated or corrupt: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__})") from e
        if not unpacked.strip():
            raise BadInput(f"{name}: the gzip file unpacks to nothing")
        content = sniff_content(unpacked[:4096], unpacked[-8:])
        if content in ("gzip", "zip"):
            raise BadInput(f"{name}: a {content} archive inside a gzip file", hint="unpack it yourself first")
        notes.append(f"unpacked from gzip ({size:,} -> {len(unpacked):,} bytes)")
    kind = _kind_for(name, ext, content, source_format)
    try:
        if kind == "parquet":
            if unpacked is None and not tail.endswith(b"PAR1"):
                raise BadInput(f"{name}: truncated Parquet file (no footer)")
            df = pd.read_parquet(io.BytesIO(unpacked) if unpacked is not None else path)
        elif kind == "feather":
            df = pd.read_feather(io.BytesIO(unpacked) if unpacked is not None else path)
        elif kind == "json":
            if size > MAX_CSV_BYTES:
                raise BadInput(f"{name}: {size / 1e9:.1f} GB is too large for a JSON import; convert it to Parquet")
            df, jnotes = _read_json(path, unpacked)
            notes += jnotes
        elif kind == "zip":
            df, znotes = _read_zip(path, source_format, size)
            notes += znotes
        else:
            if size > MAX_CSV_BYTES:
                raise BadInput(f"{name}: {size / 1e9:.1f} GB is too large for a CSV import; convert it to Parquet")
            raw = unpacked if unpacked is not None else path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                try:
                    text = raw.decode("utf-16")
                except UnicodeError:
                    raise BadInput(f"{name}: not UTF-8 text") from None
            del raw, unpacked
            df, tnotes = _read_text_table(text, name, source_format)
            notes += tnotes
    except BadInput:
        raise
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError, pd.errors.ParserError, EOFError, KeyError) as e:
        what = {"parquet": "Parquet", "feather": "Feather", "json": "JSON", "zip": "zip", "text": "CSV"}[kind]
        raise BadInput(f"{name}: not a readable {what} file (truncated or corrupt: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__})") from e
    return df, notes, kind


# freqtrade's JSON candle layout (``--data-format-ohlcv json|jsongz``): a list of [ms, open, high, low, close, volume]
FREQTRADE_JSON_COLUMNS = ["date", "open", "high", "low", "close", "volume"]


def _read_json(path: Path, unpacked: bytes | None = None) -> tuple[pd.DataFrame, list[str]]:
    src = io.BytesIO(unpacked) if unpacked is not None else path
    df = pd.read_json(src, precise_float=True)  # the default fast float parser is off by an ulp on some values
    if not isinstance(df, pd.DataFrame):
        raise BadInput(f"{path.name}: the JSON is not a table")
    cols = list(df.columns)
    if len(cols) in (6, 7) and all(isinstance(c, (int, np.integer)) for c in cols) and cols == list(range(len(cols))):
        names = FREQTRADE_JSON_COLUMNS + (["quote_volume"] if len(cols) == 7 else [])
        df.columns = names
        return df, [f"freqtrade JSON candles: rows of [{', '.join(names)}] (epoch ms)"]
    if all(isinstance(c, (int, np.integer)) for c in cols):
        raise BadInput(f"{path.name}: a JSON list of rows with {len(cols)} values each; freqtrade's JSON candles have 6 "
                       "([ms, open, high, low, close, volume])",
                       hint="name the columns: save it as a JSON table with column names, or as CSV with a header")
    return df, []


def _read_zip(path: Path, source_format: str, size: int) -> tuple[pd.DataFrame, list[str]]:
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise BadInput(f"{path.name}: a zip must hold exactly one CSV (it holds {len(infos)} entries)")
            members = [m for m in infos if not m.is_dir()]
            if len(members) != 1:
                raise BadInput(f"{path.name}: a zip must hold exactly one CSV (it holds {len(members)} files)")
            m = members[0]
            limit = unpack_limit(size)
            if m.file_size > limit:
                raise BadInput(f"{path.name}: {m.filename[:80]} is too large ({m.file_size / 1e9:.1f} GB unpacked; at most "
                               f"{limit / 1024**2:.0f} MiB is read from a {size / 1024**2:.1f} MiB zip)",
                               hint="unpack it yourself and convert it to Parquet")
            with z.open(m) as f:
                raw = read_capped(f, limit, path.name, f"{m.filename[:80]} in the zip")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput(f"{path.name}: {m.filename[:80]} in the zip is not UTF-8 text") from None
        del raw
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as e:
        raise BadInput(f"{path.name}: not a readable zip file ({str(e)[:160]})") from e
    df, notes = _read_text_table(text, path.name, source_format)
    return df, [f"read {m.filename[:80]} from the zip"] + notes


def check_data_file(p: Path) -> None:
    """Refuse what is not a regular file with the real reason (issue 17 defect 20)."""
    from config.paths import not_a_file_reason

    why = not_a_file_reason(p)
    if why is None:
        return
    if why.startswith("does not exist"):
        raise NotFound(f"no such file: {p}" + why[len("does not exist"):])
    if why.startswith("is a folder"):
        raise BadInput(f"{p} is a folder, not a data file", hint="give one CSV / Parquet / Feather / JSON file")
    raise BadInput(f"{p} {why.replace('regular file', 'regular data file')}")


def export_time(raw: pd.DataFrame, path: Path | None, given=None) -> tuple[int | None, str | None, int | None]:
    """When the file was written, as known: -> (epoch ns or None, how it is known, the last close_time in ns or None).

    In order: ``given`` (``--exported-at``); the content's own statement (CryptoDataDownload's "Created on"
    line); the file's modification time.  Each is an upper bound on the real export time (a copy of a file
    has a later mtime than the export), so the rule built on it can miss a partial bar but never flags a
    finished one.  The last ``close_time`` of Binance-layout files is returned as well: Binance writes a
    still-open bar's close_time as its future end, so only a close_time *before* the bar's end says
    anything (an exporter that cut the bar there); :func:`engine.data.validate.validate` judges that."""
    from engine.data.canonical import parse_utc

    ts, how = None, None
    if given is not None:
        t = parse_utc(given, "--exported-at")
        return int(t.value), f"--exported-at {t:%Y-%m-%d %H:%M}", None
    cands = []
    if raw.attrs.get("exported_at") is not None:
        cands.append((int(pd.Timestamp(raw.attrs["exported_at"]).value), raw.attrs.get("exported_by", "the file")))
    if path is not None:
        try:
            cands.append((int(path.stat().st_mtime_ns), "the file's modification time"))
        except OSError:
            pass
    if cands:
        ts, how = min(cands)
    close_ns = None
    ccol = next((c for c in raw.columns if str(c).strip().lower().replace(" ", "_") in ("close_time", "closetime")), None)
    if ccol is not None and len(raw):
        try:
            from engine.data.normalize import parse_times

            ns, _, _, _ = parse_times(raw[ccol], path.name if path else "table", str(ccol), timezone=None)
            close_ns = int(ns.max())
        except (BadInput, ValueError, TypeError, OverflowError):
            close_ns = None
    return ts, how, close_ns


@dataclass
class Inspection:
    """One file read, recognised (candles or funding) and normalised: what ``data validate``, ``data
    import`` and the Data page's Validate tab all start from (:func:`inspect_file`), so they never disagree
    on what a file is."""

    path: Path
    format: str  # the reader used (binance, freqtrade, csv, parquet ...)
    raw: pd.DataFrame
    norm: Normalized
    funding: bool
    symbol: str | None  # from --symbol or the name; a funding file's symbol is the perpetual (...-PERP)
    timeframe: str | None  # None for funding
    name_symbol: str | None
    name_timeframe: str | None
    exported: tuple[int, str] | None  # (epoch ns, how it is known): an upper bound on the export time
    last_close_ns: int | None
    now: float | None = None

    @property
    def notes(self) -> list[str]:
        return self.norm.notes

    def report(self) -> Report:
        """The validation report (writes nothing)."""
        return validate(self.norm.df, self.path.name, None if self.funding else self.timeframe, now=self.now,
                        funding=self.funding, exported=self.exported, last_close_ns=self.last_close_ns)


def inspect_file(path: str | Path, *, symbol: str | None = None, timeframe: str | None = None,
                 source_format: str = "auto", timezone: str | None = None, mapping: dict[str, str] | None = None,
                 exported_at=None, now: float | None = None) -> Inspection:
    """Read -> recognise -> normalise one data file (the one path; see :class:`Inspection`).

    A funding file is recognised by its name (``..._funding_rate...``) or a ``funding_rate`` column; a
    freqtrade funding file keeps the rate in ``open`` (mapped unless ``mapping`` says otherwise).
    MetaTrader files are recognised by ``--source-format mt5`` or their name."""
    p = Path(path)
    check_data_file(p)
    info = parse_file_name(p)
    raw, notes, kind = read_table(p, source_format)
    cols = {str(c).lower() for c in raw.columns}
    funding = info.market == "funding" or "funding_rate" in cols
    mapping = dict(mapping or {})
    if funding and "funding_rate" not in cols and "funding_rate" not in mapping and "open" in raw.columns:
        mapping["funding_rate"] = "open"
        notes.append("freqtrade funding file: the rate is read from the 'open' column")
    mt5 = source_format == "mt5" or info.hint == "mt5"
    norm = normalize(raw, p.name, timezone=timezone, mapping=mapping or None, mt5=mt5, funding=funding)
    norm.notes = notes + norm.notes
    sym = check_symbol(symbol) if symbol else info.symbol
    if funding and sym and not sym.endswith("-PERP"):
        sym = f"{sym}-PERP"
    tf = None if funding else (parse_timeframe(timeframe) if timeframe else info.timeframe)
    exp_ns, exp_how, close_ns = export_time(raw, p, exported_at)
    return Inspection(path=p, format=kind, raw=raw, norm=norm, funding=funding, symbol=sym, timeframe=tf,
                      name_symbol=info.symbol, name_timeframe=info.timeframe,
                      exported=(exp_ns, exp_how) if exp_ns is not None else None, last_close_ns=close_ns, now=now)


class FileSource(DataSource):
    name = "file"

    def __init__(self, path: str | Path, *, symbol: str | None = None, timeframe: str | None = None,
                 source_format: str = "auto", timezone: str | None = None, mapping: dict[str, str] | None = None,
                 now: float | None = None, exported_at=None):
        self.path = Path(path)
        self.symbol = check_symbol(symbol) if symbol else None
        self.timeframe = parse_timeframe(timeframe) if timeframe else None  # canonical: inspect_file keeps it
        self.source_format = source_format
        self.timezone = timezone
        self.mapping = mapping
        self.now = now
        self.exported_at = exported_at

    def read(self) -> list[Series]:
        i = inspect_file(self.path, symbol=self.symbol, timeframe=self.timeframe, source_format=self.source_format,
                         timezone=self.timezone, mapping=self.mapping, exported_at=self.exported_at, now=self.now)
        p = i.path
        source = {"type": "file", "path": str(p.resolve()), "format": i.format, "sha256": sha256_file(p),
                  "size": p.stat().st_size, "name_symbol": i.name_symbol, "name_timeframe": i.name_timeframe}
        if i.exported is not None:
            source["exported_at"] = pd.Timestamp(i.exported[0], tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
            source["exported_at_from"] = i.exported[1]
        return [finish(i.norm, symbol=i.symbol, timeframe=i.timeframe, label=p.name, source=source, now=self.now,
                       exported=i.exported, last_close_ns=i.last_close_ns)]


def list_data_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(data files, other files) under ``folder``, recursively, in a stable order.  Only regular files count
    (no devices, pipes or sockets); more than MAX_FOLDER_ENTRIES entries (``/proc``, a home folder) is refused."""
    data, other = [], []
    entries = []
    for n, p in enumerate(folder.rglob("*")):
        if n >= MAX_FOLDER_ENTRIES:
            raise BadInput(f"{folder}: more than {MAX_FOLDER_ENTRIES:,} entries under the folder; not a folder of candle files",
                           hint="import a folder that holds only the data files")
        entries.append(p)
    for p in sorted(entries):
        try:
            if not p.is_file():
                continue
        except OSError:
            continue
        if any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        suffixes = [x.lower() for x in p.suffixes[-2:]]
        is_data = suffixes[-1:] != [".gz"] and p.suffix.lower() in DATA_EXTENSIONS or suffixes in ([".csv", ".gz"], [".json", ".gz"], [".tsv", ".gz"], [".txt", ".gz"])
        (data if is_data else other).append(p)
    return data, other
