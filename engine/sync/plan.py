"""What a Hub operation is going to do, as data: a :class:`Plan` of :class:`Item` (one per
file: new / changed / unchanged / removed / kept / conflict / skipped, with sizes), shown as a
dry run and executed as one commit; plus the content comparisons the planning uses, and the
contexts a group strategy (``engine/sync/group_base.py``) is handed to plan and land a download.

Imports nothing of sync but ``selection`` (LocalFile, Selection), so groups and the Hub planning
and execution modules may all use it."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.sync.selection import LocalFile, Selection
from storage.manifest import Manifest, sha256_file
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


@dataclass
class DownloadPlanning:
    """What a group's ``plan_download`` works with: the remote files of the group (safe paths only),
    a way to fetch one of them (the remote manifests), and the plan to add items to."""

    ws: Workspace
    plan: Plan
    remote: dict[str, dict]
    sel: Selection
    staging: Path
    replace: bool
    fetch: Callable[[str, Path], Path]  # (remote path, local folder) -> the downloaded file

    def add(self, path: str, status: str, aid: str | None = None, note: str = "") -> None:
        self.plan.items.append(Item(path, status, self.remote[path]["size"], aid, note, remote=self.remote[path]))

    def decide(self, same: bool, exists: bool) -> tuple[str, str]:
        if same:
            return "unchanged", ""
        if not exists:
            return "new", ""
        return ("changed", "replaces the local copy") if self.replace else \
            ("conflict", "differs from the local copy: --replace")


@dataclass
class Landing:
    """What a group's ``land`` works with: the downloaded, checked files (remote path -> file in staging)."""

    ws: Workspace
    plan: Plan
    sel: Selection
    got: dict[str, Path]
    replace: bool

    @property
    def origin(self) -> str:
        return f"huggingface:{self.plan.repo_id}"

    @property
    def provenance(self) -> dict[str, Any]:
        return {"repo_id": self.plan.repo_id, "repo_type": self.plan.repo_type, "commit": self.plan.head}
