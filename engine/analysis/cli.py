"""Commands of the analysis area.

* ``analyze FEATURESET_ID --target TARGET [--train-end DATE] [--val-end DATE] [thresholds] [--json]``
  computes a feature-analysis report (prints the report id and its folder).
* ``analysis list`` / ``analysis show REPORT_ID`` / ``analysis whitelist REPORT_ID ...`` browse
  reports and save an edited whitelist as a new report.
"""
from __future__ import annotations

from pathlib import Path

from config.errors import BadInput
from engine.analysis.options import AnalysisOptions
from engine.argtypes import float_in, int_in


def cmd_analyze(args, ws):
    from engine.analysis.pipeline import analyze
    from engine.analysis.requests import AnalyzeRequest
    from engine.progress import progress

    req = AnalyzeRequest.from_args(args)  # the same typed request the Analysis page builds
    return analyze(ws, req.featureset_id, req.target, train_end=req.train_end, val_end=req.val_end,
                   options=req.options(), name=req.name or "", progress=progress)


def cmd_list(args, ws):
    from engine.analysis.report import list_reports

    df = list_reports(ws)
    rows = df.assign(symbols=df["symbols"].map(lambda s: list(s) if s is not None else []),
                     created_at=df["created_at"].astype(str)).to_dict("records")
    text = df[["id", "target", "featureset_id", "origin", "created_at"]].to_string(index=False) if len(df) else "no reports"
    return {"count": len(rows), "reports": rows, "_text": text}


def cmd_show(args, ws):
    from engine.analysis.report import open_report
    from storage.artifacts import artifact_path

    v = open_report(ws, args.report_id)
    path = artifact_path(ws, args.report_id, "analysis")
    top = v.importance.head(args.top)[["rank", "feature", "combined_score", "mutual_info", "f_score"]]
    excl = v.exclusions.groupby("reason")["feature"].apply(list).to_dict() if len(v.exclusions) else {}
    text = (f"report {args.report_id} ({v.meta.get('origin')})\n  target {v.meta.get('target')} on {v.meta.get('featureset_id')}"
            f"\n  folder {path}\n  {len(v.features)} features, {len(v.included)} included\n"
            + top.to_string(index=False))
    return {"report_id": args.report_id, "path": str(path), "meta": v.meta, "included": v.included, "excluded": excl,
            "top": top.to_dict("records"), "_text": text}


def cmd_whitelist(args, ws):
    from engine.analysis.exclusions import parse_feature_list
    from engine.analysis.report import open_report, save_whitelist

    v = open_report(ws, args.report_id)
    if args.file:
        p = Path(args.file)
        if not p.is_file():
            raise BadInput(f"whitelist file {p} does not exist")
        feats = parse_feature_list(p.read_text(encoding="utf-8"), source=str(p))
    else:
        feats = list(v.included)
    add = [s.strip() for s in (args.include or "").split(",") if s.strip()]
    drop = {s.strip() for s in (args.exclude or "").split(",") if s.strip()}
    if not (args.file or add or drop):
        raise BadInput("nothing to change", hint="give --file, --include or --exclude")
    unknown = sorted(drop - set(v.features))
    if unknown:
        raise BadInput(f"not features of report {args.report_id}: {', '.join(unknown[:8])}")
    feats = [f for f in feats + [a for a in add if a not in feats] if f not in drop]
    new = save_whitelist(ws, args.report_id, feats)
    return {"report_id": new, "whitelist_of": args.report_id, "included": feats,
            "_text": f"saved report {new} with {len(feats)} included features (edited from {args.report_id})"}


def register(sub) -> None:
    p = sub.add_parser("analyze", help="feature-analysis report of a feature set for one target (train split only)")
    p.add_argument("featureset_id", metavar="FEATURESET_ID")
    p.add_argument("--target", required=True, help="one of the feature set's targets, e.g. direction_4h")
    p.add_argument("--train-end", help="last train date (default: 70%% of the bars); the purge gap follows it")
    p.add_argument("--val-end", help="last validation date (default: half of what follows the train split)")
    p.add_argument("--corr-threshold", type=float_in(None, None), default=AnalysisOptions.corr_threshold, help="|r| above which a pair is highly correlated")
    p.add_argument("--missing-threshold", type=float_in(None, None), default=AnalysisOptions.missing_threshold_pct, help="exclude features missing in more than this %% of train rows")
    p.add_argument("--low-importance-pct", type=float_in(None, None), default=AnalysisOptions.low_importance_pct, help="exclude the bottom %% by combined score (0 = off)")
    p.add_argument("--mi-max-rows", type=int_in(None, 100_000_000), default=AnalysisOptions.mi_max_rows,
                   help="mutual information sample cap in train rows (default %(default)s)")
    p.add_argument("--min-class-rows", type=int_in(None, 100_000_000), default=AnalysisOptions.min_class_rows, help="train rows needed per class of a class target")
    p.add_argument("--psi-threshold", type=float_in(None, None), default=AnalysisOptions.psi_threshold, help="drift flag: PSI above this")
    p.add_argument("--ks-threshold", type=float_in(None, None), default=AnalysisOptions.ks_threshold, help="drift flag: KS statistic above this")
    p.add_argument("--name", help="a name for the report")
    p.set_defaults(func=cmd_analyze)

    g = sub.add_parser("analysis", help="browse feature-analysis reports, edit a whitelist")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    s.add_parser("list", help="reports in the catalog (local and downloaded)").set_defaults(func=cmd_list)
    p = s.add_parser("show", help="one report's summary, top features and exclusions")
    p.add_argument("report_id", metavar="REPORT_ID")
    p.add_argument("--top", type=int_in(1, 100_000), default=20)
    p.set_defaults(func=cmd_show)
    p = s.add_parser("whitelist", help="save a report copy with an edited included_features.txt")
    p.add_argument("report_id", metavar="REPORT_ID")
    p.add_argument("--file", help="a whitelist file (one feature per line, # comments)")
    p.add_argument("--include", help="features to add, comma separated")
    p.add_argument("--exclude", help="features to remove, comma separated")
    p.set_defaults(func=cmd_whitelist)
