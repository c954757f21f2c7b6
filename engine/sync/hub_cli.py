"""`sync hub` commands: Hugging Face Hub groups as single commits (plan, dry run, upload,
download, delete, delete-all), the connection test and the group list.  Seed equivalents:
`hf-upload-ticks` = `sync hub upload --group ticks`, `hf-download-training` = `sync hub download
--group training`, `hf-delete-features` = `sync hub delete --group analysis`, `hf-delete-all` =
`sync hub delete-all`."""
from __future__ import annotations

from pathlib import Path

from config.errors import BadInput


def _hub(args):
    from engine.hub import Hub

    return Hub.connect(endpoint_url=args.endpoint, token_file=args.token_file)


def _selection(req):
    from engine.sync.groups import Selection

    ticks = getattr(req, "ticks_dir", None) or getattr(req, "local_dir", None)
    return Selection(ids=list(getattr(req, "ids", [])), symbols=list(getattr(req, "symbols", [])),
                     timeframes=list(getattr(req, "timeframes", [])), scalers=not getattr(req, "no_scalers", False),
                     ticks_dir=Path(ticks) if ticks else None)


def cmd_hub_op(args, ws):
    from engine.sync.groups import get_group
    from engine.sync.hub_sync import run
    from engine.sync.requests import HUB_OPS

    req = HUB_OPS[args.op].from_args(args)  # the same typed request the Cloud Sync page builds
    if getattr(req, "local_dir", None) and not get_group(req.group).local_folder:
        raise BadInput("--local-dir applies to the ticks group", hint="other groups land in the workspace; choose it with --home")

    return run(ws, args.op, req.repo_id, group=getattr(req, "group", None), repo_type=req.repo_type,
               revision=req.revision, selection=_selection(req), dry_run=req.dry_run,
               prune=getattr(req, "prune", False), replace=getattr(req, "replace", False),
               confirm=getattr(req, "confirm", None), message=req.commit_message,
               private=getattr(req, "private", False), hub=_hub(req))


def cmd_hub_test(args, ws):
    from engine.sync.hub_sync import overview
    from engine.sync.requests import HubTestRequest

    req = HubTestRequest.from_args(args)
    return overview(_hub(req), req.repo_id, req.repo_type, req.revision)


def cmd_hub_groups(args, ws):
    from engine.sync.groups import GROUPS

    rows = [{"group": g.name, "remote": g.prefix, "kinds": list(g.kinds), "title": g.title} for g in GROUPS.values()]
    return {"groups": rows, "_text": "\n".join(f"{r['group']:<9} {r['remote']:<11} {r['title']}" for r in rows)}


def _hub_common(p, *, group: bool = True, plan: bool = True) -> None:
    from engine.sync.groups import GROUPS

    p.add_argument("--repo-id", required=True, help="owner/name")
    if group:
        p.add_argument("--group", required=True, help=f"one of {', '.join(GROUPS)} (seed name 'features' = analysis)")
    p.add_argument("--repo-type", default="dataset", choices=["dataset", "model"])
    p.add_argument("--revision", default="main", help="branch (default main)")
    p.add_argument("--endpoint", help="Hub URL (default $HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--token-file", help="read the token from this file (default: $HF_TOKEN, then `hf auth login`)")
    if plan:
        p.add_argument("--dry-run", action="store_true", help="show the plan only; change nothing")
        p.add_argument("--commit-message", help="commit summary (default: the seed's, e.g. 'Upload training data')")


def _selection_args(p) -> None:
    p.add_argument("--ids", help="only these artifact ids (comma separated)")
    p.add_argument("--symbols", help="only these symbols")
    p.add_argument("--timeframes", help="only these timeframes")
    p.add_argument("--no-scalers", action="store_true", help="training: leave the scalers out (upload / delete)")
    p.add_argument("--ticks-dir", help="ticks: the local folder (default <workspace>/raw/ticks)")


def register_hub(sub, parser_class) -> None:
    hub = sub.add_parser("hub", help="Hugging Face Hub groups as single commits")
    hs = hub.add_subparsers(dest="hub_cmd", metavar="COMMAND", parser_class=parser_class)
    p = hs.add_parser("upload", help="upload a group (plan, then one commit)")
    _hub_common(p)
    _selection_args(p)
    p.add_argument("--prune", action="store_true", help="also delete the group's files that are only on the Hub")
    p.add_argument("--private", action="store_true", help="create the repository private if it does not exist")
    p.set_defaults(func=cmd_hub_op, op="upload")

    p = hs.add_parser("download", help="download a group into the workspace (atomic, indexed)")
    _hub_common(p)
    _selection_args(p)
    p.add_argument("--local-dir", help="ticks: same as --ticks-dir (other groups land in the workspace: --home)")
    p.add_argument("--replace", action="store_true", help="replace local artifacts that differ from the Hub's")
    p.set_defaults(func=cmd_hub_op, op="download")

    p = hs.add_parser("delete", help="delete a group from the repository (one commit)")
    _hub_common(p)
    _selection_args(p)
    p.set_defaults(func=cmd_hub_op, op="delete")

    p = hs.add_parser("delete-all", help="delete every file of the repository (one commit; typed confirmation)")
    _hub_common(p, group=False)
    p.add_argument("--confirm", help="the repository id, typed back")
    p.set_defaults(func=cmd_hub_op, op="delete-all")

    p = hs.add_parser("test", help="connection test: token, repository, what each group holds")
    _hub_common(p, group=False, plan=False)
    p.set_defaults(func=cmd_hub_test)

    p = hs.add_parser("groups", help="the groups and their layout on the Hub")
    p.set_defaults(func=cmd_hub_groups)
