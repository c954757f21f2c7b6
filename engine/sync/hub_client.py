"""The Hub client of Cloud Sync: the one Hub access layer, ``engine/hub.py`` (this name is kept
for the callers that import it from here)."""
from __future__ import annotations

from engine.hub import REPO_TYPES, RETRY_STATUS, Hub, check_repo_id, endpoint, hub_error, resolve_token

__all__ = ["REPO_TYPES", "RETRY_STATUS", "Hub", "check_repo_id", "endpoint", "hub_error", "resolve_token"]
