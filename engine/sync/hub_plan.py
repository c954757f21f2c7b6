"""Planning a Hub operation (huggingface_hub's commit-operation pattern): the list of files and
what happens to each against the remote tree, before anything changes.  What differs per group
(its files, layout, what a download compares) is asked of the group object (``group_base.Group``)."""
from __future__ import annotations

from pathlib import Path

from config.errors import BadInput, NotFound, Refused
from engine.hub import Hub
from engine.sync.adopt import safe_relpath
from engine.sync.group_base import KEEP, Group
from engine.sync.plan import DownloadPlanning, Item, Plan, same_content
from engine.sync.selection import Selection
from storage.workspace import Workspace


def plan_upload(ws: Workspace, hub: Hub, p: Plan, g: Group, sel: Selection, staging: Path, prune: bool) -> None:
    files = g.local_files(ws, sel, staging)
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
        aid = g.artifact_folder(path)
        kept = g.kept_note(path, sel)
        if kept:
            p.items.append(Item(path, "kept", r["size"], aid[0] if aid else None, kept, remote=r))
            continue
        # a file left from an earlier upload of an artifact being uploaded now is stale: removed; others
        # are kept unless --prune
        stale = aid is not None and aid[0] in covered and g.whole_artifacts
        p.items.append(Item(path, "removed" if (prune or stale) else "kept", r["size"], aid[0] if aid else None,
                            "" if (prune or stale) else "on the Hub only (use --prune to delete)", remote=r))


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

    def fetch(path: str, folder: Path) -> Path:
        return hub.download(p.repo_id, p.repo_type, p.head, path, folder)

    g.plan_download(DownloadPlanning(ws, p, remote, sel, staging, replace, fetch))


def plan_delete(hub: Hub, p: Plan, g: Group | None, sel: Selection) -> None:
    if p.head is None:
        raise NotFound(f"repository {p.repo_id} ({p.repo_type}) not found on {hub.url}")
    remote = hub.tree(p.repo_id, p.repo_type, p.revision, g.prefix if g else "")
    for path, r in sorted(remote.items()):
        if g is None:
            p.items.append(Item(path, "kept" if path in KEEP else "removed", r["size"],
                                note="kept: repository configuration" if path in KEEP else ""))
            continue
        keep = g.kept_note(path, sel)
        if not keep and not sel.empty:
            keep = "" if g.selected(path, sel) else "not selected"
        p.items.append(Item(path, "kept" if keep else "removed", r["size"], (g.artifact_folder(path) or (None,))[0], keep))
    if g is not None and not any(i.status == "removed" for i in p.items):
        p.notes.append(f"the repository holds no {g.name} files" + ("" if sel.empty else " matching the selection"))
