"""`sync` commands (SPEC 9 / 13): one command group per sync target (``engine/sync/targets.py``:
the Hugging Face Hub, `sync hub ...` in ``hub_cli``; SSH hosts, `sync ssh ...` in ``ssh_cli``) and
the sync history (`sync history`).

The seed's commands map onto these (see README, "Cloud Sync"): `hf-upload-ticks` =
`sync hub upload --group ticks`, `hf-download-training` = `sync hub download --group training`,
`hf-delete-features` = `sync hub delete --group analysis`, `hf-delete-all` = `sync hub delete-all`,
`create-training-archive` = `sync ssh archive-training`, `upload-training` = `sync ssh upload`,
`download-results` = `sync ssh download`, `list-remote-files` = `sync ssh list`.
"""
from __future__ import annotations

from engine.argtypes import int_in


def cmd_history(args, ws):
    from engine.sync.history import read

    rows = read(ws, args.limit)
    text = "\n".join(f"{r.get('time')}  {r.get('backend'):<4} {r.get('op'):<16} {r.get('status'):<14} "
                     f"{r.get('target', '')} {r.get('group') or ''}  {r.get('files', '')} files"
                     + (f"  error: {r['error']}" if r.get("error") else "") for r in rows) or "no sync operations yet"
    return {"history": rows, "_text": text}


def register(sub) -> None:
    from engine.sync.targets import TARGETS

    g = sub.add_parser("sync", help="Hugging Face Hub and SSH hosts: upload, download, delete, archives, remote jobs")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    for target in TARGETS.values():
        target.register(s, type(g))

    p = s.add_parser("history", help="the sync operations done from this workspace")
    p.add_argument("--limit", type=int_in(1, 1_000_000), default=50)
    p.set_defaults(func=cmd_history)
