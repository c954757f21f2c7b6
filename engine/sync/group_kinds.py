"""The groups whose layout or content differs from a plain artifact group (``group_base.Group``):
each overrides only the steps that differ.

* :class:`TrainingGroup`: feature sets plus, per set, the exclusion lists of its newest analysis
  report and the scalers fitted on it (``--no-scalers`` leaves those out / alone);
* :class:`TicksGroup`: raw tick / trade files of a local folder, not artifacts;
* :class:`KlinesGroup`: candle series in the seeds' ``klines/{SYMBOL}/{BASE}_{tf}.parquet`` layout with
  Binance's column names, read back through the data importer;
* :class:`Stage1Group`: Stage 1 models in the seed's ``v1_model/{SYMBOL}/{tf}/`` layout.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import BadInput
from engine.sync.group_base import Group, newest, parse_kline_path, parse_v1_path, ticks_dir, verified_dir
from engine.sync.plan import DownloadPlanning, Landing, same_content
from engine.sync.selection import LocalFile, Selection
from storage.manifest import Manifest, sha256_file
from storage.workspace import Workspace


@dataclass(frozen=True)
class TrainingGroup(Group):
    optional_scalers = True

    def extras(self, ws: Workspace, m: Manifest, taken: set[str], sel: Selection) -> list[LocalFile]:
        """excluded / included feature lists of the newest report on this feature set, and the scalers fitted on it."""
        from storage.artifacts import list_manifests

        out = []
        reports = newest([r for r in list_manifests(ws, "analysis") if m.id in r.parents])
        if reports:
            d = ws.artifact_dir("analysis", reports[0].id)
            for fn in ("excluded_features.txt", "included_features.txt"):
                p = d / fn
                path = f"{self.prefix}{m.id}/{fn}"
                if p.is_file() and path not in taken:
                    out.append(LocalFile(path, p, p.stat().st_size, sha256_file(p), m.id, note=f"from report {reports[0].id}"))
        if sel.scalers:
            for kind in ("model", "stage2"):
                for fitted in list_manifests(ws, kind):
                    p = ws.artifact_dir(kind, fitted.id) / "scaler.json"
                    path = f"{self.prefix}{m.id}/scalers/{fitted.id}.json"
                    if m.id in fitted.parents and p.is_file() and path not in taken:
                        out.append(LocalFile(path, p, p.stat().st_size, sha256_file(p), m.id, note=f"scaler of {fitted.id}"))
        return out

    def kept_note(self, path: str, sel: Selection) -> str:
        return "scaler kept (--no-scalers)" if not sel.scalers and "/scalers/" in path else ""


@dataclass(frozen=True)
class TicksGroup(Group):
    local_folder = True
    whole_artifacts = False

    def local_files(self, ws: Workspace, sel: Selection, staging: Path) -> list[LocalFile]:
        root = ticks_dir(ws, sel)
        if not root.is_dir():
            raise BadInput(f"no tick folder at {root}", hint="put the tick files there or pass --ticks-dir DIR")
        out = []
        for dirpath, _dirs, files in os.walk(root):
            for fn in sorted(files):
                p = Path(dirpath) / fn
                if p.is_symlink() or not p.is_file():
                    continue
                rel = p.relative_to(root).as_posix()
                out.append(LocalFile(f"{self.prefix}{rel}", p, p.stat().st_size, sha256_file(p)))
        if not out:
            raise BadInput(f"the tick folder {root} is empty")
        return sorted(out, key=lambda f: f.path)

    def plan_download(self, ctx: DownloadPlanning) -> None:
        root = ticks_dir(ctx.ws, ctx.sel)
        for path in sorted(ctx.remote):
            target = root / path[len(self.prefix):]
            exists = target.is_file()
            ctx.add(path, *ctx.decide(exists and same_content(target, None, ctx.remote[path]), exists))

    def land(self, ctx: Landing) -> list[dict[str, Any]]:
        root = ticks_dir(ctx.ws, ctx.sel)
        for path, src in ctx.got.items():
            target = root / path[len(self.prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.partial")
            shutil.move(str(src), tmp)
            tmp.replace(target)  # atomic per file
        return [{"path": str(root / p[len(self.prefix):])} for p in ctx.got]


@dataclass(frozen=True)
class KlinesGroup(Group):
    whole_artifacts = False

    def local_files(self, ws: Workspace, sel: Selection, staging: Path) -> list[LocalFile]:
        """Each candle series converted into ``staging`` with Binance's column names."""
        from engine.sync.klines import binance_file, kline_path

        out = []
        for m in sorted(self.chosen(ws, sel), key=lambda m: m.id):
            if m.params.get("series") == "funding" or not m.timeframe:
                continue
            target = staging / "klines" / f"{m.id}.parquet"
            binance_file(ws.artifact_dir("ohlcv", m.id) / "ohlcv.parquet", m.timeframe, target)
            out.append(LocalFile(kline_path(m.symbols[0], m.timeframe), target, target.stat().st_size,
                                 sha256_file(target), m.id))
        return out

    def selected(self, path: str, sel: Selection) -> bool:
        kp = parse_kline_path(path)
        return kp is not None and sel.wants(None if not sel.ids else f"ohlcv-{kp[0]}-{kp[1]}", [kp[0]], kp[1])

    def plan_download(self, ctx: DownloadPlanning) -> None:
        from engine.data.store import series_id
        from engine.sync.klines import binance_file

        for path in sorted(ctx.remote):
            parsed = parse_kline_path(path)
            if parsed is None:
                ctx.add(path, "skipped", note="not klines/{SYMBOL}/{BASE}_{tf}.parquet")
                continue
            sym, tf = parsed
            if not ctx.sel.wants(None if not ctx.sel.ids else series_id(sym, tf), [sym], tf):
                continue
            stored = ctx.ws.artifact_dir("ohlcv", series_id(sym, tf)) / "ohlcv.parquet"
            if stored.is_file():
                conv = binance_file(stored, tf, ctx.staging / "compare" / path)
                same = same_content(conv, None, ctx.remote[path])
                ctx.add(path, "unchanged" if same else "changed", series_id(sym, tf),
                        "" if same else "merged into the stored series (conflicting bars refuse the import)")
            else:
                ctx.add(path, "new", series_id(sym, tf))

    def land(self, ctx: Landing) -> list[dict[str, Any]]:
        """Read back through the data importer (validated, merged into the stored series)."""
        from engine.data.importer import store_all
        from engine.data.sources.files import FileSource

        series = []
        for path, src in ctx.got.items():
            sym, tf = parse_kline_path(path)
            for s in FileSource(src, symbol=sym, timeframe=tf).read():
                s.source.update({"type": "huggingface", "repo_id": ctx.plan.repo_id, "filename": path,
                                 "revision": ctx.plan.head, "path": path})
                series.append(s)
        saved, _ = store_all(ctx.ws, series, replace=ctx.replace)
        return [{"id": r.id, "kind": "ohlcv", "status": r.status} for r in saved]


@dataclass(frozen=True)
class Stage1Group(Group):
    whole_artifacts = False

    def local_files(self, ws: Workspace, sel: Selection, staging: Path) -> list[LocalFile]:
        """The seed's layout: the newest stage1 artifact per symbol / timeframe."""
        out = []
        seen: dict[str, str] = {}
        for m in newest(self.chosen(ws, sel)):
            d = verified_dir(ws, m)
            for f in m.files:
                v1 = parse_v1_path(f.path)
                if v1 is None or not sel.wants(m.id, [v1[0]], v1[1]):
                    continue
                if seen.setdefault(f"{v1[0]}/{v1[1]}", m.id) == m.id:
                    out.append(LocalFile(f.path, d / f.path, f.size, f.sha256, m.id))
        return sorted(out, key=lambda f: f.path)

    def selected(self, path: str, sel: Selection) -> bool:
        v1 = parse_v1_path(path)
        return v1 is not None and (not sel.symbols or v1[0] in sel.symbols) and \
            (not sel.timeframes or v1[1] in sel.timeframes)

    def plan_download(self, ctx: DownloadPlanning) -> None:
        folders: dict[tuple[str, str], list[str]] = {}
        for path in sorted(ctx.remote):
            v1 = parse_v1_path(path)
            if v1 is None:
                ctx.add(path, "skipped", note="not v1_model/{SYMBOL}/{tf}/...")
            elif ctx.sel.symbols and v1[0] not in ctx.sel.symbols or ctx.sel.timeframes and v1[1] not in ctx.sel.timeframes:
                continue
            else:
                folders.setdefault(v1[:2], []).append(path)
        for (sym, tf), paths in sorted(folders.items()):
            files = {x: ctx.remote[x] for x in paths}
            aid = stage1_id(sym, tf, files)
            same_as = _local_stage1_match(ctx.ws, sym, tf, files)
            if ctx.sel.ids and aid not in ctx.sel.ids:
                continue
            for x in paths:
                ctx.add(x, "unchanged" if same_as else "new", same_as or aid, f"same as {same_as}" if same_as else "")

    def stage(self, ctx: Landing, staged: list) -> list[dict[str, Any]]:
        from storage.artifacts import create_artifact

        folders: dict[tuple[str, str], list[str]] = {}
        for path in ctx.got:
            folders.setdefault(parse_v1_path(path)[:2], []).append(path)
        created = []
        for (sym, tf), paths in sorted(folders.items()):
            aid = next(i.artifact_id for i in ctx.plan.actionable if i.path == paths[0])
            metrics = _params_metrics(ctx.got.get(f"v1_model/{sym}/{tf}/params.json"))  # read before the move
            with create_artifact(ctx.ws, "stage1", artifact_id=aid, name=f"Stage 1 {sym} {tf} from {ctx.plan.repo_id}",
                                 symbols=[sym], timeframe=tf, params={"source": "huggingface", "path": f"v1_model/{sym}/{tf}"},
                                 origin=ctx.origin, staged=staged) as d:
                for path in paths:
                    shutil.move(str(ctx.got[path]), d.path(path))
                d.manifest.metrics = metrics
                d.manifest.extra["hub"] = dict(ctx.provenance)
            created.append({"id": aid, "kind": "stage1", "files": len(paths)})
        return created


def stage1_id(symbol: str, tf: str, files: dict[str, dict]) -> str:
    digest = hashlib.sha256(json.dumps(sorted((k, v["lfs_sha256"] or v["oid"]) for k, v in files.items())).encode())
    return f"stage1-hub-{symbol}-{tf}-{digest.hexdigest()[:10]}"


def _local_stage1_match(ws: Workspace, symbol: str, tf: str, files: dict[str, dict]) -> str | None:
    from storage.artifacts import list_manifests

    for m in list_manifests(ws, "stage1"):
        mine = {f.path: f for f in m.files if f.path.startswith(f"v1_model/{symbol}/{tf}/")}
        if set(mine) == set(files):
            d = ws.artifact_dir("stage1", m.id)
            if all(same_content(d / path, mine[path].sha256, r) for path, r in files.items()):
                return m.id
    return None


def _params_metrics(params_json: Path | None) -> dict[str, Any]:
    """The numeric metrics of a seed's params.json ({} when it has none or cannot be read)."""
    if params_json is None:
        return {}
    try:
        pj = json.loads(params_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(pj, dict) or not isinstance(pj.get("metrics"), dict):
        return {}
    return {k: v for k, v in pj["metrics"].items() if isinstance(v, (int, float))}
