"""Import orchestration: read and validate everything first, write only when all is good.

A folder import is all-or-nothing by default (any bad file -> exit 2, every bad file named,
nothing written); ``skip_bad`` imports the good files and lists the others with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from config.errors import BadInput, Conflict, KlineLabError, NotFound
from engine.data.sources.base import DataSource, Series
from engine.data.sources.files import FileSource, list_data_files
from engine.data.store import SaveResult, save_series
from engine.progress import progress
from storage.workspace import Workspace


@dataclass
class ImportResult:
    imported: list[SaveResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {path, reason}
    ignored: list[str] = field(default_factory=list)  # not data files (README.md ...)
    reports: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"imported": [r.to_dict() for r in self.imported], "skipped": self.skipped, "ignored": self.ignored,
                "reports": self.reports}


def read_path(path: str | Path, *, symbol=None, timeframe=None, source_format="auto", timezone=None, mapping=None,
              skip_bad=False, exported_at=None) -> tuple[list[Series], list[dict[str, str]], list[str]]:
    p = Path(path).expanduser()
    if not p.exists():
        raise NotFound(f"no such file or folder: {p}")
    if p.is_dir():
        files, other = list_data_files(p)
        if not files:
            raise BadInput(f"{p}: no data files (CSV, Parquet, Feather, JSON, zip) in the folder")
        if symbol and len(files) > 1:
            raise BadInput("--symbol applies to one file; a folder's files are named by their file names")
    else:
        files, other = [p], []
    series, bad = [], []
    for i, f in enumerate(files):
        progress(i / len(files), f"reading {f.name}")
        try:
            src = FileSource(f, symbol=symbol, timeframe=timeframe, source_format=source_format, timezone=timezone,
                             mapping=mapping, exported_at=exported_at)
            series += src.read()
        except KlineLabError as e:
            bad.append({"path": str(f), "reason": str(e)})
    if bad and not skip_bad:
        if len(files) == 1:
            raise BadInput(bad[0]["reason"])
        lines = "; ".join(f"{Path(b['path']).name}: {b['reason']}" for b in bad)
        raise BadInput(f"{len(bad)} of {len(files)} files cannot be imported: {lines}",
                       hint="fix them, or pass --skip-bad to import the others")
    return series, bad, [str(o) for o in other]


def _source_entry(s: Series) -> dict[str, Any]:
    d = dict(s.source)
    d.update({"rows": len(s.df), "first": str(s.df.timestamp.iloc[0]), "last": str(s.df.timestamp.iloc[-1]),
              "notes": list(s.notes)})
    return d


def combine(ws: Workspace, series: list[Series], *, replace: bool = False, skip_bad: bool = False
            ) -> tuple[list[tuple[Series, list[dict[str, Any]]]], list[dict[str, str]]]:
    """Group the series read by symbol x timeframe and merge each group (several monthly
    dumps, or two sources of the same market) against each other and the stored series.
    Conflicts raise, or with ``skip_bad`` drop the conflicting file with the reason."""
    from engine.data.store import _merge, funding_id, series_id

    groups: dict[tuple, list[Series]] = {}
    for s in series:
        groups.setdefault((s.symbol, s.timeframe, s.kind), []).append(s)
    out, skipped = [], []
    for (sym, tf, kind), group in groups.items():
        aid = funding_id(sym) if kind == "funding" else series_id(sym, tf)
        fname = "funding.parquet" if kind == "funding" else "ohlcv.parquet"
        stored_path = ws.artifact_dir("ohlcv", aid) / fname
        base = None if replace or not stored_path.is_file() else pd.read_parquet(stored_path)
        acc, parts = None, []
        for s in group:
            cols = [c for c in s.df.columns if c != "timestamp"]
            try:
                if base is not None:
                    _merge(base, s.df, s.label, cols)  # must agree with the stored series
                notes: list[str] = []
                nxt = s.df if acc is None else _merge(acc, s.df, s.label, cols, notes)
            except Conflict as e:
                if not skip_bad:
                    raise
                skipped.append({"path": s.source.get("path", s.label), "reason": str(e)})
                continue
            acc = nxt
            s.notes = list(s.notes) + notes
            parts.append(_source_entry(s))
        if acc is None:
            continue
        first = group[0]
        out.append((Series(symbol=sym, timeframe=tf, kind=kind, df=acc, report=first.report,
                           notes=[n for s in group for n in s.notes], source=first.source), parts))
    return out, skipped


def store_all(ws: Workspace, series: list[Series], *, replace: bool = False, dry_run: bool = False,
              skip_bad: bool = False) -> tuple[list[SaveResult], list[dict[str, str]]]:
    """Write series; every conflict is found before the first write.

    All or nothing: the locks of every series involved are taken first (sorted; another import
    into one of them waits, or is refused with Busy after KLINELAB_LOCK_TIMEOUT), each merged
    series is staged, then all are published in one step (storage.artifacts.publish: a crash
    half-way is rolled back by the start-up cleanup)."""
    from engine.data.store import funding_id, series_id
    from storage.artifacts import discard, publish
    from storage.locks import artifact_locks

    if dry_run:
        combined, skipped = combine(ws, series, replace=replace, skip_bad=skip_bad)
        return [save_series(ws, s, replace=replace, dry_run=True, sources=parts) for s, parts in combined], skipped
    ids = [funding_id(s.symbol) if s.kind == "funding" else series_id(s.symbol, s.timeframe) for s in series]
    with artifact_locks(ws, ids):
        combined, skipped = combine(ws, series, replace=replace, skip_bad=skip_bad)
        out, staged = [], []
        n = len(combined)
        try:
            for i, (s, parts) in enumerate(combined):
                progress((i + 1) / max(n, 1) * 0.95, f"storing {s.label}")
                out.append(save_series(ws, s, replace=replace, sources=parts, staged=staged))
        except BaseException:
            discard(staged)
            raise
        progress(0.97, f"publishing {len(staged)} series")
        publish(ws, staged)
    return out, skipped


def import_sources(ws: Workspace, sources: list[DataSource], *, replace=False, dry_run=False) -> ImportResult:
    series: list[Series] = []
    for src in sources:
        series += src.read()
    res = ImportResult(reports=[s.report.to_dict() | {"notes": s.notes} for s in series])
    res.imported, res.skipped = store_all(ws, series, replace=replace, dry_run=dry_run)
    return res


def import_path(ws: Workspace, path, *, symbol=None, timeframe=None, source_format="auto", timezone=None,
                mapping=None, skip_bad=False, replace=False, dry_run=False, exported_at=None) -> ImportResult:
    series, bad, other = read_path(path, symbol=symbol, timeframe=timeframe, source_format=source_format,
                                   timezone=timezone, mapping=mapping, skip_bad=skip_bad, exported_at=exported_at)
    res = ImportResult(skipped=bad, ignored=other, reports=[s.report.to_dict() | {"notes": s.notes} for s in series])
    if not series:
        if bad or res.skipped:
            return res
        raise BadInput(f"{path}: nothing to import")
    res.imported, skipped = store_all(ws, series, replace=replace, dry_run=dry_run, skip_bad=skip_bad)
    res.skipped += skipped
    return res
