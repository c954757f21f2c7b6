"""`data` commands: one import command per source of the registry (engine/data/sources/registry.py:
files, SQL, Hub, bundled sample), list, show, validate, resample."""
from __future__ import annotations

from config.errors import BadInput
from engine.argtypes import int_in
from engine.data.sources.base import parse_mapping
from engine.data.sources.files import FORMATS
from engine.data.timeframes import parse_timeframe


def _import_text(res: dict) -> str:
    lines = []
    for r in res["imported"]:
        lines.append(f"{r['status']:>9}  {r['symbol']:<14} {r['timeframe'] or 'funding':<7} {r['rows']:>8} rows  "
                     f"{r['first']} -> {r['last']}  {r['id']}")
    for s in res["skipped"]:
        lines.append(f"  skipped  {s['path']}: {s['reason']}")
    if res["ignored"]:
        lines.append(f"  ignored  {len(res['ignored'])} non-data file(s): " + ", ".join(p.rsplit('/', 1)[-1] for p in res["ignored"]))
    return "\n".join(lines) or "nothing imported"


def _out(res) -> dict:
    d = res.to_dict()
    d["_text"] = _import_text(d)
    return d


def import_command(spec):
    """The handler of ``data <spec.command>``: the source's own ``run_import`` and the import report."""
    def cmd(args, ws):
        from engine.data.requests import source_request

        req = spec.from_env(source_request(spec).from_args(args))  # the request the Data page builds (+ its secrets)
        res = spec.load_run()(ws, req)
        d = _out(res)
        if not res.imported and spec.nothing_text:
            d["_text"] = spec.nothing_text
        return d

    return cmd


def cmd_list(args, ws):
    from engine.data.store import coverage

    cov = coverage(ws)
    rows = cov.to_dict("records")
    text = cov.drop(columns=["path", "columns"]).to_string(index=False) if len(cov) else "no data yet (try `data import-sample`)"
    return {"series": rows, "_text": text}


def cmd_show(args, ws):
    from engine.data.canonical import parse_utc
    from engine.data.store import load_candles, series_id
    from storage.artifacts import read_manifest

    tf = parse_timeframe(args.timeframe)
    start, end = parse_utc(args.start, "--start"), parse_utc(args.end, "--end")  # typed dates checked (and bounded) here
    m = read_manifest(ws, series_id(args.symbol, tf), "ohlcv")
    df = load_candles(ws, args.symbol, tf, start=start, end=end)
    tail = df.tail(args.rows)
    return {"id": m.id, "symbol": m.symbols[0], "timeframe": tf, "rows": len(df), "first": str(df.timestamp.iloc[0]) if len(df) else None,
            "last": str(df.timestamp.iloc[-1]) if len(df) else None, "gaps": m.extra.get("gaps", []),
            "sources": m.params.get("sources", []), "path": str(ws.artifact_dir("ohlcv", m.id) / "ohlcv.parquet"),
            "tail": tail.astype({"timestamp": str}).to_dict("records"),
            "_text": f"{m.id}: {len(df)} rows, {m.metrics.get('gaps', 0)} gaps\n{tail.to_string(index=False)}"}


def cmd_validate(args, ws):
    from engine.data.sources.files import inspect_file

    i = inspect_file(args.path, timeframe=args.timeframe, source_format=args.source_format, timezone=args.timezone,
                     mapping=parse_mapping(args.map), exported_at=getattr(args, "exported_at", None))
    p, rep = i.path, i.report()
    d = rep.to_dict()
    d["notes"] = list(i.notes)
    d["format"] = i.format
    d["kind"] = "funding" if i.funding else "candles"
    lines = [f"{p.name}: {rep.rows} rows, {rep.timeframe or '?'}, {rep.start} -> {rep.end}"]
    lines += [f"  {f.level:7} {f.check}: {f.message}" for f in rep.findings]
    lines += [f"  note    {n}" for n in d["notes"]]
    d["_text"] = "\n".join(lines)
    if not rep.ok:
        # print the report, then the contract's error line and exit 2
        import json
        import sys

        print(json.dumps({k: v for k, v in d.items() if k != "_text"}, default=str, indent=2) if args.json_report else d["_text"])
        sys.stdout.flush()
        raise BadInput(rep.error_text())
    return d


def cmd_resample(args, ws):
    from engine.data.requests import ResampleRequest
    from engine.data.resample import resample
    from engine.data.sources.base import Series
    from engine.data.store import load_candles, save_series, series_id
    from engine.data.validate import validate

    req = ResampleRequest.from_args(args)  # the same typed request the Data page builds
    f, t = parse_timeframe(req.from_tf), parse_timeframe(req.to_tf)
    df = load_candles(ws, req.symbol, f)
    out, dropped = resample(df, f, t, allow_incomplete=req.allow_incomplete)
    if len(out) == 0:
        raise BadInput(f"no complete {t} bucket in {req.symbol} {f}")
    label = f"{req.symbol} {f}->{t}"
    rep = validate(out, label, t)
    if not rep.ok:
        raise BadInput(rep.error_text())
    s = Series(symbol=req.symbol.upper(), timeframe=t, kind="candles", df=out, report=rep,
               notes=[f"resampled from {f}; {dropped} incomplete bucket(s) dropped"] if dropped else [f"resampled from {f}"],
               source={"type": "resample", "from": series_id(req.symbol, f)})
    r = save_series(ws, s, dry_run=req.dry_run)
    if not req.dry_run and r.status != "unchanged":
        _add_parent(ws, r.id, series_id(req.symbol, f))
    d = r.to_dict()
    d["incomplete_buckets_dropped"] = dropped
    return d


def _add_parent(ws, aid: str, parent: str) -> None:
    from storage.artifacts import read_manifest
    from storage.catalog import index_quietly

    m = read_manifest(ws, aid, "ohlcv")
    if parent not in m.parents:
        m.parents.append(parent)
        m.write(ws.artifact_dir("ohlcv", aid))
        index_quietly(ws)


def register(sub) -> None:
    g = sub.add_parser("data", help="candles: import, list, show, validate, resample")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))

    from engine.data.sources.registry import sources

    for spec in sources():  # one import command per registered source
        spec.add_to(s).set_defaults(func=import_command(spec))

    p = s.add_parser("list", help="coverage: symbol x timeframe, rows, range, gaps")
    p.set_defaults(func=cmd_list)

    p = s.add_parser("show", help="one series: range, gaps, sources, last rows")
    p.add_argument("symbol")
    p.add_argument("timeframe")
    p.add_argument("--rows", type=int_in(1, 10_000), default=5)
    p.add_argument("--start")
    p.add_argument("--end")
    p.set_defaults(func=cmd_show)

    p = s.add_parser("validate", help="validation report of a file (writes nothing)")
    p.add_argument("path")
    p.add_argument("--timeframe")
    p.add_argument("--source-format", default="auto", choices=FORMATS)
    p.add_argument("--timezone")
    p.add_argument("--map")
    p.add_argument("--exported-at", help="when the file was exported (UTC), to flag a last bar still open then; "
                   "default: the file's own statement, else its modification time")
    p.add_argument("--json-report", action="store_true", help=__import__("argparse").SUPPRESS)
    p.set_defaults(func=cmd_validate)

    p = s.add_parser("resample", help="exact resampling to a coarser timeframe (complete buckets only)")
    p.add_argument("symbol")
    p.add_argument("--from", dest="from_tf", required=True)
    p.add_argument("--to", dest="to_tf", required=True)
    p.add_argument("--allow-incomplete", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_resample)
