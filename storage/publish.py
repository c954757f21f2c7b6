"""Publishing several staged folders / files in one step, with a journal.

``publish_moves`` renames every staged path onto its final place (an existing one is first
moved aside into the publish folder).  Before the first rename it writes
``tmp/publish.<hex>.p<pid>-<start>.partial/journal.json`` listing every move; removing that
journal is the commit point.  If the process raises, the moves done so far are undone at
once; if it is killed half-way, the start-up cleanup (``recover_interrupted``, called by
``storage.cleanup.clean_stale_staging`` at CLI / app start) finds the journal of a dead writer and
undoes them.  So after a crash the workspace holds either everything of a publish or none of
it (the old versions back in place).  Renames on one filesystem are atomic; this is a
hand-written redo/undo log because no library offers multi-path atomic renames.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from config.errors import Conflict
from storage.manifest import write_json_atomic
from storage.workspace import Workspace, owner_alive, parse_owner

JOURNAL = "journal.json"


@dataclass
class Move:
    src: Path           # staged folder or file (under tmp/)
    dst: Path           # its final place in the workspace
    replace: bool = False
    label: str = ""     # for messages (artifact id, tick file)


def _rel(ws: Workspace, p: Path) -> str:
    return Path(p).resolve().relative_to(ws.root).as_posix()


def publish_moves(ws: Workspace, moves: list[Move]) -> None:
    """All moves or none (see the module docstring).  Existing targets without ``replace`` -> Conflict
    before anything moves."""
    if not moves:
        return
    clash = [m.label or str(m.dst) for m in moves if (m.dst.exists() or m.dst.is_symlink()) and not m.replace]
    if clash:
        raise Conflict(f"{', '.join(clash[:5])} already exist{'s' if len(clash) == 1 else ''} here",
                       hint="pass --replace to replace them")
    folder = ws.staging_dir("publish")
    entries = [{"src": _rel(ws, m.src), "dst": _rel(ws, m.dst), "trash": _rel(ws, folder / "old" / str(i)),
                "ino": os.lstat(m.src).st_ino} for i, m in enumerate(moves)]
    write_json_atomic(folder / JOURNAL, {"moves": entries})
    _fsync(folder / JOURNAL)
    _fsync(folder)
    (folder / "old").mkdir()
    try:
        for m, e in zip(moves, entries):
            m.dst.parent.mkdir(parents=True, exist_ok=True)
            if m.dst.exists() or m.dst.is_symlink():
                if not m.replace:  # appeared since the check above (another writer)
                    raise Conflict(f"{m.label or m.dst} was created by another process meanwhile",
                                   hint="look at it, then pass --replace to replace it")
                os.rename(m.dst, ws.root / e["trash"])
            try:
                os.rename(m.src, m.dst)
            except OSError as err:
                if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise Conflict(f"{m.label or m.dst} was created by another process meanwhile") from None
                raise
    except BaseException:
        _undo(ws, entries)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _fsync(Path(ws.root / entries[-1]["dst"]).parent)
    os.unlink(folder / JOURNAL)  # the commit point
    shutil.rmtree(folder, ignore_errors=True)


def _fsync(path: Path) -> None:
    """The journal reaches the disk before the first rename (best effort on filesystems without fsync)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _undo(ws: Workspace, entries: list[dict]) -> None:
    for e in reversed(entries):
        src, dst, trash = ws.root / e["src"], ws.root / e["dst"], ws.root / e["trash"]
        if (not (src.exists() or src.is_symlink()) and (dst.exists() or dst.is_symlink())
                and os.lstat(dst).st_ino == e.get("ino")):  # still what this publish put there
            src.parent.mkdir(parents=True, exist_ok=True)
            os.rename(dst, src)  # the new version goes back to staging (removed with it)
        if (trash.exists() or trash.is_symlink()) and not (dst.exists() or dst.is_symlink()):
            os.rename(trash, dst)  # the old version back in place


def recover_interrupted(ws: Workspace) -> int:
    """Undo the publishes of writers that died between the journal and the commit point."""
    from config.errors import Busy
    from storage.locks import artifact_lock

    if not ws.tmp_dir.is_dir() or not any(ws.tmp_dir.glob("publish.*.partial")):
        return 0
    try:
        with artifact_lock(ws, "publish-recovery", timeout=0):
            return _recover(ws)
    except Busy:  # another process is recovering right now
        return 0


def _recover(ws: Workspace) -> int:
    n = 0
    for folder in sorted(ws.tmp_dir.glob("publish.*.partial")):
        owner = parse_owner(folder.name)
        if owner is None or owner_alive(*owner):
            continue
        journal = folder / JOURNAL
        if journal.is_file():
            try:
                entries = json.loads(journal.read_text(encoding="utf-8"))["moves"]
            except (OSError, ValueError, KeyError, TypeError):
                entries = None
            if entries is not None:
                _undo(ws, entries)
                journal.unlink()
                n += 1
        shutil.rmtree(folder, ignore_errors=True)
    if n:
        from storage.catalog import index_quietly

        index_quietly(ws)
    return n
