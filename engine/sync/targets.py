"""The sync targets: where Cloud Sync sends and fetches things.  Each is one registered
:class:`SyncTarget`; the CLI builds `sync <target> ...` from the registry and the sync history
records the target's name as its ``backend``.

========  ========================================================  =====================================
target    what it moves                                             modules
========  ========================================================  =====================================
hub       Hub groups (``groups``) as plans, one commit each          ``hub_cli``, ``hub_sync``, ``hub_plan``,
                                                                    ``hub_execute``, ``engine/hub.py``
ssh       archives over SFTP (resume, sha256), host keys, remote    ``ssh_cli``, ``ssh_ops``, ``ssh/``,
          jobs                                                      ``archives``, ``remote_jobs``
========  ========================================================  =====================================

A new target is a module with its operations (recording ``history.record(ws, backend=<name>, ...)``),
a ``register(sub, parser_class)`` that adds `sync <name>` and its commands, and one
:func:`register_target` call below.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.sync.hub_cli import register_hub
from engine.sync.ssh_cli import register_ssh


@dataclass(frozen=True)
class SyncTarget:
    name: str  # `sync NAME ...`; the sync history's backend
    title: str  # how the page and `sync history` name it
    register: Callable[[Any, type], None]  # (the `sync` subparsers, parser class): adds `sync NAME` and its commands


TARGETS: dict[str, SyncTarget] = {}


def register_target(target: SyncTarget) -> SyncTarget:
    if target.name in TARGETS:
        raise ValueError(f"sync target {target.name!r} is registered already")
    TARGETS[target.name] = target
    return target


register_target(SyncTarget("hub", "Hugging Face Hub", register_hub))
register_target(SyncTarget("ssh", "SSH / Paperspace", register_ssh))
