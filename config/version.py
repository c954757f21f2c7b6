"""The code version recorded in every manifest: the package version plus the git commit when known."""
from __future__ import annotations

import functools
import subprocess
from pathlib import Path

VERSION = "0.1.0"
ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{VERSION}+g{sha}" if sha else VERSION
