"""Stage 2 over many symbol x timeframe pairs as ONE resumable job.

The batch keeps a state file (``stage2_batch.json``: its options and one record per pair with
status, ids, metrics or the error) in the job's folder, or under ``tmp/`` when run outside a
job.  Each pair: the feature set (named, or the newest holding the pair), a Stage 1 (the
pair's latest, imported from the Hub layout, or trained) and a Stage 2.  A pair that fails
(no data, too few signals, ...) is recorded with its message and the batch goes on;
``--resume`` continues a cancelled or crashed batch with the pairs not finished yet.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from config.errors import BadInput, Cancelled, KlineLabError, NotFound
from engine.data.names import check_symbol
from engine.data.timeframes import parse_timeframe
from engine.jobs.context import current_job
from engine.stage2.data import latest_featureset, latest_stage1
from engine.stage2.progress import progress, scoped
from engine.stage2.stage1_train import Stage1TrainConfig
from engine.stage2.stage2 import Stage2Config
from storage.artifacts import list_manifests, read_manifest
from storage.manifest import utc_now_iso, write_json_atomic
from storage.workspace import Workspace, new_id

STATE_FILE = "stage2_batch.json"
STAGE1_MODES = ("latest", "hub", "train")


def available_pairs(ws: Workspace, symbols: list[str] | None = None, timeframes: list[str] | None = None) -> list[tuple[str, str]]:
    """Every (symbol, timeframe) some feature set holds, optionally narrowed."""
    pairs = sorted({(s, m.timeframe) for m in list_manifests(ws, "features") for s in m.symbols if m.timeframe})
    if symbols:
        pairs = [p for p in pairs if p[0] in symbols]
    if timeframes:
        pairs = [p for p in pairs if p[1] in timeframes]
    return pairs


def plan_pairs(ws: Workspace, symbols: list[str] | None, timeframes: list[str] | None) -> list[tuple[str, str]]:
    syms = [check_symbol(s) for s in symbols] if symbols else None
    tfs = [parse_timeframe(t) for t in timeframes] if timeframes else None
    if syms and tfs:
        return [(s, t) for s in syms for t in tfs]  # pairs without data are reported, not skipped silently
    pairs = available_pairs(ws, syms, tfs)
    if not pairs:
        raise NotFound("no symbol x timeframe pair has a feature set" + (f" among {', '.join(syms or tfs or [])}" if syms or tfs else ""),
                       hint="build feature sets first (python -m engine features build ...)")
    return pairs


def state_path(ws: Workspace) -> Path:
    job = current_job()
    if job is not None:
        return ws.jobs_dir / job.job_id / STATE_FILE
    return ws.tmp_dir / f"{new_id('stage2-batch')}.json"


def read_state(path_or_job: str | Path, ws: Workspace | None = None) -> dict[str, Any]:
    """A batch state by job id (with ``ws``) or file path."""
    p = Path(path_or_job)
    if ws is not None and not p.is_file():
        p = ws.jobs_dir / str(path_or_job) / STATE_FILE
    if not p.is_file():
        raise NotFound(f"no Stage 2 batch state at {path_or_job}", hint="give the batch's job id or its state file")
    from config.bounded import read_small_text

    try:
        doc = json.loads(read_small_text(p, "batch state file", 16 << 20))
    except ValueError as e:
        raise BadInput(f"cannot read the batch state {p}: {str(e)[:200]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("pairs"), list) or not isinstance(doc.get("options"), dict):
        raise BadInput(f"{p} is not a Stage 2 batch state")
    _check_state(doc, p)
    return doc


def _check_state(doc: dict[str, Any], p: Path) -> None:
    """Every field a resume uses, with its type, before any work starts (a hand-edited or damaged
    state file is one BadInput, never a KeyError / TypeError half-way through the batch)."""
    bad = BadInput(f"{p} is not a valid Stage 2 batch state", hint="start a new batch instead of --resume")
    opts = doc["options"]
    if opts.get("stage1") not in STAGE1_MODES:
        raise bad
    for key in ("featureset_id", "repo_id", "revision"):
        if opts.get(key) is not None and not isinstance(opts[key], str):
            raise bad
    if opts.get("sequence_length") is not None and (not isinstance(opts["sequence_length"], int)
                                                    or isinstance(opts["sequence_length"], bool)):
        raise bad
    feats = opts.get("stage1_features")
    if feats is not None and (not isinstance(feats, list) or not all(isinstance(f, str) for f in feats)):
        raise bad
    try:
        Stage1TrainConfig(**opts["stage1_config"]).check()
        Stage2Config(**opts["stage2_config"]).check()
    except (KeyError, TypeError, ValueError):  # BadInput is a ValueError
        raise bad from None
    for rec in doc["pairs"]:
        if not isinstance(rec, dict) or not isinstance(rec.get("symbol"), str) or not isinstance(rec.get("timeframe"), str) \
                or rec.get("status") not in ("pending", "running", "succeeded", "failed"):
            raise bad


def _run_pair(ws: Workspace, rec: dict[str, Any], opts: dict[str, Any]) -> None:
    from engine.stage2.pipeline import train_stage1_pair, train_stage2_pair
    from engine.stage2.stage1_io import import_stage1

    sym, tf = rec["symbol"], rec["timeframe"]
    fsid = opts.get("featureset_id")
    if fsid:
        m = read_manifest(ws, fsid, "features")
        if sym not in m.symbols or m.timeframe != tf:
            raise NotFound(f"feature set {fsid} does not hold {sym} {tf}")
    else:
        fsid = latest_featureset(ws, sym, tf)
    rec["featureset_id"] = fsid
    mode = opts["stage1"]
    if mode == "latest":
        rec["stage1_id"] = opts.get("_stage1_id") or latest_stage1(ws, sym, tf)  # resolved by the driver for a task
    elif mode == "hub":
        with scoped(0.0, 0.3, "Stage 1 import: "):
            rec["stage1_id"] = import_stage1(ws, opts["repo_id"], sym, tf, feature_names=opts.get("stage1_features"),
                                             sequence_length=opts.get("sequence_length"),
                                             revision=opts.get("revision"))["stage1_id"]
    else:
        with scoped(0.0, 0.6, "Stage 1 training: "):
            rec["stage1_id"] = train_stage1_pair(ws, sym, tf, Stage1TrainConfig(**opts["stage1_config"]),
                                                 featureset_id=fsid)["stage1_id"]
    s2cfg = Stage2Config(**opts["stage2_config"])
    with scoped(0.6 if mode == "train" else 0.3, 1.0, "Stage 2: "):
        out = train_stage2_pair(ws, sym, tf, s2cfg, featureset_id=fsid, stage1_id=rec["stage1_id"])
    c = out["counts"]["per_split"]
    rec.update({"stage2_id": out["stage2_id"], "accuracy": out["metrics"]["accuracy"], "f1_macro": out["metrics"]["f1_macro"],
                "cv_accuracy_mean": out["cv"]["summary"]["accuracy"]["mean"],
                "cv_accuracy_std": out["cv"]["summary"]["accuracy"]["std"], "cv_folds": s2cfg.cv_folds,
                "samples": out["counts"]["samples"],
                "threshold": out["threshold"], "pass_rate_test": c["test"]["pass_rate"], "warnings": out["warnings"]})
    t = out.get("test") or {}
    base = [v for v in (t.get("baselines") or {}).values() if v is not None]
    rec.update({"accuracy_signals": t.get("accuracy_signals"), "signals_test": t.get("signals"),
                "best_baseline": max(base) if base else None, "stage1_oof": out.get("stage1_oof")})


def run_batch(ws: Workspace, *, symbols: list[str] | None = None, timeframes: list[str] | None = None,
              stage1: str = "latest", featureset_id: str | None = None, repo_id: str | None = None,
              revision: str | None = None, stage1_features: list[str] | None = None, sequence_length: int | None = None,
              stage1_config: Stage1TrainConfig | None = None, stage2_config: Stage2Config | None = None,
              resume: str | None = None, retry_failed: bool = False, executor=None) -> dict[str, Any]:
    """Run (or resume) a batch; returns the results table and the state file's path.

    ``executor`` (engine.executor): None or a one-worker local one runs the pairs here one after
    another; otherwise each pair is a task (engine/stage2/remote.py) and its artifacts are adopted
    here as it finishes."""
    if resume:
        old = read_state(resume, ws)
        opts, pairs = old["options"], old["pairs"]
        for rec in pairs:
            if rec["status"] in ("running", "pending") or (retry_failed and rec["status"] == "failed"):
                rec.update(status="pending", error=None)
        resumed_from = str(resume)
    else:
        if stage1 not in STAGE1_MODES:
            raise BadInput(f"unknown Stage 1 mode {stage1!r}", hint=f"use one of {', '.join(STAGE1_MODES)}")
        if stage1 == "hub" and not repo_id:
            raise BadInput("--stage1 hub needs --repo-id")
        s1cfg = (stage1_config or Stage1TrainConfig()).check()
        s2cfg = (stage2_config or Stage2Config()).check()
        opts = {"stage1": stage1, "featureset_id": featureset_id, "repo_id": repo_id, "revision": revision,
                "stage1_features": stage1_features, "sequence_length": sequence_length,
                "stage1_config": asdict(s1cfg), "stage2_config": asdict(s2cfg)}
        pairs = [{"symbol": s, "timeframe": t, "status": "pending", "error": None}
                 for s, t in plan_pairs(ws, symbols, timeframes)]
        resumed_from = None
    path = state_path(ws)
    state = {"options": opts, "pairs": pairs, "created_at": utc_now_iso(), "resumed_from": resumed_from}

    def save() -> None:
        state["updated_at"] = utc_now_iso()
        write_json_atomic(path, state)

    if executor is not None:
        state["executor"] = executor.describe()
    save()
    todo = [r for r in pairs if r["status"] == "pending"]
    n = len(pairs)
    if executor is not None and not (executor.name == "local" and getattr(executor, "workers", 1) <= 1):
        _run_tasks(ws, pairs, opts, executor, save)
    for rec in pairs:
        if rec["status"] != "pending":
            continue
        i = pairs.index(rec)
        label = f"[{i + 1}/{n}] {rec['symbol']} {rec['timeframe']}: "
        rec.update(status="running", started_at=utc_now_iso())
        save()
        t0 = time.monotonic()
        try:
            with scoped(i / n, (i + 1) / n, label):
                progress(0.0, "starting")
                _run_pair(ws, rec, opts)
            rec["status"] = "succeeded"
        except Cancelled:
            rec["status"] = "pending"  # resumable
            save()
            raise
        except KlineLabError as e:
            rec.update(status="failed", error=str(e))
        except Exception as e:  # noqa: BLE001 - one pair's bug must not stop the others; recorded with its type
            rec.update(status="failed", error=f"unexpected failure: {type(e).__name__}: {e}")
        rec.update(ended_at=utc_now_iso(), seconds=round(time.monotonic() - t0, 1))
        save()
    progress(1.0, f"batch done: {sum(r['status'] == 'succeeded' for r in pairs)} of {n} pairs succeeded")
    ok = [r for r in pairs if r["status"] == "succeeded"]
    failed = [r for r in pairs if r["status"] == "failed"]
    if todo and not ok and current_job() is None and not resumed_from:
        path.unlink(missing_ok=True)  # nothing came out of it: leave no trace outside a job
        raise BadInput(f"none of the {n} pair(s) produced a Stage 2 model: " +
                       "; ".join(f"{r['symbol']} {r['timeframe']}: {r['error']}" for r in failed[:5]))
    return {"state_file": str(path), "pairs": pairs, "succeeded": len(ok), "failed": len(failed),
            "stage2_ids": [r["stage2_id"] for r in ok], "resumed_from": resumed_from}


def _run_tasks(ws: Workspace, pairs: list[dict[str, Any]], opts: dict[str, Any], executor, save) -> None:
    """The pending pairs as executor tasks.  Inputs are resolved here (a pair without a feature set
    or Stage 1 fails here with the same message as in a local run); a finished pair's artifacts are
    adopted and its record saved as soon as it comes back, so a cancel keeps them."""
    from engine.data.store import series_id
    from engine.stage2.remote import adopt_outputs, input_spec, pair_task

    n = len(pairs)
    recs, payloads = [], []
    specs: dict[tuple[str, str], dict[str, Any]] = {}  # each input packed / put once

    def spec(kind: str, aid: str) -> dict[str, Any]:
        if (kind, aid) not in specs:
            specs[kind, aid] = input_spec(ws, kind, aid, executor)
        return specs[kind, aid]

    for i, rec in enumerate(pairs):
        if rec["status"] != "pending":
            continue
        sym, tf = rec["symbol"], rec["timeframe"]
        rec.update(status="running", started_at=utc_now_iso(), error=None)
        try:
            rec["featureset_id"] = fsid = opts.get("featureset_id") or latest_featureset(ws, sym, tf)
            inputs = [spec("features", fsid)]
            cid = series_id(sym, tf)  # the pair's candles: the price baseline and candle inputs read them
            if (ws.artifact_dir("ohlcv", cid) / "manifest.json").is_file():
                inputs.append(spec("ohlcv", cid))
            task_opts = dict(opts, featureset_id=fsid)
            if opts["stage1"] == "latest":
                rec["stage1_id"] = task_opts["_stage1_id"] = latest_stage1(ws, sym, tf)
                inputs.append(spec("stage1", task_opts["_stage1_id"]))
        except KlineLabError as e:
            rec.update(status="failed", error=str(e), ended_at=utc_now_iso(), seconds=0.0)
            continue
        recs.append((i, rec))
        payloads.append({"rec": {"symbol": sym, "timeframe": tf}, "opts": task_opts, "inputs": inputs,
                         "ws_root": str(ws.root)})
    save()
    t0 = time.monotonic()

    def done(k: int, total: int, res) -> None:
        i, rec = recs[res.index]
        if res.ok:
            try:
                adopt_outputs(ws, res.value["artifacts"], where=res.where)
                rec.update(res.value["rec"], status="succeeded")
            except KlineLabError as e:
                rec.update(status="failed", error=f"its results could not be adopted: {e}")
        else:
            rec.update(status="failed", error=res.error)
        if not res.ok:  # a finished task times itself
            rec["seconds"] = round(time.monotonic() - t0, 1)
        rec.update(ended_at=utc_now_iso(), worker=res.where, attempts=res.attempts)
        save()
        progress(k / total, f"[{i + 1}/{n}] {rec['symbol']} {rec['timeframe']}: {rec['status']}"
                 + (f" ({rec['error']})" if rec["status"] == "failed" else ""))

    try:
        executor.map(functools.partial(pair_task, run_pair=_run_pair), payloads, on_progress=done)
    except Cancelled:
        for _, rec in recs:
            if rec["status"] == "running":
                rec["status"] = "pending"  # resumable
        save()
        raise


def results_table(state: dict[str, Any]):
    import pandas as pd

    # accuracy_signals (every test signal bar) first; "accuracy" is the pivot-only figure
    cols = ["symbol", "timeframe", "status", "accuracy_signals", "best_baseline", "signals_test", "accuracy", "f1_macro",
            "cv_accuracy_mean", "cv_accuracy_std", "cv_folds", "samples", "stage1_oof",
            "threshold", "pass_rate_test", "seconds", "error", "stage1_id", "stage2_id", "featureset_id"]
    df = pd.DataFrame(state.get("pairs") or [])
    for c in cols:
        if c not in df.columns:
            df[c] = None
    return df[cols]
