"""Creating, reading and removing artifacts safely.

An artifact is written into a staging folder under ``tmp/``; its manifest is written last;
then the folder is renamed into ``artifacts/<kind>/<id>/`` in one step.  A process that dies
or raises half-way leaves nothing in ``artifacts/`` (its staging folder is removed, or
cleaned later) and nothing half-written is ever indexed.
"""
from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import BadInput, Conflict, NotFound, Refused
from storage.manifest import MANIFEST, Manifest, utc_now_iso
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
        id=aid, kind=kind, name=name, symbols=list(symbols), timeframe=timeframe,
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


def describe(what: str, symbols: Iterable[str] = (), timeframe: str | None = None, start: Any = None,
             end: Any = None) -> str:
    """A readable artifact name from its inputs: ``direction BTCUSDT 15m 2025-01..2025-09`` (what, the
    symbols (3 at most, then +N), the timeframe, the months it covers)."""
    syms = list(symbols or [])
    parts = [str(what), ",".join(syms[:3]) + (f"+{len(syms) - 3}" if len(syms) > 3 else "")]
    if timeframe:
        parts.append(str(timeframe))
    if start is not None and end is not None and str(start) and str(end):
        parts.append(f"{str(start)[:7]}..{str(end)[:7]}")
    return " ".join(p for p in parts if p)


def default_name(m: Manifest) -> str:
    """The name of an artifact whose writer gave none: :func:`describe` of its kind (a model: its model
    type), symbols, timeframe and period."""
    what = str((m.params or {}).get("model") or m.kind) if m.kind == "model" else m.kind
    name = describe(what, m.symbols, m.timeframe, m.start, m.end)
    return name if name != m.kind else f"{m.kind} {m.id[-6:]}"


def _finish(draft: Draft) -> None:
    if not draft.manifest.name.strip():
        draft.manifest.name = default_name(draft.manifest)
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
            for d in drafts:
                if d.replace:
                    _keep_user_fields(ws, d)
            publish_moves(ws, moves + list(extra))
    except BaseException:
        discard(drafts)
        raise
    _record_published([d.manifest.id for d in drafts])
    if index and drafts:
        from storage.catalog import index_quietly

        index_quietly(ws)
    return [m.dst for m in moves]


_recorders: list[list[str]] = []
_recorders_lock = threading.Lock()


@contextmanager
def recording_published() -> Iterator[list[str]]:
    """Yields a list that collects the ids of the artifacts this process publishes inside the block
    (every new or replaced artifact goes through :func:`publish`), in order, each once: what a job MADE,
    told apart from the inputs its result also names (engine.cli records them as the job's artifacts).
    An artifact left as it was (an unchanged import or pull) is not published, so not listed."""
    made: list[str] = []
    with _recorders_lock:
        _recorders.append(made)
    try:
        yield made
    finally:
        with _recorders_lock:
            _recorders[:] = [r for r in _recorders if r is not made]


def _record_published(ids: list[str]) -> None:
    with _recorders_lock:
        for made in _recorders:
            made.extend(i for i in dict.fromkeys(ids) if i not in made)


def _keep_user_fields(ws: Workspace, draft: Draft) -> None:
    """A replaced artifact (a series updated by a later import, a re-download) keeps what the user gave
    it: the name they chose, its tags and note (under the id's lock, so an edit is never lost)."""
    old_dir = ws.artifact_dir(draft.manifest.kind, draft.manifest.id)
    try:
        old = Manifest.read(old_dir)
    except (FileNotFoundError, OSError, BadInput, Refused):
        return
    if not old.edited_at:
        return
    m = draft.manifest
    m.name, m.note, m.edited_at = old.name, old.note, old.edited_at
    m.tags = list(dict.fromkeys(list(old.tags) + list(m.tags)))
    m.write(draft.dir)


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


# -- what users change: name, tags, note; delete -------------------------------------------------------
def edit_artifact(ws: Workspace, artifact_id: str, *, name: str | None = None, add_tags: Iterable[str] = (),
                  remove_tags: Iterable[str] = (), note: str | None = None) -> Manifest:
    """Rename / tag / untag / annotate one artifact (or job entry): its manifest is re-read, changed and
    written atomically under the id's lock, so concurrent edits (a rename and a tag) never lose each other;
    then the catalog is refreshed.  Bad input -> BadInput before anything is written."""
    from storage.locks import artifact_lock
    from storage.schema import MAX_TAGS, check_name, check_note, check_tag

    new_name = check_name(name) if name is not None else None
    adds = [check_tag(t) for t in add_tags]
    removes = [check_tag(t) for t in remove_tags]
    new_note = check_note(note) if note is not None else None
    if new_name is None and new_note is None and not adds and not removes:
        raise BadInput("nothing to change", hint="give a new name, tags to add / remove, or a note")
    with artifact_lock(ws, artifact_id):
        d = artifact_path(ws, artifact_id)
        m = Manifest.read(d)
        if new_name is not None:
            m.name = new_name
        if new_note is not None:
            m.note = new_note
        tags = [t for t in m.tags if t not in set(removes)]
        tags += [t for t in dict.fromkeys(adds) if t not in tags]
        if len(tags) > MAX_TAGS:
            raise BadInput(f"an artifact has at most {MAX_TAGS} tags ({artifact_id} would have {len(tags)})",
                           hint="remove some first")
        m.tags = tags
        m.edited_at = utc_now_iso()
        m.write(d)
    from storage.catalog import index_quietly

    index_quietly(ws)
    return m


def descendants(ws: Workspace, artifact_id: str) -> list[dict[str, Any]]:
    """Every artifact made from this one, recursively (lineage in the catalog, refreshed first):
    ``[{id, kind, name, depth}]``.  Job entries (which list the artifacts their job made) are not
    descendants."""
    from config.errors import Busy
    from storage.catalog import Catalog

    cat = Catalog(ws)
    try:
        cat.refresh(timeout=5.0)
    except Busy:
        pass  # the lineage below is read from the manifests then
    df = cat.lineage(artifact_id)["descendants"]
    out = []
    for r in df.itertuples(index=False):
        if r.kind is None or r.kind == "job" or r.id == artifact_id:
            continue
        out.append({"id": r.id, "kind": r.kind, "name": r.name or r.id, "depth": int(r.depth)})
    return out


def delete_artifact(ws: Workspace, artifact_id: str, *, with_descendants: bool = False) -> list[str]:
    """Delete an artifact; refused (``Refused``, the descendants in its ``data``) when other artifacts
    were made from it, unless ``with_descendants`` (then they go too).  All-or-nothing: every folder is
    moved out in one journaled step (storage.publish; a crash half-way puts them back at start-up),
    under the ids' locks, then removed, and the catalog rows go with them.  Returns the deleted ids."""
    from storage.locks import artifact_locks
    from storage.publish import Move, publish_moves

    d = artifact_path(ws, artifact_id)  # NotFound
    m = Manifest.read(d)
    if m.kind == "job" or d.parent == ws.jobs_dir:
        raise Refused(f"{artifact_id} is a job entry, not an artifact", hint="jobs are listed on the Home page; "
                      "delete the artifacts they made instead")
    desc = descendants(ws, artifact_id)
    if desc and not with_descendants:
        shown = ", ".join(f"{x['name']} ({x['id']})" for x in desc[:5]) + (f" and {len(desc) - 5} more" if len(desc) > 5 else "")
        raise Refused(f"{m.name or artifact_id} is used by {len(desc)} other artifact(s): {shown}",
                      hint="delete those first, or delete them together (--with-descendants)",
                      data={"id": artifact_id, "descendants": desc})
    ids = [artifact_id] + [x["id"] for x in desc]
    with artifact_locks(ws, ids):
        dirs = {i: ws.find_artifact_dir(i) for i in ids}
        gone = [i for i, p in dirs.items() if p is None]
        if artifact_id in gone:
            raise NotFound(f"{artifact_id} was deleted by another process meanwhile")
        ids = [i for i in ids if i not in gone]
        trash = ws.staging_dir("delete")
        try:
            publish_moves(ws, [Move(dirs[i], trash / i, False, i) for i in ids])
        finally:
            shutil.rmtree(trash, ignore_errors=True)
    from storage.catalog import index_quietly

    index_quietly(ws, timeout=10.0)  # the rows go with the folders (a busy catalog: at its next refresh)
    return ids
