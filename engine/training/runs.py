"""Reading runs for the page and ``train list``: finished runs (model artifacts) and
unfinished ones (working folders under ``<workspace>/training/``), their per-epoch metrics
and per-step losses."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from config.errors import NotFound
from engine import model_kinds
from engine.jobs.state import pid_alive
from engine.training.paths import run_dir, runs_root
from storage.artifacts import list_manifests
from storage.workspace import Workspace


def _unfinished(ws: Workspace) -> list[dict[str, Any]]:
    root = runs_root(ws)
    out = []
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        p = d / "run.json"
        if not p.is_file():
            continue
        try:
            run = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        status = run.get("status", "?")
        if status == "running" and not pid_alive(run.get("pid"), run.get("proc_start")):
            status = "interrupted"  # killed: resumable
        hist = _read_csv(_metrics_file(d))
        out.append({"id": run.get("id", d.name), "name": run.get("name", ""), "model": run.get("model"), "status": status,
                    "featureset_id": run.get("featureset_id"), "created_at": run.get("created_at"),
                    "epochs": int(hist.epoch.max()) if len(hist) else 0,
                    "best_val_loss": float(hist.val_loss.min()) if len(hist) and "val_loss" in hist else None,
                    "resumable": status in ("interrupted", "failed", "cancelled"), "error": run.get("error"),
                    "job_id": run.get("job_id")})
    return out


def list_runs(ws: Workspace) -> list[dict[str, Any]]:
    """Newest first: finished runs with their headline metrics, then runs in progress or stopped."""
    rows = []
    trained_here = model_kinds.names(trainable=True)  # the kinds `train` runs (Stage 1 / 2 have their own page)
    for m in list_manifests(ws, "model"):
        if m.params.get("model") not in trained_here:
            continue
        v, t = m.metrics.get("val") or {}, m.metrics.get("test") or {}
        rows.append({"id": m.id, "name": m.name, "model": m.params.get("model"), "status": "finished",
                     "featureset_id": m.params.get("featureset_id"), "created_at": m.created_at,
                     "epochs": m.metrics.get("epochs_run"), "best_epoch": m.metrics.get("best_epoch"),
                     "best_val_loss": m.metrics.get("val_loss"), "val_accuracy": v.get("accuracy"),
                     "val_baseline_accuracy": v.get("baseline_accuracy"), "val_win_rate": v.get("win_rate"),
                     "val_profit_factor": v.get("profit_factor"), "val_trades": v.get("trades"),
                     "test_accuracy": t.get("accuracy"), "test_win_rate": t.get("win_rate"),
                     "test_profit_factor": t.get("profit_factor"), "test_trades": t.get("trades"),
                     "warnings": len(m.metrics.get("warnings") or []),
                     "resumable": False, "error": None, "job_id": None})
    rows += _unfinished(ws)
    return sorted(rows, key=lambda r: r.get("created_at") or "", reverse=True)


def _metrics_file(d: Path) -> Path:
    """metrics.csv of a run folder (the latest walk-forward fold that has one)."""
    folds = sorted((d / "folds").glob("*/metrics.csv"), key=lambda p: int(p.parent.name)) if (d / "folds").is_dir() else []
    return folds[-1] if folds else d / "metrics.csv"


def _read_csv(p: Path) -> pd.DataFrame:
    if not p.is_file() or p.stat().st_size == 0:
        return pd.DataFrame()
    try:
        return pd.read_csv(p)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError):
        return pd.DataFrame()  # being rewritten this instant: the next poll reads it


def _folder(ws: Workspace, run_id: str) -> Path:
    for d in (run_dir(ws, run_id), ws.artifact_dir("model", run_id)):
        if d.is_dir():
            return d
    raise NotFound(f"no training run {run_id}", hint="see `python -m engine train list`")


def history(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Per-epoch metrics (metrics.csv) of a finished or running run."""
    return _read_csv(_metrics_file(_folder(ws, run_id)))


def steps(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Running training loss and learning rate every few optimizer steps (steps.csv)."""
    d = _folder(ws, run_id)
    folds = sorted((d / "folds").glob("*/steps.csv"), key=lambda p: int(p.parent.name)) if (d / "folds").is_dir() else []
    return _read_csv(folds[-1] if folds else d / "steps.csv")


def run_for_job(ws: Workspace, job_id: str) -> str | None:
    """The run a training job works on (run.json records the job id), finished or not."""
    root = runs_root(ws)
    if root.is_dir():
        for p in root.glob("*/run.json"):
            try:
                if json.loads(p.read_text(encoding="utf-8")).get("job_id") == job_id:
                    return p.parent.name
            except (OSError, ValueError):
                continue
    from engine.jobs import get

    try:
        res = get(ws, job_id).result or {}
    except NotFound:
        return None
    return res.get("run_id")


def compare_table(ws: Workspace, run_ids: list[str]) -> pd.DataFrame:
    """Headline metrics side by side: one row per metric, one column per run."""
    from storage.artifacts import read_manifest

    cols = {}
    for rid in run_ids:
        try:
            m = read_manifest(ws, rid, "model")
        except NotFound:
            h = history(ws, rid)  # unfinished: its latest epoch
            cols[rid] = h.iloc[-1].to_dict() if len(h) else {}
            continue
        row = {"model": m.params.get("model"), "featureset_id": m.params.get("featureset_id"), "inputs": m.params.get("n_inputs"),
               "best_epoch": m.metrics.get("best_epoch"), "epochs_run": m.metrics.get("epochs_run")}
        for split in ("val", "test"):
            sm = m.metrics.get(split) or {}
            row |= {f"{split}_{k}": v for k, v in sm.items() if v is None or isinstance(v, (int, float, str))}
            row |= {f"{split}_sample_{k}": v for k, v in (sm.get("sample") or {}).items()}
            row |= {f"{split}_{k}_ci95": f"[{c[0]:.4g}, {c[1]:.4g}]" for k, c in (sm.get("uncertainty") or {}).items()
                    if isinstance(c, list) and len(c) == 2}
            row[f"{split}_warnings"] = len(sm.get("warnings") or [])
        cols[rid] = row
    return pd.DataFrame(cols)
