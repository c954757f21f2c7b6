"""Hub operations as plans: ``run`` plans an operation (``hub_plan``: the files and what happens
to each, with sizes, against the remote), shows it as a dry run, or executes it
(``hub_execute``: ONE commit per upload / delete, downloads checked and landed atomically) and
records it in the sync history.  ``overview`` is the connection test.  What differs per group is
in the group objects (``groups``: a registry of ``group_base.Group`` strategies)."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from config.errors import BadInput, KlineLabError, Refused
from engine.hub import Hub, check_repo_id, check_repo_type
from engine.progress import progress
from engine.sync import history
from engine.sync.group_base import Group
from engine.sync.groups import GROUPS, get_group, group_of
from engine.sync.hub_execute import execute_delete, execute_download, execute_upload
from engine.sync.hub_plan import plan_delete, plan_download, plan_upload
from engine.sync.plan import OPS, Item, Plan, human_bytes  # noqa: F401 - Item, Plan: imported from here too
from engine.sync.selection import Selection
from storage.workspace import Workspace

BACKEND = "hub"  # the sync target's name in the sync history (engine/sync/targets.py)


def _check(op: str, repo_id: str, repo_type: str, group: str | None, dry_run: bool, confirm: str | None) -> Group | None:
    """The group named (None for delete-all), after checking the request; refusals before any Hub call."""
    if op not in OPS:
        raise BadInput(f"unknown operation {op!r}", hint=f"use one of {', '.join(OPS)}")
    check_repo_id(repo_id)
    check_repo_type(repo_type)
    g = None
    if op != "delete-all":
        if not group:
            raise BadInput(f"{op} needs a group", hint=f"--group one of {', '.join(GROUPS)}")
        g = get_group(group)
    if op == "delete-all" and not dry_run and confirm != repo_id:
        raise Refused(f"delete-all removes every file of {repo_id}; type the repository id back to confirm",
                      hint=f"add --confirm {repo_id} (look at the list first with --dry-run)")
    return g


def _plan(ws: Workspace, hub: Hub, p: Plan, g: Group | None, sel: Selection, staging: Path, *, prune: bool,
          replace: bool) -> None:
    if p.op == "upload":
        plan_upload(ws, hub, p, g, sel, staging, prune)
    elif p.op == "download":
        plan_download(ws, hub, p, g, sel, staging, replace)
    else:
        plan_delete(hub, p, g, sel)


def _execute(ws: Workspace, hub: Hub, p: Plan, g: Group | None, sel: Selection, staging: Path, *, message: str | None,
             private: bool, replace: bool, started: float) -> dict[str, Any]:
    if p.op == "download":
        msg = ""
    else:
        msg = message or (g.upload_message if p.op == "upload" else g.delete_message if g else "Delete all dataset data")
    try:
        if p.op == "upload":
            return execute_upload(ws, hub, p, msg, private=private)
        if p.op == "download":
            return execute_download(ws, hub, p, g, sel, staging, replace)
        return execute_delete(hub, p, g, sel, msg)
    except KlineLabError as e:
        history.record(ws, backend=BACKEND, op=p.op, target=f"{p.repo_type}:{p.repo_id}", group=p.group,
                       status="failed", error=str(e), duration_s=round(time.monotonic() - started, 2),
                       files=len(p.actionable))
        raise


def _outcome(ws: Workspace, p: Plan, res: dict[str, Any], started: float) -> dict[str, Any]:
    """Record the outcome in the sync history; the result with its text."""
    status = "succeeded" if res["files"] else "nothing to do"
    history.record(ws, backend=BACKEND, op=p.op, target=f"{p.repo_type}:{p.repo_id}", group=p.group, status=status,
                   files=res["files"], bytes=res["bytes"], commit=res.get("commit"),
                   artifacts=[a.get("id") for a in res.get("artifacts", []) if a.get("id")],
                   summary=p.summary(), duration_s=round(time.monotonic() - started, 2))
    tail = (f"commit {res['commit'][:10]}" if res.get("commit") and p.op != "download" else
            f"{len(res.get('artifacts', []))} artifact(s) indexed" if p.op == "download" else "")
    text = p.text() + f"\n{status}: {res['files']} file(s), {human_bytes(res['bytes'])}" + (f", {tail}" if tail else "")
    return {**res, "status": status, "_text": text}


# -- the one entry point (CLI, jobs) -----------------------------------------------------------
def run(ws: Workspace, op: str, repo_id: str, *, group: str | None = None, repo_type: str = "dataset",
        revision: str = "main", selection: Selection | None = None, dry_run: bool = False, prune: bool = False,
        replace: bool = False, confirm: str | None = None, message: str | None = None, private: bool = False,
        hub: Hub | None = None) -> dict[str, Any]:
    """Plan ``op`` and, unless ``dry_run``, execute it.  Returns the plan and the outcome."""
    g = _check(op, repo_id, repo_type, group, dry_run, confirm)
    sel = selection or Selection()
    hub = hub or Hub.connect()
    if op in ("upload", "delete", "delete-all") and not dry_run:
        hub.need_token(f"{op} on {repo_id}")
    started = time.monotonic()
    progress(0.0, f"planning {op} of {g.name if g else 'everything'} on {repo_id}")
    ws.ensure()
    staging = ws.staging_dir("hub-sync")
    try:
        head = hub.head(repo_id, repo_type, revision)
        p = Plan(op, repo_id, repo_type, g.name if g else None, revision, head, hub.url, selection=sel.to_dict())
        _plan(ws, hub, p, g, sel, staging, prune=prune, replace=replace)
        out: dict[str, Any] = {"plan": p.to_dict(), "dry_run": dry_run}
        if dry_run:
            out["_text"] = p.text() + "\n(dry run: nothing was changed)"
            return out
        res = _execute(ws, hub, p, g, sel, staging, message=message, private=private, replace=replace, started=started)
        progress(1.0, "done")
        return {**out, **_outcome(ws, p, res, started)}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def overview(hub: Hub, repo_id: str, repo_type: str = "dataset", revision: str = "main") -> dict[str, Any]:
    """Connection test + what the repository holds, per group."""
    check_repo_id(repo_id)
    out: dict[str, Any] = {"endpoint": hub.url, "repo_id": repo_id, "repo_type": repo_type, "token": bool(hub.token)}
    if hub.token:
        who = hub.whoami()
        out["user"] = who.get("name")
        out["token_role"] = ((who.get("auth") or {}).get("accessToken") or {}).get("role")
    head = hub.head(repo_id, repo_type, revision)
    out["exists"] = head is not None
    out["head"] = head
    groups: dict[str, dict[str, int]] = {}
    if head:
        for path, r in hub.tree(repo_id, repo_type, revision).items():
            s = groups.setdefault(group_of(path), {"files": 0, "bytes": 0})
            s["files"] += 1
            s["bytes"] += r["size"]
    out["groups"] = groups
    lines = [f"{hub.url}: " + (f"token of {out.get('user')} ({out.get('token_role')})" if hub.token else "no token"),
             f"{repo_type} {repo_id}: " + (f"head {head[:10]}" if head else "does not exist")]
    lines += [f"  {k:>9}: {v['files']:>5} files  {human_bytes(v['bytes']):>10}" for k, v in sorted(groups.items())]
    out["_text"] = "\n".join(lines)
    return out
