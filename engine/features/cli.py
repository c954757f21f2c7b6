"""`features` commands: build (a background job on the page), audit, list."""
from __future__ import annotations

from config.errors import BadInput
from engine.argtypes import csv_list, int_in
from engine.cli_base import add_symbols, add_timeframe


def cmd_build(args, ws):
    from engine.features.pipeline import build_feature_set
    from engine.features.requests import FeaturesBuildRequest
    from engine.progress import progress

    req = FeaturesBuildRequest.from_args(args)  # the same typed request the Features page builds
    if req.families is not None and not req.families:
        raise BadInput("--families is empty", hint="leave it out for all families, or list some: returns,trend,...")
    return build_feature_set(ws, req.symbols, req.timeframe, families=req.families, start=req.start, end=req.end,
                             config_path=req.config, use_cache=not req.no_cache, audit=not req.no_audit,
                             name=req.name or "", progress=progress)


def cmd_audit(args, ws):
    from engine.features.pipeline import audit_plan, plan_build
    from engine.features.store import load_feature_set
    from engine.progress import progress

    fs = load_feature_set(ws, args.featureset_id)
    p = fs.manifest.params
    plan = plan_build(ws, p["symbols"], p["timeframe"], families=p["families"], start=p.get("start"), end=p.get("end"),
                      config_path=args.config or p.get("config"))
    stored = set(fs.feature_names)
    plan.features = [f for f in plan.features if f.name in stored]
    try:
        cuts = tuple(float(x) for x in csv_list(args.cuts)) if args.cuts else None
    except ValueError:
        cuts = (-1.0,)
    if cuts is not None and (not cuts or not all(0.05 <= c <= 0.99 for c in cuts)):
        raise BadInput(f"bad --cuts {args.cuts!r}", hint="fractions of the window between 0.05 and 0.99, e.g. 0.5,0.75,0.95")
    res = audit_plan(plan, window=args.window, cut_fractions=cuts, progress=progress)
    changed = sorted(set(plan.data_hashes.items()) ^ set((fs.manifest.extra.get("data_sha256") or {}).items()))
    doc = {"featureset_id": fs.id, **res.summary(), "stored_leaking": fs.leaking,
           "data_changed_since_build": bool(changed),
           "worst": sorted(((n, s["max_abs_diff"]) for n, s in res.features.items() if s["differing_values"]),
                           key=lambda x: -x[1])[:20]}
    doc["_text"] = (f"{fs.id}: audited {len(res.features)} features on {res.window_bars} bars at "
                    f"{len(res.cut_points)} cut points: "
                    + ("no leaking feature" if res.passed else f"{len(res.leaking)} leaking: {', '.join(res.leaking)}")
                    + ("\n  note: the candles changed since the build" if changed else ""))
    return doc


def cmd_list(args, ws):
    if args.registry:
        from engine.features.registry import registry

        reg = registry()
        fams = reg.check_families(csv_list(args.family)) if args.family else list(reg.families)
        rows = [f.to_dict() for f in reg.features.values() if f.family in fams]
        text = "\n".join(f"{r['name']:<26} {r['family']:<15} {r['lookback']:>5}  {' '.join(r['inputs']):<32} {r['description']}"
                         for r in rows)
        return {"features": rows, "count": len(rows), "families": fams, "_text": text + f"\n{len(rows)} features"}
    from engine.features.store import list_feature_sets

    sets = list_feature_sets(ws)
    rows = [{"id": f.id, "symbols": f.symbols, "timeframe": f.timeframe, "rows": f.manifest.metrics.get("rows"),
             "n_features": len(f.feature_names), "n_leaking": len(f.leaking),
             "audit_passed": f.manifest.extra.get("audit", {}).get("passed"), "start": f.manifest.start,
             "end": f.manifest.end, "created_at": f.manifest.created_at, "path": str(f.path)} for f in sets]
    text = "\n".join(f"{r['id']}  {','.join(r['symbols'])} {r['timeframe']}  {r['rows']} rows  {r['n_features']} features  "
                     f"leaking {r['n_leaking']}" for r in rows) or "no feature sets yet (try `features build`)"
    return {"feature_sets": rows, "_text": text}


def register(sub) -> None:
    g = sub.add_parser("features", help="feature sets: build, audit, list")
    s = g.add_subparsers(dest="command", metavar="COMMAND")

    p = s.add_parser("build", help="build features + 24 targets + ZigZag labels for symbols of one timeframe")
    add_symbols(p, required=True, help="comma separated, e.g. BTCUSDT,ETHUSDT")
    add_timeframe(p, required=True)
    p.add_argument("--families", help="comma separated (default: all): returns,trend,momentum,volatility,volume,"
                                      "microstructure,fractal,time,cross_asset,funding")
    p.add_argument("--start", help="first bar (UTC date/time); default: the first stored bar")
    p.add_argument("--end", help="last bar (UTC date/time); default: the last stored bar")
    p.add_argument("--config", help="features config (default config/features.yaml)")
    p.add_argument("--name")
    p.add_argument("--no-cache", action="store_true", help="rebuild even when the same set is stored")
    p.add_argument("--no-audit", action="store_true", help="skip the leakage audit (the manifest says so)")
    p.set_defaults(func=cmd_build)

    p = s.add_parser("audit", help="re-run the leakage audit of a feature set (writes nothing)")
    p.add_argument("featureset_id", metavar="FEATURESET_ID")
    p.add_argument("--window", type=int_in(200, 10_000_000), help="bars per symbol to audit (default from the config)")
    p.add_argument("--cuts", help="cut points as fractions of the window, e.g. 0.3,0.6,0.9")
    p.add_argument("--config")
    p.set_defaults(func=cmd_audit)

    p = s.add_parser("list", help="feature sets in the workspace (or --registry: the feature definitions)")
    p.add_argument("--registry", action="store_true")
    p.add_argument("--family", help="with --registry: only these families")
    p.set_defaults(func=cmd_list)
