"""Creating, reading and removing artifacts safely.

An artifact is written into a staging folder under ``tmp/``; its manifest is written last;
then the folder is renamed into ``artifacts/<kind>/<id>/`` in one step.  A process that dies
or raises half-way leaves nothing in ``artifacts/`` (its staging folder is removed, or
cleaned later) and nothing half-written is ever indexed.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import Conflict, NotFound
from storage.manifest import MANIFEST, Manifest
from storage.workspace import Workspace, check_kind, new_id


@dataclass
class Draft:
    """An artifact being written: write files under ``dir``; fill ``manifest``."""

    workspace: Workspace
    manifest: Manifest
    dir: Path
    replace: bool = False

    @property
    def id(self) -> str:
        return self.manifest.id

    def path(self, relative: str) -> Path:
        p = self.dir / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


@contextmanager
def create_artifact(
    ws: Workspace,
    kind: str,
    *,
    name: str = "",
    artifact_id: str | None = None,
    symbols: Iterable[str] = (),
    timeframe: str | None = None,
    params: dict[str, Any] | None = None,
    parents: Iterable[str] = (),
    origin: str = "local",
    replace: bool = False,
    index: bool = True,
    staged: list[Draft] | None = None,
) -> Iterator[Draft]:
    """Context manager that yields a :class:`Draft` and commits it atomically on success.

    ``replace=True`` swaps an existing artifact of the same id for the new one (used for
    the canonical OHLCV series, which is updated by later imports).  With ``staged`` (a list)
    the finished draft (hashed, manifest written) is appended to it instead of committed:
    :func:`publish` then commits several in one step, :func:`discard` drops them.
    """
    check_kind(kind)
    ws.ensure()
    aid = artifact_id or new_id(kind)
    manifest = Manifest(
        id=aid, kind=kind, name=name or aid, symbols=list(symbols), timeframe=timeframe,
        params=dict(params or {}), parents=list(parents), origin=origin,
    )
    final = ws.artifact_dir(kind, aid)
    if final.exists() and not replace:
        raise Conflict(f"artifact {aid} already exists", hint="choose another id or remove it first")
    staging = ws.staging_dir(aid)
    draft = Draft(ws, manifest, staging, replace)
    try:
        yield draft
        if staged is not None:
            _finish(draft)
            staged.append(draft)
            return
        commit(ws, draft, replace=replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if index:
        from storage.catalog import index_quietly

        index_quietly(ws)


def _finish(draft: Draft) -> None:
    draft.manifest.hash_files(draft.dir)
    draft.manifest.write(draft.dir)


def commit(ws: Workspace, draft: Draft, *, replace: bool = False) -> Path:
    _finish(draft)
    draft.replace = replace
    publish(ws, [draft], index=False)
    return ws.artifact_dir(draft.manifest.kind, draft.manifest.id)


def publish(ws: Workspace, drafts: list[Draft], *, extra: Iterable[Any] = (), index: bool = True) -> list[Path]:
    """Commit staged drafts (and ``extra`` :class:`storage.publish.Move` s, e.g. tick files) in one
    step: all of them or none, also across a crash (publish journal; see storage.publish).  An
    existing artifact is replaced only when its draft says ``replace``; otherwise Conflict and
    nothing moves.  Holds the lock of every id it replaces while it publishes.  The staging folders are gone
    afterwards either way."""
    from storage.locks import artifact_locks
    from storage.publish import Move, publish_moves

    moves = [Move(d.dir, ws.artifact_dir(d.manifest.kind, d.manifest.id), d.replace, d.manifest.id) for d in drafts]
    try:
        # replacing needs the id's lock (another writer may be replacing it too); a new id needs none: a
        # rename onto an id that appeared meanwhile fails and is reported as a Conflict
        with artifact_locks(ws, [d.manifest.id for d in drafts if d.replace]):
            publish_moves(ws, moves + list(extra))
    except BaseException:
        discard(drafts)
        raise
    if index and drafts:
        from storage.catalog import index_quietly

        index_quietly(ws)
    return [m.dst for m in moves]


def discard(drafts: Iterable[Draft]) -> None:
    for d in drafts:
        shutil.rmtree(d.dir, ignore_errors=True)


def read_manifest(ws: Workspace, artifact_id: str, kind: str | None = None) -> Manifest:
    d = ws.artifact_dir(kind, artifact_id) if kind else ws.find_artifact_dir(artifact_id)
    if d is None or not (d / MANIFEST).is_file():
        what = f"{kind} artifact" if kind else "artifact"
        raise NotFound(f"no {what} with id {artifact_id!r} in {ws.root}", hint="see `python -m engine catalog query`")
    return Manifest.read(d)


def artifact_path(ws: Workspace, artifact_id: str, kind: str | None = None) -> Path:
    read_manifest(ws, artifact_id, kind)  # raises NotFound
    d = ws.artifact_dir(kind, artifact_id) if kind else ws.find_artifact_dir(artifact_id)
    assert d is not None
    return d


def list_manifests(ws: Workspace, kind: str | None = None) -> list[Manifest]:
    kinds = [check_kind(kind)] if kind else [k for k in (ws.artifacts_dir.iterdir() if ws.artifacts_dir.is_dir() else [])]
    out = []
    for k in kinds:
        kd = ws.artifacts_dir / k if isinstance(k, str) else k
        if not kd.is_dir():
            continue
        for d in sorted(kd.iterdir()):
            if (d / MANIFEST).is_file():
                try:
                    out.append(Manifest.read(d))
                except Exception:  # noqa: BLE001, S112 - a broken manifest is reported by catalog refresh
                    continue
    return out


def kinds_stamp(ws: Workspace, *kinds: str) -> tuple[int, float]:
    """A cheap change marker for the artifacts of ``kinds``: (how many, newest manifest mtime).
    Page caches key on it; it moves when an artifact is added, replaced or deleted."""
    n, newest = 0, 0.0
    for kind in kinds:
        for p in ws.kind_dir(check_kind(kind)).glob(f"*/{MANIFEST}"):
            n, newest = n + 1, max(newest, p.stat().st_mtime)
    return n, newest


def delete_artifact(ws: Workspace, artifact_id: str) -> None:
    d = artifact_path(ws, artifact_id)
    trash = ws.staging_dir(f"{artifact_id}.deleted")
    d.rename(trash / d.name)
    shutil.rmtree(trash, ignore_errors=True)
    from storage.catalog import index_quietly

    index_quietly(ws)
