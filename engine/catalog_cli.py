"""`catalog` commands: refresh, rebuild, query, show, lineage; rename, tag, note, delete (what a user
changes on an artifact: storage.artifacts.edit_artifact / delete_artifact)."""
from __future__ import annotations

import json
import sys

from engine.argtypes import float_in, int_in
from storage.catalog import Catalog


def _warn_skipped(r: dict) -> None:
    if r.get("skipped"):
        print(f"warning: {len(r['skipped'])} manifest(s) skipped (not indexed): "
              f"{r['skipped'][0]['path']}: {r['skipped'][0]['reason']}"
              + (" ..." if len(r["skipped"]) > 1 else ""), file=sys.stderr)


def cmd_refresh(args, ws):
    r = Catalog(ws).refresh().to_dict()
    _warn_skipped(r)
    r["_text"] = f"scanned {r['scanned']}, added {r['added']}, updated {r['updated']}, removed {r['removed']} in {r['seconds']} s" + \
        "".join(f"\n  problem: {p}" for p in r["problems"])
    return r


def cmd_rebuild(args, ws):
    r = Catalog(ws).rebuild().to_dict()
    _warn_skipped(r)
    r["_text"] = f"rebuilt from {r['scanned']} manifests in {r['seconds']} s" + "".join(f"\n  problem: {p}" for p in r["problems"])
    return r


def _refresh_quietly(cat: Catalog) -> None:
    from config.errors import Busy

    try:
        cat.refresh(timeout=1.0)
    except Busy:
        pass  # the query falls back to the manifests


def _when(value: str | None, option: str) -> str | None:
    """A --since / --until value must be a date or time (the catalog would read garbage as 'no bound')."""
    if value is None:
        return None
    import pandas as pd

    from config.bounded import short_repr
    from config.errors import BadInput

    text = str(value).strip()
    try:
        if len(text) > 64:
            raise ValueError
        t = pd.Timestamp(text)
        if pd.isna(t):
            raise ValueError
    except (ValueError, TypeError, OverflowError):
        raise BadInput(f"{option} {short_repr(text)} is not a date or time",
                       hint="use e.g. 2026-01-31 or 2026-01-31T12:00") from None
    return text


def cmd_query(args, ws):
    from storage.workspace import check_kind

    if args.kind:
        check_kind(args.kind)
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    cat = Catalog(ws)
    _refresh_quietly(cat)
    df = cat.query(kind=args.kind, symbol=args.symbol.upper() if args.symbol else None, timeframe=args.timeframe,
                   origin=args.origin, since=since, until=until, text=args.text, name=args.name, tag=args.tag,
                   metric=args.metric,
                   metric_min=args.min, metric_max=args.max, parent=args.parent, limit=args.limit)
    rows = df.assign(metrics=df.metrics.map(json.loads), params=df.params.map(json.loads)).to_dict("records") if len(df) else []
    for r in rows:
        r["symbols"] = list(r["symbols"]) if r["symbols"] is not None else []
    for r in rows:
        r["tags"] = list(r["tags"]) if r.get("tags") is not None else []
    text = df[["id", "kind", "name", "timeframe", "symbols", "created_at", "origin"]].to_string(index=False) if len(df) else "no artifacts match"
    if cat.last_read_fallback:
        text += "\n(note: the catalog was busy; this listing was read from the manifests)"
    return {"count": len(rows), "artifacts": rows, "_text": text}


def cmd_show(args, ws):
    cat = Catalog(ws)
    _refresh_quietly(cat)
    m = cat.get(args.id)
    return {"manifest": m, "_text": json.dumps(m, indent=2, default=str)}


def cmd_lineage(args, ws):
    cat = Catalog(ws)
    _refresh_quietly(cat)
    cat.get(args.id)  # an unknown id is NotFound (exit 2), not an empty lineage
    lin = cat.lineage(args.id)
    out = {k: v.assign(symbols=v.symbols.map(lambda s: list(s) if s is not None else [])).to_dict("records") for k, v in lin.items()}
    text = f"{args.id}\n  made from:\n" + "\n".join(f"    {'  ' * (r['depth'] - 1)}{r['id']} ({r['kind']})" for r in out["ancestors"]) + \
        "\n  used by:\n" + "\n".join(f"    {'  ' * (r['depth'] - 1)}{r['id']} ({r['kind']})" for r in out["descendants"])
    out["_text"] = text
    return out


def _edited(m, what: str) -> dict:
    return {"id": m.id, "kind": m.kind, "name": m.name, "tags": list(m.tags), "note": m.note, "edited_at": m.edited_at,
            "_text": f"{m.id}: {what}"}


def cmd_rename(args, ws):
    from storage.artifacts import edit_artifact

    m = edit_artifact(ws, args.id, name=args.name)
    return _edited(m, f"renamed to {m.name!r}")


def cmd_tag(args, ws):
    from config.errors import BadInput
    from storage.artifacts import edit_artifact

    if not args.add and not args.remove:
        raise BadInput("nothing to change", hint="give --add TAG and / or --remove TAG")
    m = edit_artifact(ws, args.id, add_tags=args.add or (), remove_tags=args.remove or ())
    return _edited(m, "tags: " + (", ".join(m.tags) or "(none)"))


def cmd_note(args, ws):
    from storage.artifacts import edit_artifact

    m = edit_artifact(ws, args.id, note=args.text)
    return _edited(m, "note " + ("saved" if m.note else "cleared"))


def cmd_delete(args, ws):
    from storage.artifacts import delete_artifact

    ids = delete_artifact(ws, args.id, with_descendants=args.with_descendants)
    return {"deleted": ids, "count": len(ids), "_text": "deleted " + ", ".join(ids)}


def register(sub) -> None:
    g = sub.add_parser("catalog", help="the DuckDB index of all artifacts")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    s.add_parser("refresh", help="index new / changed manifests").set_defaults(func=cmd_refresh)
    s.add_parser("rebuild", help="recreate the catalog from the manifests").set_defaults(func=cmd_rebuild)
    p = s.add_parser("query", help="filtered listing")
    p.add_argument("--kind")
    p.add_argument("--symbol")
    p.add_argument("--timeframe")
    p.add_argument("--origin")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--text", help="in the name, id or note")
    p.add_argument("--name", help="in the name (case-insensitive)")
    p.add_argument("--tag", action="append", help="has this tag (repeat: every one of them)")
    p.add_argument("--metric")
    p.add_argument("--min", type=float_in(None, None))
    p.add_argument("--max", type=float_in(None, None))
    p.add_argument("--parent")
    p.add_argument("--limit", type=int_in(1, 1_000_000), default=1000)
    p.set_defaults(func=cmd_query)
    p = s.add_parser("show", help="one artifact's manifest")
    p.add_argument("id", metavar="ARTIFACT_ID")
    p.set_defaults(func=cmd_show)
    p = s.add_parser("lineage", help="what an artifact was made from and what was made from it")
    p.add_argument("id", metavar="ARTIFACT_ID")
    p.set_defaults(func=cmd_lineage)
    p = s.add_parser("rename", help="give an artifact a new name")
    p.add_argument("id", metavar="ARTIFACT_ID")
    p.add_argument("name")
    p.set_defaults(func=cmd_rename)
    p = s.add_parser("tag", help="add / remove tags of an artifact")
    p.add_argument("id", metavar="ARTIFACT_ID")
    p.add_argument("--add", action="append", metavar="TAG", help="one tag (repeat for more)")
    p.add_argument("--remove", action="append", metavar="TAG", help="one tag (repeat for more)")
    p.set_defaults(func=cmd_tag)
    p = s.add_parser("note", help="set an artifact's free-text note ('' clears it)")
    p.add_argument("id", metavar="ARTIFACT_ID")
    p.add_argument("text")
    p.set_defaults(func=cmd_note)
    p = s.add_parser("delete", help="delete an artifact (refused when others were made from it)")
    p.add_argument("id", metavar="ARTIFACT_ID")
    p.add_argument("--with-descendants", action="store_true",
                   help="also delete every artifact made from it (all or nothing)")
    p.set_defaults(func=cmd_delete)
