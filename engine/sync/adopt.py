"""Bringing an artifact that was made elsewhere (downloaded from the Hub, unpacked from an
SSH archive) into the workspace: checked against its own manifest, created atomically
through ``create_artifact`` with the same id, lineage, params and metrics, its origin set to
where it came from, and indexed."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from config.errors import BadInput, Conflict, Refused
from storage.manifest import MANIFEST, Manifest, sha256_file
from storage.workspace import Workspace


def safe_relpath(path: str, where: str = "") -> str:
    """A plain relative path (no absolute path, no '..', no empty part): remote names and manifest
    entries are data, and must never place a file outside the folder they belong to."""
    parts = str(path).replace("\\", "/").split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        raise Refused(f"{where + ': ' if where else ''}unsafe path {path!r} refused")
    return "/".join(parts)


def local_state(ws: Workspace, m: Manifest) -> str:
    """'new', 'unchanged' (same files), or 'changed' for an incoming manifest."""
    d = ws.find_artifact_dir(m.id)
    if d is None:
        return "new"
    local = Manifest.read(d)
    if local.kind != m.kind:
        return "changed"
    return "unchanged" if {(f.path, f.sha256) for f in m.files} <= {(f.path, f.sha256) for f in local.files} else "changed"


def check_files(m: Manifest, files: dict[str, Path], where: str) -> None:
    for f in m.files:
        p = files.get(f.path)
        if p is None or not p.is_file() or p.is_symlink():
            raise BadInput(f"{where}: artifact {m.id} lacks {f.path}")
        if p.stat().st_size != f.size or sha256_file(p) != f.sha256:
            raise BadInput(f"{where}: {m.id}/{f.path} does not match its manifest (damaged in transit?)")


def adopt(ws: Workspace, m: Manifest, files: dict[str, Path], *, origin: str, replace: bool = False,
          provenance: tuple[str, dict[str, Any]] | None = None, staged: list | None = None) -> dict[str, Any]:
    """Create artifact ``m.id`` from ``files`` (path in the artifact -> file, moved in).  With ``staged``
    (a list) it is only staged there; the caller publishes all of them in one step
    (storage.artifacts.publish), which refuses to overwrite an artifact that appeared meanwhile."""
    from storage.artifacts import create_artifact

    for rel in list(files) + [f.path for f in m.files]:
        safe_relpath(rel, f"artifact {m.id}")
    state = local_state(ws, m)
    if state == "unchanged":
        return {"id": m.id, "kind": m.kind, "status": "unchanged"}
    if state == "changed" and not replace:
        raise Conflict(f"artifact {m.id} exists here with other content", hint="pass --replace to replace it")
    with create_artifact(ws, m.kind, artifact_id=m.id, name=m.name, symbols=m.symbols, timeframe=m.timeframe,
                         params=m.params, parents=m.parents, origin=origin, replace=state == "changed",
                         staged=staged) as d:
        for rel, src in files.items():
            if rel != MANIFEST:
                shutil.move(str(src), d.path(rel))
        d.manifest.created_at = m.created_at
        d.manifest.code_version = m.code_version
        d.manifest.metrics = m.metrics
        d.manifest.start, d.manifest.end = m.start, m.end
        d.manifest.extra = dict(m.extra)
        d.manifest.tags, d.manifest.note, d.manifest.edited_at = list(m.tags), m.note, m.edited_at  # what users gave it
        if provenance:
            d.manifest.extra[provenance[0]] = {**provenance[1], "origin_was": m.origin}
    return {"id": m.id, "kind": m.kind, "status": "replaced" if state == "changed" else "created", "files": len(files)}
