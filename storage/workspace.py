"""Workspace layout under ``KLINELAB_HOME`` (default ``./workspace``).

    <root>/
      artifacts/<kind>/<artifact id>/manifest.json + files   (the truth)
      jobs/<job id>/state.json, log.txt, manifest.json         (job state; manifest once ended)
      tmp/                                                     (staging; same filesystem for atomic renames;
                                                                staging folder names record the writer's pid + start)
      locks/                                                   (per-series / per-artifact lock files, flock)
      catalog.duckdb                                           (index of all manifests; rebuildable)
      known_hosts                                              (SSH host keys trusted by the user)
      ssh_hosts.json                                           (SSH host profiles; never passwords)
      sync_history.jsonl                                       (Hub / SSH operations)
      raw/ticks/                                               (raw tick files of the Hub "ticks" group)
      training/<run id>/, training/configs/                    (runs in progress; configs saved from the page)

Files are the truth: deleting catalog.duckdb loses nothing (``catalog rebuild``).
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from config import settings
from config.errors import BadInput

KINDS = ("ohlcv", "features", "analysis", "model", "stage1", "stage2", "backtest", "tuning", "archive", "job")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def default_home() -> Path:
    return settings.home()


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise BadInput(f"unknown artifact kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    return kind


def check_id(artifact_id: str) -> str:
    if not isinstance(artifact_id, str) or not _ID_RE.match(artifact_id) or ".." in artifact_id:
        raise BadInput(f"invalid artifact id {artifact_id!r}", hint="ids use letters, digits, '.', '_' and '-'")
    return artifact_id


def new_id(kind: str, label: str | None = None) -> str:
    """A sortable, unique id such as ``model-20260101-120000-3fa9c2`` (label optional)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    parts = [kind] + ([re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")] if label else []) + [stamp, secrets.token_hex(3)]
    return "-".join(p for p in parts if p)


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike | None = None) -> Workspace:
        return cls(Path(root).expanduser().resolve() if root else default_home())

    # -- paths -------------------------------------------------------------------------
    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def known_hosts_path(self) -> Path:
        return self.root / "known_hosts"

    @property
    def sync_history_path(self) -> Path:
        return self.root / "sync_history.jsonl"

    @property
    def ssh_hosts_path(self) -> Path:
        return self.root / "ssh_hosts.json"

    @property
    def ticks_dir(self) -> Path:
        return self.root / "raw" / "ticks"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    def kind_dir(self, kind: str) -> Path:
        return self.artifacts_dir / check_kind(kind)

    def artifact_dir(self, kind: str, artifact_id: str) -> Path:
        return self.kind_dir(kind) / check_id(artifact_id)

    def exists(self) -> bool:
        return self.artifacts_dir.is_dir()

    def ensure(self) -> Workspace:
        for p in (self.artifacts_dir, self.jobs_dir, self.tmp_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def staging_dir(self, label: str) -> Path:
        """A fresh directory under tmp/ for writing an artifact before its atomic rename.

        Its name records the writer (``<label>.<hex>.p<pid>-<start>.partial``), so that the
        start-up cleanup removes it only once that process is gone."""
        self.ensure()
        path = self.tmp_dir / f"{check_id(label)}.{secrets.token_hex(4)}.{owner_tag()}.partial"
        path.mkdir()
        return path

    def find_artifact_dir(self, artifact_id: str) -> Path | None:
        """The directory of an artifact of any kind, or None."""
        check_id(artifact_id)
        for kind in KINDS:
            d = self.artifacts_dir / kind / artifact_id
            if (d / "manifest.json").is_file():
                return d
        d = self.jobs_dir / artifact_id
        if (d / "manifest.json").is_file():
            return d
        return None


_OWNER_RE = re.compile(r"\.p(\d+)-(\d+)\.partial$")


def _start_cs(pid: int) -> int | None:
    """The process's start time in centiseconds since the epoch (psutil), None when it is gone."""
    import psutil

    try:
        return int(psutil.Process(pid).create_time() * 100)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def owner_tag(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"p{pid}-{_start_cs(pid) or 0}"


def parse_owner(name: str) -> tuple[int, int] | None:
    m = _OWNER_RE.search(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def owner_alive(pid: int, start_cs: int) -> bool:
    """True while the process that wrote the tag runs (same pid AND same start time: a reused pid is not it)."""
    now = _start_cs(pid)
    return now is not None and abs(now - start_cs) <= 100


def _batch_ended(path: Path) -> bool:
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return all(r.get("status") in ("succeeded", "failed") for r in doc.get("pairs") or [])
    except (OSError, ValueError, AttributeError, TypeError):
        return True  # unreadable: nothing to resume from
