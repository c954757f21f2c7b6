"""``analyze FEATURESET_ID --target TARGET``: load the feature set, split it in time (the one
splitter, purge gap = the set's longest target horizon), validate the request, compute the
report on the TRAIN rows and write it as an ``analysis`` artifact (lineage: the feature set).

Everything that can be wrong with the request (unknown feature set or target, a target the
set lacks, bad dates, too few rows or rows per class) is found before the artifact is
created, so a refused request writes nothing."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from config.errors import BadInput
from engine.analysis.core import CLASS_TYPES, TARGET_TYPES, AnalysisInput, AnalysisResult, run_analysis
from engine.analysis.exclusions import write_excluded, write_included
from engine.analysis.html import build_html
from engine.analysis.options import AnalysisOptions
from engine.analysis.view import EXCLUDED_TXT, FILES, HTML, INCLUDED_TXT, PLOTS, ReportView, report_meta
from engine.data.canonical import parse_utc
from engine.splits import SplitPlan, chronological_split
from storage.artifacts import artifact_path, create_artifact, describe
from storage.workspace import Workspace, new_id

Progress = Callable[[float, str], None]


def _class_names(meta: dict[str, Any]) -> dict[int, str] | None:
    classes = meta.get("classes")
    if isinstance(classes, dict):
        return {int(k): str(v) for k, v in classes.items()}
    if isinstance(classes, (list, tuple)):
        return {i: str(c) for i, c in enumerate(classes)}
    return None


def _feature_meta(fs) -> dict[str, dict]:
    """Lookback, inputs and registry position of each feature (to keep the simpler, more basic
    one of a correlated pair; the registry declares the basic indicators of a family first)."""
    try:
        from engine.features.registry import registry

        reg = registry().features
    except Exception:  # noqa: BLE001 - without the registry the names decide (see exclusions.complexity)
        reg = {}
    return {n: {**(reg[n].to_dict() if n in reg else {}), "position": i} for i, n in enumerate(fs.feature_names)}


def prepare(ws: Workspace, featureset_id: str, target: str, *, train_end=None,
            val_end=None) -> tuple[Any, AnalysisInput, SplitPlan]:
    """Load and check everything the report needs; raises a KlineLabError on a bad request."""
    from engine.features.store import load_feature_set

    fs = load_feature_set(ws, featureset_id)
    if target not in fs.target_names:
        known = ", ".join(fs.target_names) or "none"
        raise BadInput(f"feature set {fs.id} has no target {target!r} (its targets: {known})",
                       hint="pick one of its targets, or build a feature set with that target")
    tmeta = dict(fs.target_meta.get(target) or {})
    ttype = str(tmeta.get("type", "regression"))
    if ttype not in TARGET_TYPES:
        raise BadInput(f"target {target} has type {ttype!r} in the feature set's manifest", hint=f"expected {TARGET_TYPES}")
    names = list(fs.feature_names)
    if not names:
        raise BadInput(f"feature set {fs.id} has no features")
    feats = fs.features()
    tgt = fs.targets(columns=[target])
    if len(feats) != len(tgt) or not (feats["timestamp"].equals(tgt["timestamp"]) and feats["symbol"].equals(tgt["symbol"])):
        raise BadInput(f"feature set {fs.id}: features.parquet and targets.parquet do not hold the same rows in the same order",
                       hint="build the feature set again")
    missing = [n for n in names if n not in feats.columns]
    if missing:
        raise BadInput(f"feature set {fs.id}: columns {', '.join(missing[:5])} listed in the manifest are not in features.parquet")
    plan = chronological_split(feats["timestamp"], fs.timeframe, purge_bars=int(fs.max_horizon_bars),
                               train_end=parse_utc(train_end, "train end"), val_end=parse_utc(val_end, "validation end"))
    inp = AnalysisInput(features=feats[names], target=tgt[target].to_numpy(dtype=float, na_value=np.nan),
                        split=plan.assign(feats["timestamp"]), target_name=target, target_type=ttype,
                        class_names=_class_names(tmeta) if ttype in CLASS_TYPES else None,
                        leaking=list(fs.leaking or []), feature_meta=_feature_meta(fs))
    return fs, inp, plan


def write_report(d, v: ReportView, r: AnalysisResult, say: Progress) -> None:
    """All files of a report into the artifact draft ``d``."""
    r.statistics.to_csv(d.path(FILES["statistics"]), index=False)
    r.importance.to_csv(d.path(FILES["importance"]), index=False)
    r.outliers.to_csv(d.path(FILES["outliers"]), index=False)
    r.by_class.to_csv(d.path(FILES["by_class"]), index=False)
    r.pairs.to_csv(d.path(r.options.pairs_file), index=False)
    r.drift.to_csv(d.path(FILES["drift"]), index=False)
    r.distributions.to_csv(d.path(FILES["distributions"]), index=False)
    v.exclusions.to_csv(d.path(FILES["exclusions"]), index=False)
    v.corr.to_csv(d.path(FILES["corr"]), float_format="%.6f")
    o = r.options
    write_excluded(d.path(EXCLUDED_TXT), r.exclusions, report_id=d.id, target=r.target, corr=o.corr_threshold,
                   missing=o.missing_threshold_pct, low=o.low_importance_pct)
    write_included(d.path(INCLUDED_TXT), r.exclusions.included, report_id=d.id, target=r.target)
    say(0.88, "HTML report")
    d.path(HTML).write_text(build_html(v), encoding="utf-8")
    say(0.92, "static images")
    from engine.analysis.static_plots import write_plots

    write_plots(v, d.path(PLOTS))


def analyze(ws: Workspace, featureset_id: str, target: str, *, train_end=None, val_end=None,
            options: AnalysisOptions | None = None, name: str = "", progress: Progress | None = None) -> dict[str, Any]:
    opts = options or AnalysisOptions()
    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    say(0.0, f"loading feature set {featureset_id}")
    fs, inp, plan = prepare(ws, featureset_id, target, train_end=train_end, val_end=val_end)
    result = run_analysis(inp, opts, progress=lambda f, m: say(0.02 + 0.83 * f, m))
    summary = result.summary()
    rid = new_id("analysis", target)
    default = describe(f"{target} report", fs.symbols, fs.timeframe, fs.manifest.start, fs.manifest.end)
    with create_artifact(ws, "analysis", artifact_id=rid, name=name or default, symbols=fs.symbols,
                         timeframe=fs.timeframe, parents=[fs.id],
                         params={"featureset_id": fs.id, "target": target, "train_end": _iso(train_end),
                                 "val_end": _iso(val_end), "options": opts.to_dict()}) as d:
        m = d.manifest
        m.start, m.end = plan.train_start.isoformat(), plan.test_end.isoformat()
        m.metrics = {**summary, "top_combined_score": float(result.importance["combined_score"].iloc[0])}
        m.extra = {"split": plan.to_dict(), "target": target, "target_type": result.target_type,
                   "class_names": {str(k): v for k, v in result.class_names.items()},
                   "class_counts": result.class_counts, "featureset_id": fs.id, "options": opts.to_dict(),
                   "top_features": result.importance["feature"].head(20).tolist(),
                   "excluded": {k: len(v) for k, v in result.exclusions.reasons.items()}}
        view = ReportView.from_result(result, report_meta(m))
        write_report(d, view, result, say)
    path = artifact_path(ws, rid, "analysis")
    secs = time.perf_counter() - t0
    say(1.0, f"report {rid} written in {secs:.1f} s")
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    text = (f"report {rid}\n  folder {path}\n  target {target} ({result.target_type}); train {plan.train_start} -> "
            f"{plan.train_end}\n  {summary['n_features']} features: {summary['n_included']} included, "
            f"{summary['n_excluded']} excluded ({', '.join(f'{k} {len(v)}' for k, v in result.exclusions.reasons.items() if v)})"
            f"\n  {summary['n_correlated_pairs']} correlated pairs, {summary['n_drifted']} drifted features\n  open {path / HTML}")
    return {"report_id": rid, "path": str(path), "html": str(path / HTML), "featureset_id": fs.id, "target": target,
            "split": plan.to_dict(), "summary": summary, "excluded": result.exclusions.reasons,
            "files": files, "seconds": round(secs, 2), "_text": text}


def _iso(value) -> str | None:
    t = parse_utc(value, "date")
    return t.isoformat() if t is not None else None
