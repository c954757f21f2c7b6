"""What the CLI, the batch and the page call: train a Stage 1 for a pair, train a Stage 2 for a
pair (with the pair's latest Stage 1 unless one is named), and write the artifacts."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.data.names import check_symbol
from engine.data.timeframes import parse_timeframe
from engine.splits import SplitPlan, chronological_split
from engine.stage2 import evidence as ev
from engine.stage2 import stage2 as s2
from engine.stage2.data import PairData, latest_featureset, latest_stage1, load_pair
from engine.stage2.progress import progress
from engine.stage2.stage1 import window_ends
from engine.stage2.stage1_io import load_stage1, stage1_folder
from engine.stage2.stage1_train import PROBA_FILE, Stage1TrainConfig, save_stage1, train_stage1
from storage.artifacts import create_artifact, read_manifest
from storage.manifest import write_json_atomic
from storage.workspace import Workspace


def train_stage1_pair(ws: Workspace, symbol: str, timeframe: str, cfg: Stage1TrainConfig, *,
                      featureset_id: str | None = None, name: str = "") -> dict[str, Any]:
    symbol, timeframe = check_symbol(symbol), parse_timeframe(timeframe)
    cfg.check()
    fsid = featureset_id or latest_featureset(ws, symbol, timeframe)
    progress(0.02, f"loading {symbol} {timeframe} from feature set {fsid}")
    pair = load_pair(ws, fsid, symbol)
    if pair.timeframe != timeframe:
        raise BadInput(f"feature set {fsid} is {pair.timeframe}, not {timeframe}")
    res = train_stage1(pair, cfg)
    progress(0.95, "writing the stage1 artifact")
    return save_stage1(ws, pair, cfg, res, name=name)


def _stage1_featureset(man) -> str | None:
    """The feature set a Stage 1 was trained on: its parent when trained here, or what the
    params.json of a re-imported KlineLab model says."""
    if man.params.get("source") == "trained":
        return man.parents[0] if man.parents else None
    return man.extra.get("featureset_id")


def stage1_probabilities(ws: Workspace, stage1_id: str, pair: PairData) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Stage 1 class probabilities of every bar of ``pair``: reused from the Stage 1 artifact
    when it was trained on this very feature set (same rows), otherwise computed with the model
    (params.json normalisation, windows that never cross gaps).

    On the train split the OUT-OF-FOLD probabilities are used when the artifact has them (a Stage 1
    trained here): ``how["oof"]`` True and ``how["oof_mask"]`` marks those rows.  Otherwise
    ``how["oof"]`` is False and ``how["oof_note"]`` says why (imported: trained elsewhere, so
    out-of-fold probabilities are impossible)."""
    _folder, man = stage1_folder(ws, stage1_id)
    classes = man.extra.get("class_names")
    stored = ws.artifact_dir("stage1", stage1_id) / PROBA_FILE
    if classes and stored.is_file() and _stage1_featureset(man) == pair.featureset_id:
        df = pd.read_parquet(stored)
        df = df[df["symbol"] == pair.symbol] if "symbol" in df.columns else df
        if len(df) == pair.n and (df["timestamp"].to_numpy() == pair.frame["timestamp"].to_numpy()).all():
            p = np.array(df[[f"p_{c}" for c in classes]].to_numpy("float64"))  # a writable copy
            oof_cols = [f"oof_p_{c}" for c in classes]
            if set(oof_cols) <= set(df.columns):
                train = (df["split"] == "train").to_numpy()
                p[train] = df.loc[train, oof_cols].to_numpy("float64")  # NaN in the first block: never a signal
                return p, list(classes), {"reused": True, "oof": True, "oof_mask": train & np.isfinite(p).all(axis=1),
                                          "oof_info": man.extra.get("oof")}
            why = ((man.extra.get("oof") or {}).get("error")
                   or "it was trained before out-of-fold probabilities were stored; retrain Stage 1")
            return p, list(classes), {"reused": True, "oof": False, "oof_note":
                                      f"Stage 1 ({stage1_id}) has no out-of-fold probabilities ({why}): Stage 2 trains "
                                      "on its in-sample probabilities of the train split"}
    progress(0.1, f"loading Stage 1 model {stage1_id}")
    model, man = load_stage1(ws, stage1_id)
    spec = model.spec
    X = pair.matrix(spec.feature_names)
    valid = window_ends(pair.ts_ns, pair.step_ns, np.isfinite(X).all(axis=1), spec.sequence_length)
    progress(0.15, f"Stage 1 on {int(valid.sum())} windows of {spec.sequence_length} bars")
    proba = model.predict_proba(X, valid, progress_cb=lambda f: progress(0.15 + 0.35 * f, "Stage 1 predictions"))
    source = man.params.get("source")
    if source == "trained":
        note = (f"Stage 1 ({stage1_id}) was trained on feature set {_stage1_featureset(man)}, not {pair.featureset_id}: "
                "its out-of-fold probabilities do not cover these rows, so Stage 2 trains on probabilities that may be in-sample")
    else:
        note = (f"Stage 1 ({stage1_id}) was imported ({source or 'unknown source'}, trained elsewhere): out-of-fold "
                "probabilities are impossible, so Stage 2 trains on Stage 1 outputs that may be in-sample on its train split")
    return proba.astype("float64"), list(spec.class_names), {"reused": False, "notes": spec.notes, "oof": False,
                                                             "oof_note": note}


def _plan(pair: PairData, s1_man) -> tuple[SplitPlan, list[str]]:
    """Stage 1's own plan when it was trained on this feature set; a fresh one otherwise."""
    warnings: list[str] = []
    d = s1_man.extra.get("split")
    if d and _stage1_featureset(s1_man) == pair.featureset_id:
        return SplitPlan.from_dict(d), warnings
    labelled = pair.labelled
    if labelled.sum() < 30:
        raise BadInput(f"{pair.symbol} {pair.timeframe}: only {int(labelled.sum())} labelled bars")
    plan = chronological_split(pair.frame["timestamp"][labelled], pair.timeframe, purge_bars=pair.purge_bars)
    if d:
        s1_plan = SplitPlan.from_dict(d)
        if s1_plan.overlaps_training(plan.test_start, plan.test_end):
            warnings.append(f"the test period {plan.test_start:%Y-%m-%d} -> {plan.test_end:%Y-%m-%d} overlaps bars "
                            f"Stage 1 ({s1_man.id}) was trained or validated on: its probabilities there are in-sample")
    else:
        warnings.append(f"Stage 1 ({s1_man.id}) does not record the bars it was trained on (the seed's params.json "
                        "does not say): its probabilities in the test period may be in-sample")
    return plan, warnings


def train_stage2_pair(ws: Workspace, symbol: str, timeframe: str, cfg: s2.Stage2Config, *,
                      featureset_id: str | None = None, stage1_id: str | None = None, name: str = "") -> dict[str, Any]:
    symbol, timeframe = check_symbol(symbol), parse_timeframe(timeframe)
    cfg.check()
    s1 = stage1_id or latest_stage1(ws, symbol, timeframe)
    s1_man = read_manifest(ws, s1, "stage1")
    if symbol not in s1_man.symbols or s1_man.timeframe != timeframe:
        raise BadInput(f"Stage 1 model {s1} is for {', '.join(s1_man.symbols)} {s1_man.timeframe}, not {symbol} {timeframe}",
                       hint="pick a Stage 1 of this pair, or import one")
    fsid = featureset_id or _stage1_featureset(s1_man) or latest_featureset(ws, symbol, timeframe)
    progress(0.02, f"loading {symbol} {timeframe} from feature set {fsid}")
    pair = load_pair(ws, fsid, symbol)
    if pair.timeframe != timeframe:
        raise BadInput(f"feature set {fsid} is {pair.timeframe}, not {timeframe}")
    plan, warnings = _plan(pair, s1_man)
    proba, classes, how = stage1_probabilities(ws, s1, pair)
    if not how["oof"]:
        warnings.append(how["oof_note"])
    res = s2.train_stage2(pair, proba, classes, plan, cfg, oof=how.get("oof_mask"))
    pr = res["counts"]["per_split"]
    far = [f"{s} {100 * pr[s]['pass_rate']:.2f}%" for s in ("train", "val", "test")
           if pr[s]["pass_rate"] is not None and not 0.01 <= pr[s]["pass_rate"] <= 0.10]
    if far:
        warnings.append(f"Stage 1 pass rate far from the 3-5% the seed expects ({', '.join(far)}): tune the threshold")
    progress(0.9, "writing the stage2 artifact")
    for s in ("val", "test"):
        warnings += res["evidence"][s]["warnings"]
    res["stage1_oof"] = {"stage1_oof": bool(how["oof"]), "stage1_oof_note": how.get("oof_note"),
                         "stage1_oof_info": how.get("oof_info")}
    return save_stage2(ws, pair, res, cfg, stage1_id=s1, stage1_classes=classes, warnings=warnings + how.get("notes", []),
                       stage1_reused=how["reused"], name=name)


def evidence_json(extra: dict[str, Any]) -> dict[str, Any]:
    """The Stage 2 evidence keys of `stage2 train --json` / `stage2 show --json` (docs/CONTRACTS.md),
    from a stage2 manifest's ``extra`` (empty for models trained before they existed)."""
    ev = extra.get("evidence") or {}
    if not ev:
        return {}
    c = extra.get("counts") or {}
    per = c.get("per_split") or {}
    return {"val": ev.get("val"), "test": ev.get("test"), "stage1_oof": bool(ev.get("stage1_oof")),
            "stage1_oof_note": ev.get("stage1_oof_note"), "stage1_oof_info": ev.get("stage1_oof_info"),
            "no_pivot_class": ev.get("no_pivot_class"), "baseline_rules": ev.get("baseline_rules"),
            "majority_class": ev.get("majority_class"),
            "threshold_choice": {"value": c.get("threshold"), "chosen_on": c.get("threshold_chosen_on")},
            "pass_rates": {s: (per.get(s) or {}).get("pass_rate") for s in ("train", "val", "test")}}


def save_stage2(ws: Workspace, pair: PairData, res: dict[str, Any], cfg: s2.Stage2Config, *, stage1_id: str,
                stage1_classes: list[str], warnings: list[str], stage1_reused: bool, name: str = "") -> dict[str, Any]:
    parents = [p for p in (pair.featureset_id, stage1_id) if p]
    metrics = s2.flat_metrics(res)
    with create_artifact(ws, "stage2", name=name or f"stage2 {pair.symbol} {pair.timeframe}", symbols=[pair.symbol],
                         timeframe=pair.timeframe, parents=parents,
                         params=s2.config_params(cfg) | {"threshold": res["threshold"], "stage1_id": stage1_id,
                                                         "featureset_id": pair.featureset_id,
                                                         "lightgbm": cfg.lgb_params()}) as d:
        location = str(ws.artifact_dir("stage2", d.id))
        res["booster"].save_model(str(d.path(s2.MODEL_FILE)), num_iteration=res["best_iteration"])
        write_json_atomic(d.path(s2.SCALER_FILE), s2.scaler_to_json(res["scaler"], res["feature_names"]))
        res["cv"].to_csv(d.path(s2.CV_FILE), index=False)
        res["predictions"].to_parquet(d.path(s2.PREDICTIONS_FILE), index=False)
        res["signals"].assign(symbol=pair.symbol).to_parquet(d.path(s2.SIGNALS_FILE), index=False)
        cm = res["performance"]["test"]["confusion_matrix"]
        pd.DataFrame(cm, index=s2.LABEL_NAMES, columns=s2.LABEL_NAMES).rename_axis("true").to_csv(d.path(s2.CONFUSION_FILE))
        res["importance"].to_csv(d.path(s2.IMPORTANCE_FILE), index=False)
        files = sorted((p.name, p.stat().st_size) for p in d.dir.iterdir() if p.is_file())
        report = s2.summary_report(pair, res, stage1_id=stage1_id, location=location, files=files, warnings=warnings)
        d.path(s2.SUMMARY_FILE).write_text(report, encoding="utf-8")
        d.manifest.metrics = metrics
        d.manifest.start = pair.frame["timestamp"].iloc[0]
        d.manifest.end = pair.frame["timestamp"].iloc[-1]
        d.manifest.extra = {"split": res["plan"].to_dict(), "feature_names": res["feature_names"],
                            "input_features": res["input_features"], "stage1_features": res["stage1_features"],
                            "class_names": s2.LABEL_NAMES, "stage1_classes": stage1_classes,
                            "stage1_probabilities_reused": stage1_reused, "counts": res["counts"],
                            "performance": res["performance"], "cv_folds": json.loads(res["cv"].to_json(orient="records", date_format="iso")),
                            "cv": s2.cv_summary(res["cv"]), "best_iteration": res["best_iteration"],
                            "purge_bars": pair.purge_bars, "warnings": warnings,
                            "evidence": {"val": res["evidence"]["val"], "test": res["evidence"]["test"],
                                         **res.get("stage1_oof", {"stage1_oof": False}),
                                         "no_pivot_class": ev.NO_PIVOT_NOTE, "baseline_rules": ev.BASELINE_RULES,
                                         "majority_class": s2.LABEL_NAMES[res["majority_class"]]}}
        extra = d.manifest.extra
        aid = d.id
    path = ws.artifact_dir("stage2", aid)
    perf = res["performance"]
    return {"stage2_id": aid, "path": str(path), "symbol": pair.symbol, "timeframe": pair.timeframe,
            "stage1_id": stage1_id, "featureset_id": pair.featureset_id, "threshold": res["threshold"],
            "files": {f: str(path / f) for f in (s2.MODEL_FILE, s2.SCALER_FILE, s2.SUMMARY_FILE, s2.CV_FILE,
                                                 s2.PREDICTIONS_FILE)},
            "counts": res["counts"],
            "metrics": {"train_accuracy": perf["train"].get("accuracy"), "val_accuracy": perf["val"].get("accuracy"),
                        "accuracy": perf["test"]["accuracy"], "f1_macro": perf["test"]["f1_macro"],
                        "precision_macro": perf["test"]["precision_macro"], "recall_macro": perf["test"]["recall_macro"],
                        "confusion_matrix": perf["test"]["confusion_matrix"]},
            "cv": {"summary": s2.cv_summary(res["cv"]),
                   "folds": json.loads(res["cv"].to_json(orient="records", date_format="iso"))},
            "warnings": warnings, "summary": (path / s2.SUMMARY_FILE).read_text(encoding="utf-8")} | evidence_json(extra)
