"""Executing a Hub plan:

* upload: LFS content is pre-uploaded file by file with progress before the commit; content
  the Hub already has is not sent again, so re-running an interrupted upload resumes it; then
  ONE commit (``create_commit`` with add / delete operations, ``parent_commit`` = the head the
  plan saw, so a repo that moved in between is refused instead of overwritten);
* download: files land in a staging folder under ``<ws>/tmp``, are checked (sizes, sha256
  against the Hub and against each artifact's manifest), then the group lands them in the
  workspace (artifacts created atomically with origin ``huggingface:<repo>`` and indexed);
* delete (a group) and delete-all (typed confirmation) are one commit each.
"""
from __future__ import annotations

from pathlib import Path

from config.errors import Conflict, KlineLabError, RemoteError
from engine.hub import Hub
from engine.progress import progress
from engine.sync.group_base import Group
from engine.sync.plan import Item, Landing, Plan, git_blob_oid, human_bytes
from engine.sync.selection import Selection
from storage.manifest import sha256_file
from storage.workspace import Workspace

LFS_BATCH_BYTES = 64 * 1024 * 1024
LFS_BATCH_FILES = 16


def _preupload(hub: Hub, p: Plan, adds: list) -> None:
    """Pre-upload the LFS content in small batches: progress between them; what the Hub already has is skipped."""
    total = sum(op.upload_info.size for op in adds) or 1
    done = 0
    batch: list = []
    for i, op in enumerate(adds):
        batch.append(op)
        size = sum(o.upload_info.size for o in batch)
        if size >= LFS_BATCH_BYTES or len(batch) >= LFS_BATCH_FILES or i == len(adds) - 1:
            progress(0.05 + 0.85 * done / total, f"uploading {op.path_in_repo} ({human_bytes(done)} of {human_bytes(total)})")
            hub.call(f"{p.repo_id}: uploading", hub.api.preupload_lfs_files, p.repo_id, additions=batch,
                     repo_type=p.repo_type, revision=p.revision, free_memory=False)
            done += size
            batch = []


def _commit(hub: Hub, p: Plan, operations: list, message: str) -> str:
    from huggingface_hub import CommitOperationAdd

    _preupload(hub, p, [op for op in operations if isinstance(op, CommitOperationAdd)])
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


def _delete_operations(p: Plan, g: Group | None, todo: list[Item]) -> list:
    """As few operations as cover ``todo``: whole folders where nothing in them is kept."""
    from huggingface_hub import CommitOperationDelete

    if g is not None and len(todo) == len(p.items):
        return [CommitOperationDelete(g.prefix, is_folder=True)]
    if g is not None:
        return [CommitOperationDelete(i.path, is_folder=False) for i in todo]
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
    return ops


def execute_delete(hub: Hub, p: Plan, g: Group | None, sel: Selection, message: str) -> dict:
    todo = p.actionable
    if not todo:
        return {"commit": None, "files": 0, "bytes": 0}
    hub.need_token(f"deleting from {p.repo_id}")
    ops = _delete_operations(p, g, todo)
    progress(0.5, f"deleting {len(todo)} file(s) in one commit")
    commit = _commit(hub, p, ops, message)
    return {"commit": commit, "files": len(todo), "bytes": sum(i.size for i in todo)}


def _verify_download(path: Path, item: Item, expected_sha: str | None) -> None:
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
        _verify_download(local, i, g.expected_sha256(p, i))
        got[i.path] = local
        done += i.size
    progress(0.9, "moving the downloaded files into the workspace")
    created = g.land(Landing(ws, p, sel, got, replace))
    return {"commit": p.head, "files": len(todo), "bytes": sum(i.size for i in todo), "artifacts": created}
