"""`catalog` commands: refresh, rebuild, query, show, lineage."""
from __future__ import annotations

import json
import sys

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


def cmd_query(args, ws):
    cat = Catalog(ws)
    _refresh_quietly(cat)
    df = cat.query(kind=args.kind, symbol=args.symbol.upper() if args.symbol else None, timeframe=args.timeframe,
                   origin=args.origin, since=args.since, until=args.until, text=args.text, metric=args.metric,
                   metric_min=args.min, metric_max=args.max, parent=args.parent, limit=args.limit)
    rows = df.assign(metrics=df.metrics.map(json.loads), params=df.params.map(json.loads)).to_dict("records") if len(df) else []
    for r in rows:
        r["symbols"] = list(r["symbols"]) if r["symbols"] is not None else []
    text = df[["id", "kind", "timeframe", "symbols", "created_at", "origin"]].to_string(index=False) if len(df) else "no artifacts match"
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
    lin = cat.lineage(args.id)
    out = {k: v.assign(symbols=v.symbols.map(lambda s: list(s) if s is not None else [])).to_dict("records") for k, v in lin.items()}
    text = f"{args.id}\n  made from:\n" + "\n".join(f"    {'  ' * (r['depth'] - 1)}{r['id']} ({r['kind']})" for r in out["ancestors"]) + \
        "\n  used by:\n" + "\n".join(f"    {'  ' * (r['depth'] - 1)}{r['id']} ({r['kind']})" for r in out["descendants"])
    out["_text"] = text
    return out


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
    p.add_argument("--text")
    p.add_argument("--metric")
    p.add_argument("--min", type=float)
    p.add_argument("--max", type=float)
    p.add_argument("--parent")
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=cmd_query)
    p = s.add_parser("show", help="one artifact's manifest")
    p.add_argument("id")
    p.set_defaults(func=cmd_show)
    p = s.add_parser("lineage", help="what an artifact was made from and what was made from it")
    p.add_argument("id")
    p.set_defaults(func=cmd_lineage)
