"""Training and results archives (the seed's ``create-training-archive`` /
``create-results-archive``): a tar.gz laid out like a workspace, whose first member
``klinelab_archive.json`` lists every file with its size and sha256.

* training: feature sets (feature tables + targets) with the analysis reports made on them
  (``excluded_features.txt`` / ``included_features.txt``); ``include_cache`` adds the candle
  series they were built from, ``include_ticks`` the raw tick files of ``<ws>/raw/ticks``;
* results: trained models (deep: checkpoints, metrics, TensorBoard logs, scaler; Stage 1;
  Stage 2) - or any artifacts given by id.

The archive itself is an artifact of kind ``archive`` (parents = what it holds).  Unpacking
(:func:`import_archive`) refuses absolute paths, ``..``, device files and links leaving the
target (Python's ``tarfile`` "data" extraction filter, checked for every member before
anything is written), verifies every file against the archive's list, then adopts each
artifact atomically with origin ``ssh:<host>``.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from config.errors import BadInput, Conflict, KlineLabError, NotFound, Refused
from engine.progress import progress
from engine.sync.groups import verified_dir
from storage.manifest import MANIFEST, Manifest, sha256_file, utc_now_iso
from storage.workspace import Workspace

INDEX = "klinelab_archive.json"
FORMAT = 1
RESULT_KINDS = ("model", "stage1", "stage2")


def _progress(span: tuple[float, float], fraction: float, message: str) -> None:
    progress(span[0] + (span[1] - span[0]) * fraction, message)


def collect(ws: Workspace, kind: str, *, ids: list[str] | None = None, include_ticks: bool = False,
            include_cache: bool = False, kinds: list[str] | None = None) -> tuple[list[Manifest], list[Path]]:
    """(artifacts, tick files) an archive of ``kind`` ('training' | 'results') holds."""
    from storage.artifacts import list_manifests, read_manifest

    if ids:
        chosen = [read_manifest(ws, i) for i in dict.fromkeys(ids)]
    elif kind == "training":
        chosen = list_manifests(ws, "features")
        if not chosen:
            raise BadInput("no feature sets in the workspace to archive", hint="build features first, or pass --ids")
    else:
        chosen = [m for k in (kinds or RESULT_KINDS) for m in list_manifests(ws, k)]
        if not chosen:
            raise BadInput(f"no {', '.join(kinds or RESULT_KINDS)} artifacts in the workspace to archive",
                           hint="train a model first, or pass --ids")
    out = {m.id: m for m in chosen}
    if kind == "training":
        fs_ids = {m.id for m in chosen if m.kind == "features"}
        for m in list_manifests(ws, "analysis"):
            if fs_ids & set(m.parents):
                out.setdefault(m.id, m)
        if include_cache:
            for m in chosen:
                for parent in m.parents:
                    d = ws.find_artifact_dir(parent)
                    if d is not None and parent.startswith("ohlcv-"):
                        out.setdefault(parent, Manifest.read(d))
    ticks: list[Path] = []
    if include_ticks:
        root = ws.ticks_dir
        if not root.is_dir():
            raise BadInput(f"--include-ticks: no tick folder at {root}")
        ticks = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return sorted(out.values(), key=lambda m: (m.kind, m.id)), ticks


def ticks_size(ws: Workspace) -> int:
    root = ws.ticks_dir
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def create(ws: Workspace, kind: str, *, ids: list[str] | None = None, include_ticks: bool = False,
           include_cache: bool = False, kinds: list[str] | None = None, output: str | None = None,
           compresslevel: int = 1, name: str | None = None, span: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Write the archive as an ``archive`` artifact (and copy it to ``output`` if given);
    progress is reported within ``span`` of the calling job's range."""
    from storage.artifacts import create_artifact

    if kind not in ("training", "results"):
        raise BadInput(f"unknown archive kind {kind!r}")
    if not 0 <= compresslevel <= 9:
        raise BadInput("--compression must be 0..9")
    out_path = Path(output).expanduser().resolve() if output else None
    if out_path is not None and (out_path.is_dir() or not out_path.parent.is_dir()):
        raise BadInput(f"--output {output}: give a file path in an existing folder")
    manifests, ticks = collect(ws, kind, ids=ids, include_ticks=include_ticks, include_cache=include_cache, kinds=kinds)
    entries: list[tuple[str, Path, int, str]] = []
    for m in manifests:
        d = verified_dir(ws, m, "archiving")
        base = f"artifacts/{m.kind}/{m.id}"
        entries += [(f"{base}/{f.path}", d / f.path, f.size, f.sha256) for f in m.files]
        entries.append((f"{base}/{MANIFEST}", d / MANIFEST, (d / MANIFEST).stat().st_size, sha256_file(d / MANIFEST)))
    troot = ws.ticks_dir
    entries += [(f"raw/ticks/{p.relative_to(troot).as_posix()}", p, p.stat().st_size, sha256_file(p)) for p in ticks]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    fname = name or (f"training_data_{stamp}.tar.gz" if kind == "training" else f"results_{stamp}.tar.gz")
    if "/" in fname or not fname.endswith((".tar.gz", ".tgz")):
        raise BadInput(f"archive name {fname!r}: a plain file name ending in .tar.gz")
    index = {"format": FORMAT, "kind": kind, "created_at": utc_now_iso(), "source": os.uname().nodename,
             "artifacts": [{"id": m.id, "kind": m.kind} for m in manifests],
             "files": [{"path": p, "size": s, "sha256": h} for p, _, s, h in entries]}
    total = sum(e[2] for e in entries) or 1
    with create_artifact(ws, "archive", name=fname, parents=[m.id for m in manifests],
                         params={"archive": kind, "ids": ids or [], "include_ticks": include_ticks,
                                 "include_cache": include_cache, "compression": compresslevel}) as d:
        target = d.path(fname)
        done = 0
        with tarfile.open(target, "w:gz", compresslevel=compresslevel, format=tarfile.PAX_FORMAT) as tar:
            raw = json.dumps(index, indent=1).encode()
            ti = tarfile.TarInfo(INDEX)
            ti.size, ti.mtime, ti.mode = len(raw), int(datetime.now(timezone.utc).timestamp()), 0o644
            tar.addfile(ti, io.BytesIO(raw))
            for arcname, src, size, _sha in entries:
                _progress(span, done / total * 0.95, f"archiving {arcname}")
                ti = tar.gettarinfo(str(src), arcname)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mode = 0o644
                with open(src, "rb") as f:
                    tar.addfile(ti, f)
                done += size
        d.manifest.metrics = {"files": len(entries), "bytes": sum(e[2] for e in entries),
                              "archive_bytes": target.stat().st_size, "artifacts": len(manifests)}
        d.manifest.extra = {"archive_file": fname, "archive_kind": kind, "artifacts": index["artifacts"],
                            "ticks": len(ticks)}
    archive_id = d.id
    path = ws.artifact_dir("archive", archive_id) / fname
    sha = next(f.sha256 for f in d.manifest.files if f.path == fname)
    if out_path is not None:
        tmp = out_path.with_name(f".{out_path.name}.partial")
        shutil.copyfile(path, tmp)
        os.replace(tmp, out_path)
    _progress(span, 1.0, f"archive {fname}: {len(entries)} files")
    return {"archive_id": archive_id, "path": str(path), "file": fname, "sha256": sha, "bytes": path.stat().st_size,
            "files": len(entries), "artifacts": index["artifacts"], "output": str(out_path) if out_path else None,
            "_text": f"{archive_id}: {fname}, {len(manifests)} artifact(s), {len(entries)} files, "
                     f"{path.stat().st_size / 1e6:.1f} MB, sha256 {sha[:16]}" + (f"\ncopied to {out_path}" if out_path else "")}


# -- safe extraction ---------------------------------------------------------------------------
def _check_members(tar: tarfile.TarFile, dest: Path, label: str) -> list[tarfile.TarInfo]:
    """Every member through the 'data' filter before anything is written (all or nothing)."""
    members = []
    for member in tar.getmembers():
        name = member.name
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise Refused(f"{label}: refused: member {name!r} has an absolute path")
        if ".." in name.replace("\\", "/").split("/"):
            raise Refused(f"{label}: refused: member {name!r} climbs out of the target folder ('..')")
        if member.isdev() or member.isfifo():
            raise Refused(f"{label}: refused: member {name!r} is a device or fifo, not a file")
        try:
            checked = tarfile.data_filter(member, str(dest))
        except tarfile.FilterError as e:
            raise Refused(f"{label}: refused: {e}") from None
        if checked is None:
            continue
        members.append(checked)
    return members


def safe_extract(archive: Path, dest: Path) -> dict[str, Any]:
    """Extract into ``dest`` (which must be empty or absent) after checking every member;
    then verify the files against ``klinelab_archive.json`` when present."""
    archive = Path(archive)
    label = archive.name
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _check_members(tar, dest.resolve(), label)
            tar.extractall(dest, members=members, filter="data")
    except KlineLabError:
        raise
    except tarfile.ReadError as e:
        raise BadInput(f"{label} is not a readable tar archive: {e}") from None
    except (EOFError, OSError, tarfile.TarError) as e:
        raise BadInput(f"{label} is truncated or damaged: {e}") from None
    idx_path = dest / INDEX
    if not idx_path.is_file():
        return {"index": None, "files": sum(1 for _ in dest.rglob("*") if _.is_file())}
    try:
        index = json.loads(idx_path.read_text(encoding="utf-8"))
        listed = {f["path"]: f for f in index["files"]}
    except (ValueError, KeyError, TypeError) as e:
        raise BadInput(f"{label}: {INDEX} is damaged: {e}") from None
    for path, f in listed.items():
        p = dest / path
        if not p.is_file() or p.is_symlink():
            raise BadInput(f"{label}: {path} is listed but missing")
        if p.stat().st_size != f["size"] or sha256_file(p) != f["sha256"]:
            raise BadInput(f"{label}: {path} does not match its sha256 in {INDEX} (damaged archive)")
    extra = [p.relative_to(dest).as_posix() for p in dest.rglob("*")
             if (p.is_file() or p.is_symlink()) and p.relative_to(dest).as_posix() not in listed and p.name != INDEX]
    if extra:
        raise Refused(f"{label}: files not listed in {INDEX}: {', '.join(extra[:5])}")
    return {"index": index, "files": len(listed)}


def import_archive(ws: Workspace, archive: Path, *, origin: str | None = None, replace: bool = False,
                   span: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Safely unpack an archive made by :func:`create` and adopt its artifacts (and tick files);
    ``origin`` defaults to ``ssh:<the machine that made the archive>``."""
    from engine.sync.adopt import adopt, local_state

    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise NotFound(f"no such archive: {archive}")
    staging = ws.staging_dir("archive-import")
    try:
        _progress(span, 0.1, f"unpacking {archive.name}")
        info = safe_extract(archive, staging)
        if info["index"] is None:
            raise BadInput(f"{archive.name} has no {INDEX}: not a KlineLab archive",
                           hint="use `sync ssh archive-training` / `archive-results` to make one")
        origin = origin or f"ssh:{info['index'].get('source') or 'unknown'}"
        arts = []
        for a in info["index"].get("artifacts", []):
            d = staging / "artifacts" / a["kind"] / a["id"]
            m = Manifest.read(d)
            if m.id != a["id"] or m.kind != a["kind"]:
                raise BadInput(f"{archive.name}: artifact folder {a['kind']}/{a['id']} holds {m.kind} {m.id}")
            arts.append((m, d))
        conflicts = [m.id for m, _ in arts if local_state(ws, m) == "changed"]
        if conflicts and not replace:
            raise Conflict(f"{archive.name}: {', '.join(conflicts)} exist here with other content",
                           hint="pass --replace to replace them")
        done = []
        for i, (m, d) in enumerate(arts):
            _progress(span, 0.3 + 0.6 * i / max(len(arts), 1), f"adding {m.id}")
            files = {f.path: d / f.path for f in m.files}
            done.append(adopt(ws, m, files, origin=origin, replace=replace,
                              provenance=("archive", {"file": archive.name, "created_at": info["index"].get("created_at"),
                                                      "source": info["index"].get("source")})))
        ticks_src = staging / "raw" / "ticks"
        n_ticks = 0
        if ticks_src.is_dir():
            root = ws.ticks_dir
            for p in sorted(ticks_src.rglob("*")):
                if p.is_file():
                    target = root / p.relative_to(ticks_src)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(p, target)
                    n_ticks += 1
        _progress(span, 1.0, f"{len(done)} artifact(s) from {archive.name}")
        text = "\n".join(f"{a['status']:>9}  {a['kind']:<9} {a['id']}" for a in done) or "no artifacts"
        return {"archive": archive.name, "artifacts": done, "ticks": n_ticks, "files": info["files"],
                "_text": text + (f"\n{n_ticks} tick file(s)" if n_ticks else "")}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
