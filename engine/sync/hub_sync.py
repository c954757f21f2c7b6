"""Hub operations as plans (huggingface_hub's commit-operation pattern): build the list of
files and what happens to each (new / changed / unchanged / removed / kept / conflict /
skipped, with sizes) against the remote, show it as a dry run, then execute it as ONE
commit (``create_commit`` with add / delete operations, ``parent_commit`` = the head the plan
saw, so a repo that moved in between is refused instead of overwritten).

* upload: LFS content is pre-uploaded file by file with progress before the commit; content
  the Hub already has is not sent again, so re-running an interrupted upload resumes it;
* download: files land in a staging folder under ``<ws>/tmp``, are checked (sizes, sha256
  against the Hub and against each artifact's manifest), then each artifact is created
  atomically with origin ``huggingface:<repo>`` and indexed;
* delete (a group) and delete-all (typed confirmation) are one commit each.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.errors import BadInput, Conflict, KlineLabError, NotFound, Refused
from engine.progress import progress
from engine.sync import history
from engine.sync.adopt import safe_relpath
from engine.sync.groups import (
    GROUPS,
    KEEP,
    Group,
    LocalFile,
    Selection,
    artifact_folder,
    get_group,
    local_files,
    parse_kline_path,
    parse_v1_path,
    ticks_dir,
)
from engine.sync.hub_client import Hub, check_repo_id
from storage.manifest import MANIFEST, Manifest, sha256_file
from storage.workspace import Workspace

OPS = ("upload", "download", "delete", "delete-all")
ACTIONS = {"upload": ("new", "changed", "removed"), "download": ("new", "changed"),
           "delete": ("removed",), "delete-all": ("removed",)}


@dataclass
class Item:
    path: str
    status: str
    size: int = 0
    artifact_id: str | None = None
    note: str = ""
    local: LocalFile | None = field(default=None, repr=False)
    remote: dict | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "size": self.size, "artifact_id": self.artifact_id,
                "note": self.note}


@dataclass
class Plan:
    op: str
    repo_id: str
    repo_type: str
    group: str | None
    revision: str
    head: str | None  # the commit the plan was made against (None: the repo does not exist yet)
    endpoint: str
    items: list[Item] = field(default_factory=list)
    selection: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    manifests: dict[str, Manifest] = field(default_factory=dict, repr=False)  # download: remote manifests

    @property
    def actionable(self) -> list[Item]:
        return [i for i in self.items if i.status in ACTIONS[self.op]]

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for i in self.items:
            s = out.setdefault(i.status, {"files": 0, "bytes": 0})
            s["files"] += 1
            s["bytes"] += i.size
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "repo_id": self.repo_id, "repo_type": self.repo_type, "group": self.group,
                "revision": self.revision, "head": self.head, "endpoint": self.endpoint, "selection": self.selection,
                "summary": self.summary(), "to_do": {"files": len(self.actionable),
                                                     "bytes": sum(i.size for i in self.actionable)},
                "notes": self.notes, "items": [i.to_dict() for i in self.items]}

    def text(self, limit: int = 60) -> str:
        what = f"{self.op} {self.group or 'everything'} {'to' if self.op == 'upload' else 'of'} {self.repo_type} " \
               f"{self.repo_id}@{self.revision}" + (f" (head {self.head[:10]})" if self.head else " (new repository)")
        lines = [what]
        for status, s in self.summary().items():
            lines.append(f"  {status:>9}: {s['files']:>5} files  {human_bytes(s['bytes']):>10}")
        lines += [f"  note: {n}" for n in self.notes]
        shown = sorted(self.items, key=lambda i: (i.status not in ACTIONS[self.op], i.path))[:limit]
        lines += [f"  {i.status:>9}  {human_bytes(i.size):>10}  {i.path}" + (f"  ({i.note})" if i.note else "")
                  for i in shown]
        if len(self.items) > limit:
            lines.append(f"  ... {len(self.items) - limit} more (see --json)")
        return "\n".join(lines)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def git_blob_oid(path: Path) -> str:
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def same_content(local: Path, sha256: str | None, remote: dict) -> bool:
    """Whether a local file holds what a remote tree entry holds (sha256 for LFS files, git blob id otherwise)."""
    if remote.get("lfs_sha256"):
        return (sha256 or sha256_file(local)) == remote["lfs_sha256"] and local.stat().st_size == remote["size"]
    return local.stat().st_size == remote["size"] and git_blob_oid(local) == remote["oid"]


# -- planning ----------------------------------------------------------------------------------
def plan_upload(ws: Workspace, hub: Hub, p: Plan, g: Group, sel: Selection, staging: Path, prune: bool) -> None:
    files = local_files(ws, g, sel, staging)
    if not files:
        raise BadInput(f"nothing to upload: the workspace has no {g.name} artifacts"
                       + ("" if sel.empty else " matching the selection"))
    remote = hub.tree(p.repo_id, p.repo_type, p.revision, g.prefix) if p.head else {}
    local_paths = set()
    for f in files:
        local_paths.add(f.path)
        r = remote.get(f.path)
        status = "new" if r is None else ("unchanged" if same_content(f.source, f.sha256, r) else "changed")
        p.items.append(Item(f.path, status, f.size, f.artifact_id, f.note, local=f, remote=r))
    covered = {f.artifact_id for f in files if f.artifact_id}
    for path, r in sorted(remote.items()):
        if path in local_paths:
            continue
        # a remote file of an artifact being uploaded is stale: removed; others are kept unless --prune
        aid = artifact_folder(g, path)
        if g.name == "training" and not sel.scalers and "/scalers/" in path:
            p.items.append(Item(path, "kept", r["size"], aid[0] if aid else None, "scaler kept (--no-scalers)", remote=r))
            continue
        # a file left from an earlier upload of an artifact being uploaded now is stale: removed
        stale = aid is not None and aid[0] in covered and g.name not in ("stage1", "klines")
        p.items.append(Item(path, "removed" if (prune or stale) else "kept", r["size"], aid[0] if aid else None,
                            "" if (prune or stale) else "on the Hub only (use --prune to delete)", remote=r))


def _fetch_manifests(hub: Hub, p: Plan, g: Group, remote: dict[str, dict], staging: Path) -> dict[str, Manifest]:
    out = {}
    paths = sorted(x for x in remote if x.endswith("/" + MANIFEST) and artifact_folder(g, x)
                   and artifact_folder(g, x)[1] == MANIFEST)
    for i, path in enumerate(paths):
        progress(None, f"reading {path} ({i + 1}/{len(paths)})")
        local = hub.download(p.repo_id, p.repo_type, p.head, path, staging / "manifests")
        aid = artifact_folder(g, path)[0]
        try:
            m = Manifest.from_dict(json.loads(local.read_text(encoding="utf-8")), source=f"{p.repo_id}/{path}")
        except (BadInput, ValueError) as e:
            p.notes.append(f"{aid}: unreadable manifest, skipped ({str(e)[:120]})")
            continue
        if m.id != aid or m.kind not in g.kinds:
            p.notes.append(f"{aid}: the manifest describes {m.kind} {m.id}, not a {g.name} artifact of that folder; skipped")
            continue
        out[aid] = m
    return out


def _local_manifest(ws: Workspace, aid: str) -> Manifest | None:
    d = ws.find_artifact_dir(aid)
    return Manifest.read(d) if d is not None else None


def plan_download(ws: Workspace, hub: Hub, p: Plan, g: Group, sel: Selection, staging: Path, replace: bool) -> None:
    if p.head is None:
        raise NotFound(f"repository {p.repo_id} ({p.repo_type}) not found on {hub.url}",
                       hint="check the repo id and type; set HF_TOKEN for private repos")
    remote = hub.tree(p.repo_id, p.repo_type, p.revision, g.prefix)
    for path in list(remote):
        try:
            safe_relpath(path)
        except Refused:
            p.notes.append(f"{path!r}: unsafe path on the Hub, ignored")
            del remote[path]

    def add(path: str, status: str, aid: str | None = None, note: str = "") -> None:
        p.items.append(Item(path, status, remote[path]["size"], aid, note, remote=remote[path]))

    def decide(same: bool, exists: bool) -> tuple[str, str]:
        if same:
            return "unchanged", ""
        if not exists:
            return "new", ""
        return ("changed", "replaces the local copy") if replace else ("conflict", "differs from the local copy: --replace")

    if g.name == "ticks":
        root = ticks_dir(ws, sel)
        for path in sorted(remote):
            target = root / path[len("ticks/"):]
            exists = target.is_file()
            add(path, *decide(exists and same_content(target, None, remote[path]), exists))
        return
    if g.name == "klines":
        from engine.data.store import series_id
        from engine.sync.klines import binance_file

        for path in sorted(remote):
            parsed = parse_kline_path(path)
            if parsed is None:
                add(path, "skipped", note="not klines/{SYMBOL}/{BASE}_{tf}.parquet")
                continue
            sym, tf = parsed
            if not sel.wants(None if not sel.ids else series_id(sym, tf), [sym], tf):
                continue
            stored = ws.artifact_dir("ohlcv", series_id(sym, tf)) / "ohlcv.parquet"
            if stored.is_file():
                conv = binance_file(stored, tf, staging / "compare" / path)
                same = same_content(conv, None, remote[path])
                add(path, "unchanged" if same else "changed", series_id(sym, tf),
                    "" if same else "merged into the stored series (conflicting bars refuse the import)")
            else:
                add(path, "new", series_id(sym, tf))
        return
    if g.name == "stage1":
        folders: dict[tuple[str, str], list[str]] = {}
        for path in sorted(remote):
            v1 = parse_v1_path(path)
            if v1 is None:
                add(path, "skipped", note="not v1_model/{SYMBOL}/{tf}/...")
            elif sel.symbols and v1[0] not in sel.symbols or sel.timeframes and v1[1] not in sel.timeframes:
                continue
            else:
                folders.setdefault(v1[:2], []).append(path)
        for (sym, tf), paths in sorted(folders.items()):
            aid = stage1_id(sym, tf, {x: remote[x] for x in paths})
            same_as = _local_stage1_match(ws, sym, tf, {x: remote[x] for x in paths})
            if sel.ids and aid not in sel.ids:
                continue
            for x in paths:
                add(x, "unchanged" if same_as else "new", same_as or aid, f"same as {same_as}" if same_as else "")
        return
    # artifact groups: <prefix><id>/manifest.json + files (+ training extras)
    manifests = _fetch_manifests(hub, p, g, remote, staging)
    by_aid: dict[str, list[str]] = {}
    for path in sorted(remote):
        af = artifact_folder(g, path)
        if af is None or af[0] not in manifests:
            has_manifest = af is not None and f"{g.prefix}{af[0]}/{MANIFEST}" in remote
            add(path, "skipped", af[0] if af else None,
                "its manifest.json is unusable (see notes)" if has_manifest else "not in a KlineLab artifact folder")
            continue
        by_aid.setdefault(af[0], []).append(path)
    for aid, paths in by_aid.items():
        m = manifests[aid]
        if not sel.wants(m.id, m.symbols, m.timeframe):
            continue
        prefix = f"{g.prefix}{aid}/"
        inner = {x[len(prefix):]: remote[x] for x in paths}
        missing = [f.path for f in m.files if f.path not in inner or inner[f.path]["size"] != f.size
                   or (inner[f.path]["lfs_sha256"] and inner[f.path]["lfs_sha256"] != f.sha256)]
        if missing:
            for x in paths:
                add(x, "skipped", aid, f"incomplete on the Hub: {len(missing)} file(s) missing or different")
            continue
        p.manifests[aid] = m
        local = _local_manifest(ws, aid)
        exists = local is not None
        same = exists and local.kind == m.kind and {(f.path, f.sha256) for f in m.files} <= {(f.path, f.sha256) for f in local.files}
        if same:
            d = ws.artifact_dir(local.kind, aid)
            extras = [x for x in inner if x != MANIFEST and x not in {f.path for f in m.files}]
            same = all((d / x).is_file() and same_content(d / x, None, inner[x]) for x in extras)
        status, note = decide(bool(same), exists)
        if exists and local.kind != m.kind:
            status, note = "conflict", f"a local {local.kind} artifact has this id"
        for x in paths:
            add(x, status, aid, note)


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


def plan_delete(hub: Hub, p: Plan, g: Group | None, sel: Selection) -> None:
    if p.head is None:
        raise NotFound(f"repository {p.repo_id} ({p.repo_type}) not found on {hub.url}")
    remote = hub.tree(p.repo_id, p.repo_type, p.revision, g.prefix if g else "")
    for path, r in sorted(remote.items()):
        if g is None:
            p.items.append(Item(path, "kept" if path in KEEP else "removed", r["size"], note="kept: repository configuration" if path in KEEP else ""))
            continue
        keep = ""
        if g.name == "training" and not sel.scalers and "/scalers/" in path:
            keep = "scaler kept (--no-scalers)"
        elif not sel.empty:
            keep = "" if _selected(g, path, sel) else "not selected"
        p.items.append(Item(path, "kept" if keep else "removed", r["size"], (artifact_folder(g, path) or (None,))[0], keep))
    if g is not None and not any(i.status == "removed" for i in p.items):
        p.notes.append(f"the repository holds no {g.name} files" + ("" if sel.empty else " matching the selection"))


def _selected(g: Group, path: str, sel: Selection) -> bool:
    if g.name == "klines":
        kp = parse_kline_path(path)
        return kp is not None and sel.wants(None if not sel.ids else f"ohlcv-{kp[0]}-{kp[1]}", [kp[0]], kp[1])
    if g.name == "stage1":
        v1 = parse_v1_path(path)
        return v1 is not None and (not sel.symbols or v1[0] in sel.symbols) and (not sel.timeframes or v1[1] in sel.timeframes)
    af = artifact_folder(g, path)
    # artifact folders are selected by id (symbols / timeframes would need every remote manifest)
    return af is not None and (not sel.ids or af[0] in sel.ids)


# -- execution ---------------------------------------------------------------------------------
def _commit(hub: Hub, p: Plan, operations: list, message: str) -> str:
    from huggingface_hub import CommitOperationAdd

    adds = [op for op in operations if isinstance(op, CommitOperationAdd)]
    total = sum(op.upload_info.size for op in adds) or 1
    done = 0
    # pre-upload the LFS content in small batches: progress between them; what the Hub already has is skipped
    batch: list = []
    for i, op in enumerate(adds):
        batch.append(op)
        size = sum(o.upload_info.size for o in batch)
        if size >= 64 * 1024 * 1024 or len(batch) >= 16 or i == len(adds) - 1:
            progress(0.05 + 0.85 * done / total, f"uploading {op.path_in_repo} ({human_bytes(done)} of {human_bytes(total)})")
            hub.call(f"{p.repo_id}: uploading", hub.api.preupload_lfs_files, p.repo_id, additions=batch,
                     repo_type=p.repo_type, revision=p.revision, free_memory=False)
            done += size
            batch = []
    progress(0.92, f"committing {len(operations)} operation(s) in one commit")
    try:
        info = hub.call(f"{p.repo_id}: commit", hub.api.create_commit, p.repo_id, operations=operations,
                        commit_message=message, repo_type=p.repo_type, revision=p.revision, parent_commit=p.head)
        return info.oid
    except Conflict:
        landed = _landed(hub, p, message)
        if landed:  # an earlier attempt went through and only its answer was lost
            return landed
        raise


def _landed(hub: Hub, p: Plan, message: str) -> str | None:
    try:
        commits = hub.call(f"{p.repo_id}: commits", hub.api.list_repo_commits, p.repo_id, repo_type=p.repo_type,
                           revision=p.revision)
    except KlineLabError:
        return None
    if len(commits) >= 2 and commits[0].title == message and commits[1].commit_id == p.head:
        return commits[0].commit_id
    return None


def execute_upload(ws: Workspace, hub: Hub, p: Plan, message: str, *, private: bool) -> dict:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    todo = p.actionable
    if not todo:
        return {"commit": None, "files": 0, "bytes": 0}
    hub.need_token(f"uploading to {p.repo_id}")
    if p.head is None:
        progress(0.02, f"creating {p.repo_type} repository {p.repo_id}")
        hub.create_repo(p.repo_id, p.repo_type, private=private)
        p.head = hub.head(p.repo_id, p.repo_type, p.revision)
    ops: list = []
    for i in todo:
        if i.status == "removed":
            ops.append(CommitOperationDelete(i.path, is_folder=False))
        else:
            op = CommitOperationAdd(i.path, str(i.local.source))
            op.upload_info.sha256 = bytes.fromhex(i.local.sha256)  # known from the plan; the Hub re-checks it
            ops.append(op)
    commit = _commit(hub, p, ops, message)
    return {"commit": commit, "files": len(todo), "bytes": sum(i.size for i in todo if i.status != "removed")}


def execute_delete(hub: Hub, p: Plan, g: Group | None, sel: Selection, message: str) -> dict:
    from huggingface_hub import CommitOperationDelete

    todo = p.actionable
    if not todo:
        return {"commit": None, "files": 0, "bytes": 0}
    hub.need_token(f"deleting from {p.repo_id}")
    everything = len(todo) == len(p.items)
    if g is not None and everything:
        ops = [CommitOperationDelete(g.prefix, is_folder=True)]
    elif g is None:
        tops = sorted({i.path.split("/", 1)[0] + ("/" if "/" in i.path else "") for i in todo})
        kept_tops = {i.path.split("/", 1)[0] for i in p.items if i.status == "kept"}
        ops = []
        for t in tops:
            if t.endswith("/") and t[:-1] not in kept_tops:
                ops.append(CommitOperationDelete(t, is_folder=True))
            elif not t.endswith("/"):
                ops.append(CommitOperationDelete(t, is_folder=False))
        ops += [CommitOperationDelete(i.path, is_folder=False) for i in todo
                if "/" in i.path and i.path.split("/", 1)[0] in kept_tops]
    else:
        ops = [CommitOperationDelete(i.path, is_folder=False) for i in todo]
    progress(0.5, f"deleting {len(todo)} file(s) in one commit")
    commit = _commit(hub, p, ops, message)
    return {"commit": commit, "files": len(todo), "bytes": sum(i.size for i in todo)}


def _verify_download(path: Path, item: Item, expected_sha: str | None) -> None:
    from config.errors import RemoteError

    r = item.remote or {}
    ok = path.stat().st_size == r.get("size", path.stat().st_size)
    if ok and expected_sha:
        ok = sha256_file(path) == expected_sha
    elif ok and r.get("lfs_sha256"):
        ok = sha256_file(path) == r["lfs_sha256"]
    elif ok and r.get("oid"):
        ok = git_blob_oid(path) == r["oid"]
    if not ok:
        raise RemoteError(f"{item.path}: the downloaded file does not match its checksum", hint="run the download again")


def execute_download(ws: Workspace, hub: Hub, p: Plan, g: Group, sel: Selection, staging: Path, replace: bool) -> dict:
    todo = p.actionable
    if not todo:
        return {"commit": p.head, "files": 0, "bytes": 0, "artifacts": []}
    total = sum(i.size for i in todo) or 1
    done = 0
    got: dict[str, Path] = {}
    for i in todo:
        progress(0.05 + 0.8 * done / total, f"downloading {i.path} ({human_bytes(done)} of {human_bytes(total)})")
        local = hub.download(p.repo_id, p.repo_type, p.head, i.path, staging / "files")
        expected = None
        if i.artifact_id in p.manifests and g.name not in ("stage1", "klines"):
            inner = i.path[len(f"{g.prefix}{i.artifact_id}/"):]
            expected = next((f.sha256 for f in p.manifests[i.artifact_id].files if f.path == inner), None)
        _verify_download(local, i, expected)
        got[i.path] = local
        done += i.size
    progress(0.9, "moving the downloaded files into the workspace")
    origin = f"huggingface:{p.repo_id}"
    created: list[dict] = []
    if g.name == "ticks":
        root = ticks_dir(ws, sel)
        for path, src in got.items():
            target = root / path[len("ticks/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.partial")
            shutil.move(str(src), tmp)
            tmp.replace(target)  # atomic per file
        created = [{"path": str(root / p_[len('ticks/'):])} for p_ in got]
    elif g.name == "klines":
        from engine.data.importer import store_all
        from engine.data.sources.files import FileSource

        series = []
        for path, src in got.items():
            sym, tf = parse_kline_path(path)
            for s in FileSource(src, symbol=sym, timeframe=tf).read():
                s.source.update({"type": "huggingface", "repo_id": p.repo_id, "filename": path, "revision": p.head,
                                 "path": path})
                series.append(s)
        saved, _ = store_all(ws, series, replace=replace)
        created = [{"id": r.id, "kind": "ohlcv", "status": r.status} for r in saved]
    else:  # several artifacts: all checked and staged first, then published in one step (all or nothing)
        from storage.artifacts import discard, publish

        staged: list = []
        try:
            if g.name == "stage1":
                folders: dict[tuple[str, str], list[str]] = {}
                for path in got:
                    folders.setdefault(parse_v1_path(path)[:2], []).append(path)
                for (sym, tf), paths in sorted(folders.items()):
                    aid = next(i.artifact_id for i in todo if i.path == paths[0])
                    created.append(_materialize_stage1(ws, p, aid, sym, tf, {x: got[x] for x in paths}, origin, staged))
            else:
                for aid in dict.fromkeys(i.artifact_id for i in todo):
                    prefix = f"{g.prefix}{aid}/"
                    files = {x[len(prefix):]: src for x, src in got.items() if x.startswith(prefix)}
                    created.append(_materialize(ws, p, p.manifests[aid], files, origin, replace, staged))
            publish(ws, staged)
            staged = []
        finally:
            discard(staged)
    return {"commit": p.head, "files": len(todo), "bytes": sum(i.size for i in todo), "artifacts": created}


def _materialize(ws: Workspace, p: Plan, remote: Manifest, files: dict[str, Path], origin: str, replace: bool,
                 staged: list | None = None) -> dict:
    from engine.sync.adopt import adopt, check_files

    extras = sorted(x for x in files if x != MANIFEST and x not in {f.path for f in remote.files})
    m = Manifest.from_dict(remote.to_dict())
    check_files(m, files, p.repo_id)
    return adopt(ws, m, files, origin=origin, replace=replace, staged=staged, provenance=(
        "hub", {"repo_id": p.repo_id, "repo_type": p.repo_type, "commit": p.head, "extras": extras}))


def _materialize_stage1(ws: Workspace, p: Plan, aid: str, sym: str, tf: str, files: dict[str, Path], origin: str,
                        staged: list | None = None) -> dict:
    from storage.artifacts import create_artifact

    metrics: dict[str, Any] = {}
    params_json = files.get(f"v1_model/{sym}/{tf}/params.json")
    if params_json is not None:
        try:
            pj = json.loads(params_json.read_text(encoding="utf-8"))
            metrics = {k: v for k, v in (pj.get("metrics") or {}).items() if isinstance(v, (int, float))} \
                if isinstance(pj, dict) and isinstance(pj.get("metrics"), dict) else {}
        except (OSError, ValueError):
            metrics = {}
    with create_artifact(ws, "stage1", artifact_id=aid, name=f"Stage 1 {sym} {tf} from {p.repo_id}", symbols=[sym],
                         timeframe=tf, params={"source": "huggingface", "path": f"v1_model/{sym}/{tf}"},
                         origin=origin, staged=staged) as d:
        for path, src in files.items():
            shutil.move(str(src), d.path(path))
        d.manifest.metrics = metrics
        d.manifest.extra["hub"] = {"repo_id": p.repo_id, "repo_type": p.repo_type, "commit": p.head}
    return {"id": aid, "kind": "stage1", "files": len(files)}


# -- the one entry point (CLI, jobs) -----------------------------------------------------------
def run(ws: Workspace, op: str, repo_id: str, *, group: str | None = None, repo_type: str = "dataset",
        revision: str = "main", selection: Selection | None = None, dry_run: bool = False, prune: bool = False,
        replace: bool = False, confirm: str | None = None, message: str | None = None, private: bool = False,
        hub: Hub | None = None) -> dict[str, Any]:
    """Plan ``op`` and, unless ``dry_run``, execute it.  Returns the plan and the outcome."""
    if op not in OPS:
        raise BadInput(f"unknown operation {op!r}", hint=f"use one of {', '.join(OPS)}")
    check_repo_id(repo_id)
    if repo_type not in ("dataset", "model"):
        raise BadInput(f"invalid repo type {repo_type!r}", hint="use dataset (default) or model")
    if op != "delete-all":
        if not group:
            raise BadInput(f"{op} needs a group", hint=f"--group one of {', '.join(GROUPS)}")
        g: Group | None = get_group(group)
    else:
        g = None
    sel = selection or Selection()
    if op == "delete-all" and not dry_run and confirm != repo_id:
        raise Refused(f"delete-all removes every file of {repo_id}; type the repository id back to confirm",
                      hint=f"add --confirm {repo_id} (look at the list first with --dry-run)")
    hub = hub or Hub.connect()
    if op in ("upload", "delete", "delete-all") and not dry_run:
        hub.need_token(f"{op} on {repo_id}")
    started = time.monotonic()
    progress(0.0, f"planning {op} of {g.name if g else 'everything'} on {repo_id}")
    ws.ensure()
    staging = ws.staging_dir("hub-sync")
    try:
        head = hub.head(repo_id, repo_type, revision)
        p = Plan(op, repo_id, repo_type, g.name if g else None, revision, head, hub.url, selection=sel.to_dict())
        if op == "upload":
            plan_upload(ws, hub, p, g, sel, staging, prune)
        elif op == "download":
            plan_download(ws, hub, p, g, sel, staging, replace)
        else:
            plan_delete(hub, p, g, sel)
        out: dict[str, Any] = {"plan": p.to_dict(), "dry_run": dry_run}
        if dry_run:
            out["_text"] = p.text() + "\n(dry run: nothing was changed)"
            return out
        msg = message or (g.upload_message if op == "upload" else g.delete_message if g else "Delete all dataset data") \
            if op != "download" else ""
        try:
            if op == "upload":
                res = execute_upload(ws, hub, p, msg, private=private)
            elif op == "download":
                res = execute_download(ws, hub, p, g, sel, staging, replace)
            else:
                res = execute_delete(hub, p, g, sel, msg)
        except KlineLabError as e:
            history.record(ws, backend="hub", op=op, target=f"{repo_type}:{repo_id}", group=p.group, status="failed",
                           error=str(e), duration_s=round(time.monotonic() - started, 2),
                           files=len(p.actionable))
            raise
        progress(1.0, "done")
        res_status = "succeeded" if res["files"] else "nothing to do"
        history.record(ws, backend="hub", op=op, target=f"{repo_type}:{repo_id}", group=p.group, status=res_status,
                       files=res["files"], bytes=res["bytes"], commit=res.get("commit"),
                       artifacts=[a.get("id") for a in res.get("artifacts", []) if a.get("id")],
                       summary=p.summary(), duration_s=round(time.monotonic() - started, 2))
        out.update(res)
        out["status"] = res_status
        tail = (f"commit {res['commit'][:10]}" if res.get("commit") and op != "download" else
                f"{len(res.get('artifacts', []))} artifact(s) indexed" if op == "download" else "")
        out["_text"] = p.text() + f"\n{res_status}: {res['files']} file(s), {human_bytes(res['bytes'])}" + \
            (f", {tail}" if tail else "")
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def overview(hub: Hub, repo_id: str, repo_type: str = "dataset", revision: str = "main") -> dict[str, Any]:
    """Connection test + what the repository holds, per group."""
    check_repo_id(repo_id)
    out: dict[str, Any] = {"endpoint": hub.url, "repo_id": repo_id, "repo_type": repo_type, "token": bool(hub.token)}
    if hub.token:
        who = hub.whoami()
        out["user"] = who.get("name")
        out["token_role"] = ((who.get("auth") or {}).get("accessToken") or {}).get("role")
    head = hub.head(repo_id, repo_type, revision)
    out["exists"] = head is not None
    out["head"] = head
    groups: dict[str, dict[str, int]] = {}
    if head:
        for path, r in hub.tree(repo_id, repo_type, revision).items():
            name = "(repo config)" if path in KEEP else next((g.name for g in GROUPS.values() if path.startswith(g.prefix)), "other")
            s = groups.setdefault(name, {"files": 0, "bytes": 0})
            s["files"] += 1
            s["bytes"] += r["size"]
    out["groups"] = groups
    lines = [f"{hub.url}: " + (f"token of {out.get('user')} ({out.get('token_role')})" if hub.token else "no token"),
             f"{repo_type} {repo_id}: " + (f"head {head[:10]}" if head else "does not exist")]
    lines += [f"  {k:>9}: {v['files']:>5} files  {human_bytes(v['bytes']):>10}" for k, v in sorted(groups.items())]
    out["_text"] = "\n".join(lines)
    return out
