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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from config import settings
from config.errors import BadInput, Conflict, KlineLabError, NotFound, Refused
from engine.progress import progress
from engine.sync.group_base import verified_dir
from storage.manifest import MANIFEST, Manifest, sha256_file, utc_now_iso
from storage.schema import FileEntryModel
from storage.workspace import Workspace, check_id, check_kind

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
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
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
            ti.size, ti.mtime, ti.mode = len(raw), int(datetime.now(UTC).timestamp()), 0o644
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
# Caps for an archive from outside (defaults generous for real use; environment variables override):
#  * total uncompressed size 64 GiB (KLINELAB_ARCHIVE_MAX_BYTES): a year of 1m candles for hundreds of symbols
#    plus models is a few GiB; tick dumps are the big part;
#  * one member 16 GiB (KLINELAB_ARCHIVE_MAX_MEMBER_BYTES);
#  * 200,000 members (KLINELAB_ARCHIVE_MAX_MEMBERS): TensorBoard logs and tick files make the most;
#  * expansion 200x the archive's own size once the total passes 256 MiB (KLINELAB_ARCHIVE_MAX_RATIO): our
#    archives hold Parquet (zstd), checkpoints and CSV ticks, which gzip shrinks 1-10x, so a larger factor
#    is a compression bomb (the 2 MB -> 2 GB archive of issue 17 is 1000x);
#  * and never more than the free space of the workspace's disk.
# They are checked on the tar headers while streaming through the archive, BEFORE anything is written
# (reading stops at the first header over a cap), and one header read may not exceed 64 MiB (a PAX header
# claiming gigabytes is refused instead of read into memory).
GiB = 1 << 30
MAX_SINGLE_READ = 64 << 20


def caps() -> dict[str, float]:
    """The caps (``config.settings``: each an environment variable with its default)."""
    return {"total": settings.ARCHIVE_MAX_BYTES.get(), "member": settings.ARCHIVE_MAX_MEMBER_BYTES.get(),
            "members": settings.ARCHIVE_MAX_MEMBERS.get(), "ratio": settings.ARCHIVE_MAX_RATIO.get(),
            "ratio_floor": 256 << 20}


class _BoundedReads(io.RawIOBase):
    """The decompressed stream as tarfile sees it: a single read larger than MAX_SINGLE_READ is refused
    while headers are scanned (a PAX / GNU long-name header is read in one call)."""

    def __init__(self, f, label: str):
        self.f, self.label, self.scanning = f, label, True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n=-1):
        if self.scanning and (n is None or n < 0 or n > MAX_SINGLE_READ):
            raise Refused(f"{self.label}: refused: a tar header asks to read more than {MAX_SINGLE_READ >> 20} MiB at once")
        return self.f.read(n)

    def seek(self, offset, whence=0):
        return self.f.seek(offset, whence)

    def tell(self):
        return self.f.tell()


def _open_tar(archive: Path, label: str):
    import bz2
    import gzip
    import lzma

    raw = open(archive, "rb")  # noqa: SIM115 - closed by the caller (safe_extract)
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        f = gzip.GzipFile(fileobj=raw, mode="rb")
    elif magic[:3] == b"BZh":
        f = bz2.BZ2File(raw)
    elif magic == b"\xfd7zXZ\x00":
        f = lzma.LZMAFile(raw)  # noqa: SIM115 - closed with raw
    else:
        f = raw
    bounded = _BoundedReads(f, label)
    try:
        tar = tarfile.open(fileobj=bounded, mode="r:")  # noqa: SIM115 - returned to a with block
    except BaseException:
        raw.close()
        raise
    return tar, bounded, raw


def _check_members(tar: tarfile.TarFile, dest: Path, label: str, *, archive_bytes: int = 0) -> list[tarfile.TarInfo]:
    """Every member through the 'data' filter and the caps, streaming over the headers, before anything is
    written (all or nothing)."""
    c = caps()
    free = shutil.disk_usage(dest).free
    members, total, count = [], 0, 0
    for member in tar:
        count += 1
        name = member.name
        if count > c["members"]:
            raise Refused(f"{label}: refused: more than {int(c['members'])} members",
                          hint="raise KLINELAB_ARCHIVE_MAX_MEMBERS if the archive is genuine")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise Refused(f"{label}: refused: member {name[:200]!r} has an absolute path")
        if ".." in name.replace("\\", "/").split("/"):
            raise Refused(f"{label}: refused: member {name[:200]!r} climbs out of the target folder ('..')")
        if member.isdev() or member.isfifo():
            raise Refused(f"{label}: refused: member {name[:200]!r} is a device or fifo, not a file")
        if member.sparse is not None or member.type in (tarfile.GNUTYPE_SPARSE,):
            raise Refused(f"{label}: refused: member {name[:200]!r} is a sparse file")
        if member.size > c["member"]:
            raise Refused(f"{label}: refused: member {name[:200]!r} is {member.size / GiB:.1f} GiB "
                          f"(cap {c['member'] / GiB:g} GiB)", hint="KLINELAB_ARCHIVE_MAX_MEMBER_BYTES raises it")
        total += member.size
        if total > c["total"]:
            raise Refused(f"{label}: refused: it unpacks to more than {c['total'] / GiB:g} GiB",
                          hint="KLINELAB_ARCHIVE_MAX_BYTES raises the cap")
        if archive_bytes and total > c["ratio_floor"] and total > c["ratio"] * archive_bytes:
            raise Refused(f"{label}: refused: {archive_bytes / 1e6:.1f} MB unpacking to more than "
                          f"{total / 1e6:.0f} MB (over {c['ratio']:g}x: a compression bomb?)",
                          hint="KLINELAB_ARCHIVE_MAX_RATIO raises the factor if the archive is genuine")
        if total > free:
            raise Refused(f"{label}: refused: it unpacks to more than the {free / GiB:.1f} GiB free in the workspace")
        try:
            checked = tarfile.data_filter(member, str(dest))
        except tarfile.FilterError as e:
            raise Refused(f"{label}: refused: {str(e)[:300]}") from None
        if checked is None:
            continue
        members.append(checked)
    return members


_IndexFile = FileEntryModel  # the same entry as a manifest's file (path inside, size, sha256)


class _IndexArtifact(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    id: str
    kind: str

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        check_id(v)
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        check_kind(v)
        return v


class _Index(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    format: int
    kind: str | None = None
    created_at: str | None = None
    source: str | None = None
    artifacts: list[_IndexArtifact] = []
    files: list[_IndexFile]


def check_index(raw: Any, label: str) -> dict[str, Any]:
    """``klinelab_archive.json`` against its schema (pydantic): one BadInput line naming the first bad field."""
    try:
        idx = _Index.model_validate(raw)
    except ValidationError as e:
        errs = e.errors(include_input=False, include_url=False)
        loc = ".".join(str(x) for x in errs[0]["loc"]) or "(top level)"
        msg = errs[0]["msg"]
        if errs[0].get("ctx", {}).get("error") is not None:
            msg = str(errs[0]["ctx"]["error"])
        raise BadInput(f"{label}: {INDEX} is malformed: field {loc}: {msg[:300]}") from None
    if idx.format != FORMAT:
        raise BadInput(f"{label}: {INDEX} has format {idx.format}, this version reads {FORMAT}")
    return idx.model_dump()


def safe_extract(archive: Path, dest: Path) -> dict[str, Any]:
    """Extract into ``dest`` (which must be empty or absent) after checking every member and the caps;
    then verify the files against ``klinelab_archive.json`` when present."""
    archive = Path(archive)
    label = archive.name
    dest.mkdir(parents=True, exist_ok=True)
    raw = None
    try:
        tar, bounded, raw = _open_tar(archive, label)
        with tar:
            members = _check_members(tar, dest.resolve(), label, archive_bytes=archive.stat().st_size)
            bounded.scanning = False
            tar.extractall(dest, members=members, filter="data")
    except KlineLabError:
        raise
    except tarfile.ReadError as e:
        raise BadInput(f"{label} is not a readable tar archive: {str(e)[:200]}") from None
    except (EOFError, OSError, tarfile.TarError, ValueError) as e:
        raise BadInput(f"{label} is truncated or damaged: {str(e)[:200]}") from None
    finally:
        if raw is not None:
            raw.close()
    idx_path = dest / INDEX
    if not idx_path.is_file():
        return {"index": None, "files": sum(1 for _ in dest.rglob("*") if _.is_file())}
    if idx_path.stat().st_size > 256 << 20:
        raise Refused(f"{label}: {INDEX} is over 256 MiB")
    try:
        raw_index = json.loads(idx_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise BadInput(f"{label}: {INDEX} is damaged: {str(e)[:200]}") from None
    index = check_index(raw_index, label)
    listed = {f["path"]: f for f in index["files"]}
    for path, f in listed.items():
        p = dest / path
        if not p.is_file() or p.is_symlink():
            raise BadInput(f"{label}: {path} is listed but missing")
        if p.stat().st_size != f["size"] or sha256_file(p) != f["sha256"]:
            raise BadInput(f"{label}: {path} does not match its sha256 in {INDEX} (damaged archive)")
    extra = [p.relative_to(dest).as_posix() for p in dest.rglob("*")
             if (p.is_file() or p.is_symlink()) and p.relative_to(dest).as_posix() not in listed and p.name != INDEX]
    if extra:
        raise Refused(f"{label}: files not listed in {INDEX}: {', '.join(x[:200] for x in extra[:5])}")
    return {"index": index, "files": len(listed)}


def import_archive(ws: Workspace, archive: Path, *, origin: str | None = None, replace: bool = False,
                   span: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Safely unpack an archive made by :func:`create` and adopt its artifacts (and tick files);
    ``origin`` defaults to ``ssh:<the machine that made the archive>``.

    All or nothing: every artifact's manifest is checked (schema, id / kind = its folder and the
    index, files against their sizes and sha256) and every clash with the workspace found before
    the first write; then all artifacts and tick files are published in one step
    (storage.artifacts.publish).  Existing artifacts and tick files with other content are replaced
    only with ``replace``; identical ones are left as they are."""
    from engine.sync.adopt import adopt, check_files, local_state
    from storage.artifacts import discard, publish
    from storage.publish import Move

    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise NotFound(f"no such archive: {archive}")
    staging = ws.staging_dir("archive-import")
    staged: list = []
    try:
        _progress(span, 0.1, f"unpacking {archive.name}")
        info = safe_extract(archive, staging)
        if info["index"] is None:
            raise BadInput(f"{archive.name} has no {INDEX}: not a KlineLab archive",
                           hint="use `sync ssh archive-training` / `archive-results` to make one")
        origin = origin or f"ssh:{info['index'].get('source') or 'unknown'}"
        # 1. check everything
        arts = []
        for a in info["index"]["artifacts"]:
            d = staging / "artifacts" / a["kind"] / a["id"]
            if not (d / MANIFEST).is_file():
                raise BadInput(f"{archive.name}: artifact {a['kind']}/{a['id']} has no {MANIFEST}")
            try:
                m = Manifest.read(d)
            except BadInput as e:
                raise BadInput(f"{archive.name}: {str(e).replace(str(staging) + '/', '')}") from None
            if m.id != a["id"] or m.kind != a["kind"]:
                raise BadInput(f"{archive.name}: artifact folder {a['kind']}/{a['id']} holds {m.kind} {m.id}")
            check_files(m, {f.path: d / f.path for f in m.files}, archive.name)
            arts.append((m, d))
        states = {m.id: local_state(ws, m) for m, _ in arts}
        conflicts = [i for i, st in states.items() if st == "changed"]
        ticks_src = staging / "raw" / "ticks"
        tick_moves = []
        if ticks_src.is_dir():
            for p in sorted(ticks_src.rglob("*")):
                if not p.is_file():
                    continue
                rel = p.relative_to(ticks_src).as_posix()
                target = ws.ticks_dir / rel
                if target.is_file() and target.stat().st_size == p.stat().st_size and sha256_file(target) == sha256_file(p):
                    continue  # the same file is there already
                if target.exists() and not replace:
                    conflicts.append(f"raw/ticks/{rel}")
                tick_moves.append(Move(p, target, replace, f"raw/ticks/{rel}"))
        if conflicts and not replace:
            raise Conflict(f"{archive.name}: {', '.join(conflicts[:5])}{' ...' if len(conflicts) > 5 else ''} "
                           "exist here with other content", hint="pass --replace to replace them")
        # 2. stage every artifact, 3. publish them and the tick files in one step
        done = []
        for i, (m, d) in enumerate(arts):
            _progress(span, 0.3 + 0.5 * i / max(len(arts), 1), f"checking {m.id}")
            files = {f.path: d / f.path for f in m.files}
            done.append(adopt(ws, m, files, origin=origin, replace=replace, staged=staged,
                              provenance=("archive", {"file": archive.name, "created_at": info["index"].get("created_at"),
                                                      "source": info["index"].get("source")})))
        _progress(span, 0.9, f"publishing {len(staged)} artifact(s), {len(tick_moves)} tick file(s)")
        publish(ws, staged, extra=tick_moves)
        staged = []
        n_ticks = len(tick_moves)
        _progress(span, 1.0, f"{len(done)} artifact(s) from {archive.name}")
        text = "\n".join(f"{a['status']:>9}  {a['kind']:<9} {a['id']}" for a in done) or "no artifacts"
        return {"archive": archive.name, "artifacts": done, "ticks": n_ticks, "files": info["files"],
                "_text": text + (f"\n{n_ticks} tick file(s)" if n_ticks else "")}
    finally:
        discard(staged)
        shutil.rmtree(staging, ignore_errors=True)
