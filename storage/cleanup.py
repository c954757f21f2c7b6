"""Start-up cleanup of the workspace (called once by the CLI and by the app): roll back publishes
interrupted by a crash, then remove staging left by dead writers. It sits above ``storage.publish``
(which indexes the catalog), so ``storage.workspace`` imports neither."""
from __future__ import annotations

import shutil
import time

from storage.publish import recover_interrupted
from storage.workspace import Workspace, _batch_ended, owner_alive, parse_owner


def clean_stale_staging(ws: Workspace, older_than_s: float = 24 * 3600) -> int:
    """Start-up cleanup (CLI and app): roll back publishes interrupted by a crash, then
    remove staging folders whose writer process is gone (never indexed).  Folders without
    a recorded writer (older versions) go when older than ``older_than_s``; Stage 2 batch
    state files under tmp/ when every pair ended (1 h) or after 7 days.  Best effort: a
    read-only workspace is left as it is."""
    if not ws.tmp_dir.is_dir():
        return 0
    n = 0
    try:
        n += recover_interrupted(ws)
        now = time.time()
        for p in list(ws.tmp_dir.iterdir()):
            try:
                age = now - p.lstat().st_mtime
                if p.name.endswith(".partial") and p.is_dir():
                    owner = parse_owner(p.name)
                    if (owner is not None and not owner_alive(*owner)) or (owner is None and age > older_than_s):
                        shutil.rmtree(p, ignore_errors=True)
                        n += 1
                elif (p.name.startswith("stage2-batch-") and p.name.endswith(".json")
                      and (age > 7 * 86400 or (age > 3600 and _batch_ended(p)))):
                    p.unlink(missing_ok=True)
                    n += 1
            except FileNotFoundError:
                continue
    except OSError:  # read-only / vanished workspace: nothing to clean here
        return n
    return n


