"""Sync history (``<workspace>/sync_history.jsonl``): one JSON line per executed Hub or SSH
operation (what, where, outcome, sizes, commit / checksum), appended under a file lock
(``filelock``, ``sync_history.jsonl.lock``).
Never a token or a password: records are built from an allow-list of fields."""
from __future__ import annotations

import json
from typing import Any

from filelock import FileLock

from config import settings
from storage.manifest import _jsonable, utc_now_iso
from storage.workspace import Workspace

FIELDS = ("time", "backend", "op", "target", "group", "status", "files", "bytes", "commit", "artifacts", "path",
          "sha256", "error", "duration_s", "summary", "job_id")


def record(ws: Workspace, **entry: Any) -> dict[str, Any]:
    entry.setdefault("time", utc_now_iso())
    entry.setdefault("job_id", settings.job_id())
    row = {k: _jsonable(entry[k]) for k in FIELDS if entry.get(k) is not None}
    ws.root.mkdir(parents=True, exist_ok=True)
    path = ws.sync_history_path
    with FileLock(path.with_name(path.name + ".lock")), open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    return row


def read(ws: Workspace, limit: int | None = 200) -> list[dict[str, Any]]:
    """Newest first; a damaged line is skipped."""
    p = ws.sync_history_path
    if not p.is_file():
        return []
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    rows.reverse()
    return rows[:limit] if limit else rows
