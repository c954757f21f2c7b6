"""Canonical OHLCV in the workspace: one ``ohlcv`` artifact per symbol x timeframe.

    artifacts/ohlcv/ohlcv-<SYMBOL>-<tf>/ohlcv.parquet        candles (canonical columns)
    artifacts/ohlcv/ohlcv-<SYMBOL>-funding/funding.parquet   funding rates of a perpetual

A later import of the same series merges into it: new bars are added, overlapping bars
must agree with the stored ones (otherwise the import is refused and names the first
difference; ``replace`` swaps the whole series).  The manifest keeps every source that fed
the series and the data's sha256, so a feature set can record exactly what it was built on.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from config.errors import BadInput, Conflict, NotFound
from engine.data.canonical import CANONICAL, OPTIONAL, PRICE, REQUIRED, TS_DTYPE, ts_ns
from engine.data.names import check_symbol
from engine.data.sources.base import Series
from engine.data.timeframes import parse_timeframe
from engine.data.validate import find_gaps
from storage.artifacts import create_artifact, read_manifest
from storage.manifest import Manifest, utc_now_iso
from storage.workspace import Workspace

CANDLES_FILE = "ohlcv.parquet"
FUNDING_FILE = "funding.parquet"


def series_id(symbol: str, timeframe: str) -> str:
    return f"ohlcv-{check_symbol(symbol)}-{parse_timeframe(timeframe)}"


def funding_id(symbol: str) -> str:
    return f"ohlcv-{check_symbol(symbol)}-funding"


def data_hash(df: pd.DataFrame) -> str:
    """Content hash of a canonical table (independent of the Parquet encoding)."""
    h = hashlib.sha256()
    for c in df.columns:
        h.update(c.encode())
        col = df[c]
        arr = ts_ns(col) if c == "timestamp" else col.to_numpy(dtype="float64")
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def write_parquet(df: pd.DataFrame, path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=6)


@dataclass
class SaveResult:
    id: str
    symbol: str
    timeframe: str | None
    rows: int
    added_rows: int
    first: str
    last: str
    path: str
    status: str  # created | updated | unchanged | replaced
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _fmt(ts) -> str:
    """ISO 8601 UTC, e.g. 2025-04-10T17:00:00Z."""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _completes(partial: pd.DataFrame, full: pd.DataFrame) -> np.ndarray:
    """Rows where ``full`` is the finished version of the bar ``partial`` caught while it was still open:
    same open, a range that contains it, at least its volume."""
    return ((partial["open"].to_numpy() == full["open"].to_numpy())
            & (full["high"].to_numpy() >= partial["high"].to_numpy())
            & (full["low"].to_numpy() <= partial["low"].to_numpy())
            & (full["volume"].to_numpy() >= partial["volume"].to_numpy()))


def _merge(old: pd.DataFrame, new: pd.DataFrame, label: str, value_cols: list[str],
           notes: list[str] | None = None) -> pd.DataFrame:
    """Union of two tables on timestamp; overlapping rows must agree.

    The one exception is the last bar of either table when the other holds its finished
    version (a bar caught while still open): the finished bar is kept and a note says so."""
    both = old.merge(new, on="timestamp", how="inner", suffixes=("_old", "_new"))
    take_new = np.zeros(len(both), dtype=bool)
    if len(both):
        bad = np.zeros(len(both), dtype=bool)
        for c in value_cols:
            if f"{c}_old" not in both or f"{c}_new" not in both:
                continue
            a, b = both[f"{c}_old"].to_numpy("float64"), both[f"{c}_new"].to_numpy("float64")
            rtol = 1e-9 if c in PRICE or c == "funding_rate" else 1e-6
            ok = np.isclose(a, b, rtol=rtol, atol=0.0, equal_nan=True) | np.isnan(a) | np.isnan(b)
            bad |= ~ok
        if bad.any() and "open" in value_cols:
            last = (both["timestamp"] == old["timestamp"].max()) | (both["timestamp"] == new["timestamp"].max())
            o = both[[f"{c}_old" for c in ("open", "high", "low", "volume")]].set_axis(["open", "high", "low", "volume"], axis=1)
            n = both[[f"{c}_new" for c in ("open", "high", "low", "volume")]].set_axis(["open", "high", "low", "volume"], axis=1)
            new_finishes = last.to_numpy() & _completes(o, n)
            old_finishes = last.to_numpy() & _completes(n, o)
            resolved = bad & (new_finishes | old_finishes)
            take_new = bad & new_finishes
            for t in both.loc[resolved, "timestamp"]:
                if notes is not None:
                    notes.append(f"bar {_fmt(t)} was still open in one source; the finished bar is kept")
            bad &= ~resolved
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            n_bad = int(bad.sum())
            col = next(c for c in value_cols if f"{c}_old" in both and not np.isclose(
                both[f"{c}_old"].iloc[i], both[f"{c}_new"].iloc[i], rtol=1e-6, equal_nan=True))
            raise Conflict(f"{label}: {n_bad} of {len(both)} overlapping bars differ from the stored series "
                           f"(first {_fmt(both['timestamp'].iloc[i])}: {col} {both[f'{col}_old'].iloc[i]:g} stored "
                           f"vs {both[f'{col}_new'].iloc[i]:g} new)",
                           hint="import it under another symbol with --symbol (e.g. a perpetual as SYMBOL-PERP), or pass --replace")
    replace_ts = set(both.loc[take_new, "timestamp"]) if take_new.any() else set()
    keep_old = old[~old["timestamp"].isin(replace_ts)] if replace_ts else old
    merged = pd.concat([keep_old, new[~new["timestamp"].isin(keep_old["timestamp"])]], ignore_index=True)
    # fill optional columns the old table lacked from the new one on overlapping rows
    extra = [c for c in new.columns if c not in old.columns]
    if extra and len(both):
        fill = new.set_index("timestamp")[extra]
        idx = merged["timestamp"].isin(fill.index)
        for c in extra:
            merged.loc[idx, c] = fill.loc[merged.loc[idx, "timestamp"], c].to_numpy()
    return merged.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _order(df: pd.DataFrame, funding: bool) -> pd.DataFrame:
    if funding:
        return df[["timestamp", "funding_rate"]]
    cols = [c for c in CANONICAL if c in df.columns]
    return df[cols]


def save_series(ws: Workspace, s: Series, *, replace: bool = False, dry_run: bool = False,
                sources: list[dict[str, Any]] | None = None, staged: list | None = None) -> SaveResult:
    """Store one series (merging into the stored one unless ``replace``).  ``sources`` lists
    the provenance of every part when ``s`` combines several files.

    The series' lock (storage.locks) is held from reading the stored series to publishing the
    merged one, so a concurrent import into the same series waits (or is refused with Busy)
    instead of being overwritten.  With ``staged`` (a list) the new version is only staged
    (appended there); the caller, still holding the lock, publishes it (storage.artifacts.publish)."""
    from storage.locks import artifact_lock

    funding = s.kind == "funding"
    aid = funding_id(s.symbol) if funding else series_id(s.symbol, s.timeframe)
    if dry_run:
        return _save_series(ws, s, aid, funding, replace=replace, dry_run=True, sources=sources, staged=staged)
    with artifact_lock(ws, aid):
        return _save_series(ws, s, aid, funding, replace=replace, dry_run=False, sources=sources, staged=staged)


def _save_series(ws: Workspace, s: Series, aid: str, funding: bool, *, replace: bool, dry_run: bool,
                 sources: list[dict[str, Any]] | None, staged: list | None) -> SaveResult:
    fname = FUNDING_FILE if funding else CANDLES_FILE
    value_cols = ["funding_rate"] if funding else REQUIRED + OPTIONAL
    new = _order(s.df.sort_values("timestamp").reset_index(drop=True), funding)
    old_m: Manifest | None = None
    try:
        old_m = read_manifest(ws, aid, "ohlcv")
    except NotFound:
        old_m = None
    status = "created"
    history: list[dict[str, Any]] = []
    if old_m is not None and not replace:
        old = pd.read_parquet(ws.artifact_dir("ohlcv", aid) / fname)
        merge_notes: list[str] = []
        merged = _merge(old, new, s.label, value_cols, merge_notes)
        merged = _order(merged, funding)
        s.notes = list(s.notes) + merge_notes
        history = list(old_m.params.get("sources") or [])
        added = len(merged) - len(old)
        if added == 0 and set(merged.columns) == set(old.columns) and not merge_notes:
            return SaveResult(aid, s.symbol, s.timeframe, len(old), 0, _fmt(old.timestamp.iloc[0]), _fmt(old.timestamp.iloc[-1]),
                              str(ws.artifact_dir("ohlcv", aid) / fname), "unchanged", s.notes)
        status = "updated"
    else:
        merged = new
        added = len(new)
        status = "replaced" if old_m is not None else "created"
    merged["timestamp"] = merged["timestamp"].astype(TS_DTYPE)
    if sources is None:
        src = dict(s.source)
        src.update({"rows": len(new), "first": _fmt(new.timestamp.iloc[0]), "last": _fmt(new.timestamp.iloc[-1]),
                    "notes": s.notes})
        sources_new = [src]
    else:
        sources_new = [dict(x) for x in sources]
    for x in sources_new:
        x["imported_at"] = utc_now_iso()
    history = history + sources_new
    res = SaveResult(aid, s.symbol, s.timeframe, len(merged), added, _fmt(merged.timestamp.iloc[0]),
                     _fmt(merged.timestamp.iloc[-1]), str(ws.artifact_dir("ohlcv", aid) / fname), status, s.notes)
    if dry_run:
        res.status = f"would be {status}"
        return res
    gaps = [] if funding else find_gaps(ts_ns(merged["timestamp"]), s.timeframe)
    with create_artifact(ws, "ohlcv", artifact_id=aid, name=f"{s.symbol} {s.timeframe or 'funding'}", symbols=[s.symbol],
                         timeframe=s.timeframe, params={"sources": history, "series": "funding" if funding else "candles"},
                         replace=True, staged=staged) as d:
        write_parquet(merged, d.path(fname))
        d.manifest.start = merged.timestamp.iloc[0].isoformat()
        d.manifest.end = merged.timestamp.iloc[-1].isoformat()
        d.manifest.metrics = {"rows": len(merged), "gaps": len(gaps), "missing_bars": int(sum(g["missing_bars"] for g in gaps))}
        d.manifest.extra = {"columns": list(merged.columns), "data_sha256": data_hash(merged), "gaps": gaps[:500],
                            "validation": s.report.to_dict() if s.report else None}
    return res


def load_candles(ws: Workspace, symbol: str, timeframe: str, *, start=None, end=None, with_funding: bool = False,
                 columns: list[str] | None = None) -> pd.DataFrame:
    """Candles of one series (timestamp UTC + canonical columns); ``with_funding`` adds
    ``funding_rate`` at the bars whose open time is a funding time (NaN elsewhere)."""
    aid = series_id(symbol, timeframe)
    d = ws.artifact_dir("ohlcv", aid)
    if not (d / CANDLES_FILE).is_file():
        raise NotFound(f"no candles for {check_symbol(symbol)} {parse_timeframe(timeframe)} in the workspace",
                       hint="import them on the Data page or with `python -m engine data import`")
    filters = []
    if start is not None:
        filters.append(("timestamp", ">=", pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tzinfo is None else pd.Timestamp(start)))
    if end is not None:
        filters.append(("timestamp", "<=", pd.Timestamp(end, tz="UTC") if pd.Timestamp(end).tzinfo is None else pd.Timestamp(end)))
    df = pd.read_parquet(d / CANDLES_FILE, columns=["timestamp", *columns] if columns else None, filters=filters or None)
    if with_funding:
        f = load_funding(ws, symbol)
        if f is not None:
            df = df.merge(f, on="timestamp", how="left")
        else:
            df["funding_rate"] = np.nan
    return df


def load_funding(ws: Workspace, symbol: str) -> pd.DataFrame | None:
    d = ws.artifact_dir("ohlcv", funding_id(symbol))
    if not (d / FUNDING_FILE).is_file():
        return None
    return pd.read_parquet(d / FUNDING_FILE)


def coverage(ws: Workspace) -> pd.DataFrame:
    """Symbol x timeframe table: rows, range, gaps, columns, id, path (from the manifests)."""
    from storage.artifacts import list_manifests

    rows = []
    for m in list_manifests(ws, "ohlcv"):
        rows.append({"symbol": m.symbols[0] if m.symbols else "", "timeframe": m.timeframe or "funding",
                     "rows": m.metrics.get("rows"), "start": m.start, "end": m.end, "gaps": m.metrics.get("gaps", 0),
                     "missing_bars": m.metrics.get("missing_bars", 0),
                     "columns": ", ".join(c for c in m.extra.get("columns", []) if c != "timestamp"),
                     "sources": len(m.params.get("sources") or []), "id": m.id,
                     "path": str(ws.artifact_dir("ohlcv", m.id))})
    df = pd.DataFrame(rows, columns=["symbol", "timeframe", "rows", "start", "end", "gaps", "missing_bars", "columns",
                                     "sources", "id", "path"])
    return df.sort_values(["symbol", "timeframe"]).reset_index(drop=True)


def available(ws: Workspace, timeframe: str | None = None) -> list[tuple[str, str]]:
    cov = coverage(ws)
    cov = cov[cov.timeframe != "funding"]
    if timeframe:
        cov = cov[cov.timeframe == parse_timeframe(timeframe)]
    return list(zip(cov.symbol, cov.timeframe))


__all__ = [
    "BadInput",
    "available",
    "coverage",
    "data_hash",
    "funding_id",
    "load_candles",
    "load_funding",
    "save_series",
    "series_id",
]
