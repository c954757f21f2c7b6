"""Where training runs live while they run (light: pages import it without torch)."""
from __future__ import annotations

from pathlib import Path

from storage.workspace import Workspace, check_id

RUNS_DIR = "training"  # <workspace>/training/<run id>/: runs in progress (see the module doc)


def runs_root(ws: Workspace) -> Path:
    return ws.root / RUNS_DIR


def run_dir(ws: Workspace, run_id: str) -> Path:
    return runs_root(ws) / check_id(run_id)
