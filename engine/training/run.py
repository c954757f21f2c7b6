"""A training run from start to artifact, and its resumption.

    start_run(ws, "direction", "config/test.yaml", featureset_id=...)   -> result dict
    resume_run(ws, run_id)                                              -> result dict

1. Everything is validated before anything is written: the config, the feature set, the
   report's whitelist, the targets, the split plan(s) (purge >= the feature set's longest
   target horizon) and the windows of every fold.
2. The run then works in ``<workspace>/training/<run id>/`` (``run.json``, ``config.yaml``,
   ``scaler.json``, ``checkpoints/``, ``metrics.csv``, ``steps.csv``, ``tensorboard/``; one
   ``folds/<k>/`` of those per walk-forward fold).  That folder survives a kill, so
   ``train resume RUN_ID`` continues from the last checkpoint.
3. At the end the best checkpoint predicts the test split, and the folder becomes the model
   artifact ``artifacts/model/<run id>/`` in one atomic step (``storage.artifacts.create_artifact``),
   with lineage to the feature set (and report); the working folder is then removed.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from config import settings
from config.bounded import short_repr
from config.errors import BadInput, Conflict, KlineLabError, NotFound, Refused
from engine import model_kinds
from engine.jobs.state import pid_alive, proc_start_time
from engine.progress import progress
from engine.splits import SplitPlan, chronological_split, walk_forward
from engine.training.config import TrainConfig, load_config, loads, resolve_path
from engine.training.dataset import WindowSet, build_windows_lazy
from engine.training.paths import RUNS_DIR, run_dir, runs_root  # noqa: F401 - re-exported
from engine.training.tasks import run_costs
from engine.training.trainer import Trainer, pick_device
from storage.artifacts import artifact_path, create_artifact, describe, read_manifest
from storage.manifest import utc_now_iso, write_json_atomic
from storage.workspace import Workspace, new_id

ARTIFACT_FILES = ("config.yaml", "scaler.json", "metrics.csv", "steps.csv", "run.json", "split.json")
TRADES_FILE = "trades.parquet"  # every val / test trade of the best checkpoint (all horizons, all folds)
LABELS_FILE = "labels.parquet"  # every val / test (label, predicted class) pair of the class targets


def custom_config(ws: Workspace, preset: str, overrides: str) -> Path:
    """Validate ``preset`` + YAML ``overrides`` and save the result as a config file under
    ``<workspace>/training/configs/`` (named by its content) for a run to use."""
    import hashlib

    from engine.training.config import with_overrides

    _, text = with_overrides(preset, overrides)
    text = f"# {preset} + overrides (Training page)\n" + text
    p = runs_root(ws) / "configs" / f"{Path(str(preset)).stem}-{hashlib.sha256(text.encode()).hexdigest()[:10]}.yaml"
    if not p.is_file():
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    return p


@dataclass
class Prepared:
    """Validated inputs of a run: the tables, the plans and the first fold's windows."""

    features: pd.DataFrame
    targets: pd.DataFrame
    plans: list[SplitPlan]
    windows: list[WindowSet]
    spec: dict[str, Any]  # what run.json records: model, featureset_id, report_id, inputs, targets, symbols, ...


def _read_whitelist(ws: Workspace, report_id: str, featureset_id: str) -> list[str]:
    d = artifact_path(ws, report_id, "analysis")
    m = read_manifest(ws, report_id, "analysis")
    if m.parents and featureset_id not in m.parents:
        raise BadInput(f"report {report_id} was made from {', '.join(m.parents)}, not from feature set {featureset_id}",
                       hint="use a report of this feature set, or leave --report out")
    p = d / "included_features.txt"
    if not p.is_file():
        raise NotFound(f"report {report_id} has no included_features.txt")
    names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise BadInput(f"included_features.txt of report {report_id} lists no feature")
    return names


def _select_rows(df: pd.DataFrame, cfg: TrainConfig) -> np.ndarray:
    """Rows kept by data.start / data.end / data.last_bars (a boolean mask)."""
    keep = np.ones(len(df), dtype=bool)
    ts = df["timestamp"]
    try:
        if cfg.data.start:
            keep &= (ts >= pd.Timestamp(cfg.data.start, tz="UTC")).to_numpy()
        if cfg.data.end:
            keep &= (ts <= pd.Timestamp(cfg.data.end, tz="UTC")).to_numpy()
    except (ValueError, TypeError) as e:
        raise BadInput(f"data.start / data.end is not a date: {e}") from None
    if cfg.data.last_bars:
        rank_from_end = df[keep].groupby("symbol", sort=False).cumcount(ascending=False).to_numpy()
        idx = np.flatnonzero(keep)
        keep[idx[rank_from_end >= cfg.data.last_bars]] = False
    return keep


def prepare(ws: Workspace, model: str, cfg: TrainConfig, *, featureset_id: str | None, report_id: str | None = None,
            targets: list[str] | None = None, spec: dict[str, Any] | None = None,
            folds: list[int] | None = None) -> Prepared:
    """Load and validate everything a run needs (no writes).  ``spec`` (from run.json) pins
    the inputs and targets of a run being resumed; ``folds`` (0-based) builds the windows of those
    folds only (a fold task), all of them by default."""
    from engine.features.store import load_feature_set

    task_cls = model_kinds.get(model).load_task()  # an unknown kind, or one `train` does not run: BadInput
    cfg.check_for(model)
    featureset_id = featureset_id or cfg.data.featureset
    if not featureset_id:
        raise BadInput("no feature set given", hint="pass --featureset ID (see `python -m engine features list`)")
    fs = load_feature_set(ws, featureset_id)
    report_id = report_id or cfg.data.report
    if spec is not None:
        inputs, target_names = list(spec["inputs"]), list(spec["targets"])
    else:
        inputs = _choose_inputs(ws, fs, cfg, featureset_id, report_id)
        target_names = _choose_targets(task_cls, fs, cfg, featureset_id, targets)
    if not inputs:
        raise BadInput("no input features left after the exclusions")
    symbols = _choose_symbols(fs, cfg, featureset_id)
    aux = task_cls.aux_for(cfg, target_names)
    missing_aux = [a for a in aux if a not in fs.target_names]
    if missing_aux:
        raise BadInput(f"feature set {featureset_id} lacks {', '.join(missing_aux)}")
    feats, targs, keep = _load_rows(fs, cfg, target_names + aux, symbols)
    purge = _purge_bars(fs, cfg)
    plans = _split_plans(fs, cfg, feats, purge)
    specs = task_cls.target_specs_for(cfg, fs.target_meta, target_names)
    _check_target_weights(cfg, specs)
    windows = [_fold_windows(ws, fs, cfg, plan, k, len(plans), inputs=inputs, specs=specs, symbols=symbols, keep=keep,
                             aux=aux)
               for k, plan in enumerate(plans) if folds is None or k in folds]
    spec = {"model": model, "featureset_id": featureset_id, "report_id": report_id, "inputs": inputs,
            "targets": target_names, "symbols": list(symbols), "timeframe": fs.timeframe,
            "max_horizon_bars": fs.max_horizon_bars, "purge_bars": purge}
    return Prepared(feats, targs, plans, windows, spec)


def _choose_inputs(ws: Workspace, fs, cfg: TrainConfig, featureset_id: str, report_id: str | None) -> list[str]:
    """The input features: the report's whitelist, else data.include, else every usable feature; never
    a leaking one, never one of data.exclude."""
    if report_id:
        inputs = _read_whitelist(ws, report_id, featureset_id)
        unknown = [n for n in inputs if n not in fs.feature_names]
        if unknown:
            raise BadInput(f"report {report_id} whitelists features not in {featureset_id}: {', '.join(unknown[:8])}")
    elif cfg.data.include:
        inputs = list(dict.fromkeys(cfg.data.include))
        unknown = [n for n in inputs if n not in fs.feature_names]
        if unknown:
            raise BadInput(f"data.include names unknown features: {', '.join(unknown[:8])}")
    else:
        inputs = fs.usable_features()
    leaking = set(fs.leaking)
    inputs = [n for n in inputs if n not in leaking]  # a leaking feature never becomes an input
    bad = [n for n in cfg.data.exclude if n not in fs.feature_names]
    if bad:
        raise BadInput(f"data.exclude names unknown features: {', '.join(bad[:8])}")
    return [n for n in inputs if n not in set(cfg.data.exclude)]


def _choose_targets(task_cls, fs, cfg: TrainConfig, featureset_id: str, targets: list[str] | None) -> list[str]:
    target_names = task_cls.choose_targets(cfg, list(fs.target_names), targets)
    unknown = [t for t in target_names if t not in fs.target_names]
    if unknown:
        raise BadInput(f"unknown target(s) {', '.join(unknown)} for {featureset_id}",
                       hint=f"targets: {', '.join(fs.target_names)}")
    if len(set(target_names)) != len(target_names):
        raise BadInput(f"a target is listed twice: {', '.join(target_names)}")
    return target_names


def _choose_symbols(fs, cfg: TrainConfig, featureset_id: str) -> list[str]:
    symbols = cfg.data.symbols or fs.symbols
    unknown = [s for s in symbols if s not in fs.symbols]
    if unknown:
        raise BadInput(f"symbol(s) {', '.join(unknown)} not in feature set {featureset_id}",
                       hint=f"it has {', '.join(fs.symbols)}")
    return symbols


def _load_rows(fs, cfg: TrainConfig, target_columns: list[str], symbols: list[str]
               ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The feature rows (timestamp, symbol) and target columns kept by data.symbols / start / end /
    last_bars, with the mask that kept them."""
    feats = fs.features([], symbols=symbols)  # timestamp, symbol: build_windows_lazy reads the inputs itself
    targs = fs.targets(list(dict.fromkeys(target_columns)), symbols=symbols)
    keep = _select_rows(feats, cfg)
    feats, targs = feats[keep].reset_index(drop=True), targs[keep].reset_index(drop=True)
    if feats.empty:
        raise BadInput("no rows left after data.symbols / start / end / last_bars")
    return feats, targs, keep


def _purge_bars(fs, cfg: TrainConfig) -> int:
    max_h = fs.max_horizon_bars
    purge = max_h if cfg.split.purge_bars is None else cfg.split.purge_bars
    if purge < max_h:
        raise BadInput(f"split.purge_bars = {purge} is shorter than the longest target horizon ({max_h} bars)",
                       hint="leave it null or set it >= max_horizon_bars, or a train target would see validation bars")
    return purge


def _split_plans(fs, cfg: TrainConfig, feats: pd.DataFrame, purge: int) -> list[SplitPlan]:
    s = cfg.split
    if s.mode == "chronological":
        return [chronological_split(feats["timestamp"], fs.timeframe, purge_bars=purge, train_frac=s.train_frac,
                                    val_frac=s.val_frac, train_end=s.train_end, val_end=s.val_end,
                                    min_rows=cfg.data.context_window + 10)]
    return walk_forward(feats["timestamp"], fs.timeframe, n_folds=s.n_folds, purge_bars=purge, mode=s.walk_mode,
                        initial_frac=s.initial_frac, train_bars=s.train_bars, val_frac=s.val_frac,
                        min_rows=cfg.data.context_window + 10)


def _check_target_weights(cfg: TrainConfig, specs) -> None:
    stray = [k for k in cfg.loss.target_weights if k not in {sp.name for sp in specs}]
    if stray:  # a weight for a target the run does not learn would silently do nothing
        raise BadInput(f"loss.target_weights names target(s) this run does not learn: {short_repr(stray)}",
                       hint=f"the run's targets: {short_repr([sp.name for sp in specs])}")


def _fold_windows(ws: Workspace, fs, cfg: TrainConfig, plan: SplitPlan, k: int, n_plans: int, *, inputs: list[str],
                  specs, symbols: list[str], keep: np.ndarray, aux: list[str]) -> WindowSet:
    """The windows of fold ``k``; refused when a split has none."""
    w = _lazy_windows(ws, fs, input_names=inputs, specs=specs, plan=plan, symbols=symbols, keep=keep,
                      context=cfg.data.context_window, stride=cfg.data.stride, clip=cfg.data.clip,
                      max_missing_frac=cfg.data.max_missing_frac, aux_names=aux)
    empty = [n for n, c in w.counts().items() if c == 0]
    if empty:
        where = f"fold {k + 1}: " if n_plans > 1 else ""
        raise BadInput(f"{where}no {', '.join(empty)} windows of {cfg.data.context_window} bars (counts {w.counts()})",
                       hint="use more data, a shorter context window or other split settings")
    return w


def _lazy_windows(ws: Workspace, fs, **kw) -> WindowSet:
    """``build_windows_lazy`` with its memory-mapped files in a staging folder of the workspace, removed
    once mapped (the mappings keep the data until the WindowSet is gone; where removing an open
    file fails, the start-up cleanup removes the folder after this process)."""
    import shutil

    d = ws.staging_dir("windows")
    w = build_windows_lazy(fs, scratch=d, **kw)
    try:
        shutil.rmtree(d)
    except OSError:
        pass
    return w


# -- running --------------------------------------------------------------------------
def start_run(ws: Workspace, model: str, config: str | Path, *, featureset_id: str | None = None,
              report_id: str | None = None, targets: list[str] | None = None, name: str | None = None,
              executor: dict[str, Any] | None = None) -> dict[str, Any]:
    """``executor`` ({"executor": "local" | "ray", "workers": K, "ray_address": A}): the walk-forward
    folds run as tasks of that executor (see :func:`_folds_on_executor`); None: one after another here."""
    cfg = load_config(config)
    prep = prepare(ws, model, cfg, featureset_id=featureset_id, report_id=report_id, targets=targets)
    pick_device(cfg.training.device)  # refused (device: cuda without CUDA) before the run folder exists
    run_id = new_id("model", model)
    d = run_dir(ws, run_id)
    d.mkdir(parents=True)
    cfg.data.featureset, cfg.data.report = prep.spec["featureset_id"], prep.spec["report_id"]
    (d / "config.yaml").write_text(f"# resolved from {resolve_path(config)}\n" + cfg.to_yaml(), encoding="utf-8")
    write_json_atomic(d / "split.json", {"mode": cfg.split.mode, "plans": [p.to_dict() for p in prep.plans]})
    default = describe(model, prep.spec["symbols"], prep.spec["timeframe"], prep.plans[0].train_start, prep.plans[-1].test_end)
    run = prep.spec | {"id": run_id, "name": name or default,
                       "config_source": str(resolve_path(config)), "created_at": utc_now_iso(), "status": "running",
                       "pid": os.getpid(), "proc_start": proc_start_time(os.getpid()), "job_id": settings.job_id(),
                       "resumes": 0, "costs": run_costs(cfg, prep.spec["symbols"])}
    write_json_atomic(d / "run.json", run)
    progress(0.0, f"run {run_id}: {model}, {len(prep.spec['inputs'])} inputs, windows {prep.windows[0].counts()}")
    return _execute(ws, d, run, cfg, prep, resume=False, executor=executor)


def resume_run(ws: Workspace, run_id: str) -> dict[str, Any]:
    d = run_dir(ws, run_id)
    if not (d / "run.json").is_file():
        if ws.artifact_dir("model", run_id).joinpath("manifest.json").is_file():
            raise Conflict(f"run {run_id} has already finished", hint="its model artifact is in the catalog")
        raise NotFound(f"no unfinished training run {run_id} in {runs_root(ws)}",
                       hint="see the runs table on the Training page")
    import json

    run = json.loads((d / "run.json").read_text(encoding="utf-8"))
    if run.get("status") == "running" and pid_alive(run.get("pid"), run.get("proc_start")) and run.get("pid") != os.getpid():
        raise Refused(f"run {run_id} is still running (pid {run['pid']})", hint="cancel its job first")
    cfg = loads((d / "config.yaml").read_text(encoding="utf-8"), str(d / "config.yaml"))
    prep = prepare(ws, run["model"], cfg, featureset_id=run["featureset_id"], report_id=run.get("report_id"), spec=run)
    run.setdefault("costs", run_costs(cfg, prep.spec["symbols"]))  # runs started before costs were recorded
    run.update({"status": "running", "pid": os.getpid(), "proc_start": proc_start_time(os.getpid()), "error": None,
                "job_id": settings.job_id(), "resumes": int(run.get("resumes", 0)) + 1})
    write_json_atomic(d / "run.json", run)
    progress(0.0, f"resuming run {run_id}")
    return _execute(ws, d, run, cfg, prep, resume=True)


def _execute(ws: Workspace, d: Path, run: dict[str, Any], cfg: TrainConfig, prep: Prepared, *, resume: bool,
             executor: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        return _train_and_publish(ws, d, run, cfg, prep, resume=resume, executor=executor)
    except BaseException as e:
        from config.errors import Cancelled

        run["status"] = "cancelled" if isinstance(e, (Cancelled, KeyboardInterrupt)) else "failed"
        run["error"] = f"{type(e).__name__}: {e}"
        if d.is_dir():
            write_json_atomic(d / "run.json", run)
        raise


def _fold_dirs(d: Path, n: int) -> list[Path]:
    return [d] if n == 1 else [d / "folds" / str(k + 1) for k in range(n)]


def _fold_done(fd: Path) -> bool:
    return (fd / "fold_result.json").is_file() and all((fd / f).is_file() for f in ("predictions.parquet", TRADES_FILE, LABELS_FILE))


def _train_and_publish(ws: Workspace, d: Path, run: dict[str, Any], cfg: TrainConfig, prep: Prepared, *,
                       resume: bool, executor: dict[str, Any] | None = None) -> dict[str, Any]:
    import json

    n = len(prep.plans)
    fds = _fold_dirs(d, n)
    if executor is not None and n > 1:
        _folds_on_executor(ws, d, executor, [k for k in range(n) if not (resume and _fold_done(fds[k]))], n, resume)
    fold_results, preds = [], []
    for k, (plan, wset, fd) in enumerate(zip(prep.plans, prep.windows, fds)):
        if not ((resume or executor is not None) and _fold_done(fd)):
            _train_fold(fd, run, cfg, k, n, plan, wset, resume=resume)
        fold_results.append(json.loads((fd / "fold_result.json").read_text()))
        preds.append(pd.read_parquet(fd / "predictions.parquet"))
    progress(0.98, "writing the model artifact")
    return _publish(ws, d, run, cfg, prep, fold_results, pd.concat(preds, ignore_index=True))


def _train_fold(fd: Path, run: dict[str, Any], cfg: TrainConfig, k: int, n: int, plan: SplitPlan, wset: WindowSet, *,
                resume: bool) -> None:
    """Train fold ``k`` (0-based) of ``n`` in ``fd``: its checkpoints, scaler, predictions, trades,
    labels and ``fold_result.json`` (written last: the fold is done once it exists)."""
    fd.mkdir(parents=True, exist_ok=True)
    write_json_atomic(fd / "scaler.json", wset.scalers.to_json())
    task = model_kinds.get(run["model"]).load_task()(wset, cfg, run.get("costs"))
    label = f"fold {k + 1}/{n}: " if n > 1 else ""
    trainer = Trainer(task, cfg.training, fd, fraction=(k / n, (k + 1) / n),
                      progress=lambda f, m, label=label: progress(0.97 * f, label + m))
    fit = trainer.fit(resume=resume)
    best = trainer.load_best()
    rec = next(r for r in fit.history if r["epoch"] == fit.best_epoch)  # the best epoch's validation metrics
    val = {k[4:]: v for k, v in rec.items() if k.startswith("val_")}
    test, out = trainer.evaluate(best, "test")
    ends = wset.ends["test"]
    pf = pd.DataFrame({"timestamp": pd.to_datetime(wset.timestamps[ends], utc=True).as_unit("ms"),
                       "symbol": wset.symbols[ends], "split": "test"})
    if n > 1:
        pf["fold"] = k + 1
    pf = pd.concat([pf, pd.DataFrame(task.prediction_columns(out))], axis=1)
    pf.to_parquet(fd / "predictions.parquet", index=False)
    _, vout = trainer.evaluate(best, "val")
    trades, labels = [], []
    for sp, o in (("val", vout), ("test", out)):
        trades.append(task.trade_table(o, wset.ends[sp]).assign(split=sp, fold=k + 1))
        labels.append(task.class_table(o, wset.ends[sp]).assign(split=sp, fold=k + 1))
    pd.concat(trades, ignore_index=True).to_parquet(fd / TRADES_FILE, index=False)
    pd.concat(labels, ignore_index=True).to_parquet(fd / LABELS_FILE, index=False)
    days = {sp: _split_days(plan, sp) for sp in ("val", "test")}
    res = {"days": days, "fold": k + 1, "best_epoch": fit.best_epoch, "epochs_run": len(fit.history), "stopped_early": fit.stopped_early,
           "device": fit.device, "amp": fit.amp, "windows": wset.counts(), "val": _clean(val), "test": _clean(test),
           "split": plan.to_dict(), "n_inputs": len(wset.feature_names), "dropped_features": wset.dropped_features}
    write_json_atomic(fd / "fold_result.json", res)


def fold_task(item: dict[str, Any]) -> dict[str, Any]:
    """One walk-forward fold as an executor task (module-level: it travels by name).  It reads the
    run's ``run.json`` / ``config.yaml`` from the run folder, rebuilds that fold's windows the way
    the driver did (``prepare`` with the run's pinned inputs and targets) and trains the fold into
    ``folds/<k>/`` of the run folder, so it needs the driver's workspace at the same path (a local
    process, or a Ray worker on the same machine or a shared filesystem).  Returns where it ran."""
    import json
    import socket

    ws, d, k = Workspace.open(Path(item["workspace"])), Path(item["run_dir"]), int(item["fold"])
    if not (d / "run.json").is_file():
        raise NotFound(f"fold {k + 1}: the run folder {d} is not visible here",
                       hint="fold tasks need the driver's workspace at the same path (local processes, or a shared disk)")
    run = json.loads((d / "run.json").read_text(encoding="utf-8"))
    cfg = loads((d / "config.yaml").read_text(encoding="utf-8"), str(d / "config.yaml"))
    prep = prepare(ws, run["model"], cfg, featureset_id=run["featureset_id"], report_id=run.get("report_id"),
                   spec=run, folds=[k])
    n = len(prep.plans)
    fd = _fold_dirs(d, n)[k]
    if n > 1 and not item["resume"] and fd.exists():
        # what an attempt whose worker died left (checkpoints, TensorBoard events): the retry starts clean,
        # so the published model holds no file of a dead attempt
        shutil.rmtree(fd)
    _train_fold(fd, run, cfg, k, n, prep.plans[k], prep.windows[0], resume=bool(item["resume"]))
    return {"fold": k + 1, "where": f"{socket.gethostname()}:{os.getpid()}"}


def _folds_on_executor(ws: Workspace, d: Path, spec: dict[str, Any], todo: list[int], n: int, resume: bool) -> None:
    """Run the folds ``todo`` (0-based) as tasks of the executor ``spec`` names; each writes its
    ``folds/<k>/`` exactly as the in-process loop does.  A fold that fails fails the run (the first
    failing fold's message), before anything is published."""
    from engine.executor.choose import executor_from_spec

    if not todo:
        return
    items = [{"workspace": str(ws.root), "run_dir": str(d), "fold": k, "resume": resume} for k in todo]
    with executor_from_spec(spec) as ex:
        progress(0.01, f"{len(todo)} fold(s) on {ex.describe()}")

        def on_progress(done: int, total: int, r) -> None:
            state = "finished" if r.ok else "failed"
            progress(0.97 * done / total, f"fold {todo[r.index] + 1}/{n} {state} ({done}/{total} done, on {r.where or '?'})")

        results = ex.map(fold_task, items, on_progress=on_progress)
    bad = [r for r in results if not r.ok]
    if bad:
        r = bad[0]
        raise KlineLabError(f"fold {todo[r.index] + 1}/{n} failed: {r.error}"
                           + (f" (and {len(bad) - 1} other fold(s))" if len(bad) > 1 else ""))


def _lineage_warnings(ws: Workspace, run: dict[str, Any], plans: list[SplitPlan]) -> dict[str, list[str]]:
    """{split: [warning]} when the analysis report that chose the inputs saw (its train split plus the
    purge) part of this run's validation or test period: those figures are then not out of sample
    (a backtest of such a test period is refused by the out-of-sample guard)."""
    from engine.data.timeframes import tf_seconds

    out: dict[str, list[str]] = {"val": [], "test": []}
    rid = run.get("report_id")
    if not rid:
        return out
    try:
        m = read_manifest(ws, rid, "analysis")
        rp = SplitPlan.from_dict((m.extra or {})["split"])
    except (KeyError, TypeError, ValueError, BadInput, NotFound):
        msg = (f"report {rid} records no train period: whether its feature selection saw the validation or test "
               "period cannot be checked")
        return {"val": [], "test": [msg]}
    seen_end = rp.train_end + pd.Timedelta(seconds=tf_seconds(rp.timeframe) * rp.purge_bars)
    for sp in ("val", "test"):
        hit = [p for p in plans if p.ranges()[sp][0] <= seen_end and p.ranges()[sp][1] >= rp.train_start]
        if hit:
            out[sp].append(f"{sp}: the feature selection of report {rid} saw {rp.train_start:%Y-%m-%d %H:%M} .. "
                           f"{seen_end:%Y-%m-%d %H:%M}, which overlaps this split: its figures are not out of sample")
    return out


def _split_days(plan: SplitPlan, split: str) -> float:
    from engine.data.timeframes import tf_seconds

    a, b = plan.ranges()[split]
    return ((b - a).total_seconds() + tf_seconds(plan.timeframe)) / 86400


def _clean(m: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, (float, np.floating)) and np.isfinite(v) else (None if isinstance(v, float) else v))
            for k, v in m.items()}


HEADLINE = ("loss", "accuracy", "baseline_accuracy", "log_loss", "baseline_log_loss", "macro_f1", "regression_skill")
SPREAD = ("loss", "accuracy", "macro_f1", "profit_factor", "win_rate", "pnl_per_trade", "trades")


def _headline(results: list[dict[str, Any]], split: str, trades: pd.DataFrame, labels: pd.DataFrame,
              model: str) -> dict[str, Any]:
    """The headline metrics of a split.  Trading figures are POOLED over every trade of every horizon
    and fold (profit factor = total gains / total losses, win rate = wins / trades), with their sample,
    bootstrap CIs and warnings; accuracy and macro-F1 of a pooled-classes kind (direction) are pooled over every
    (window, horizon) prediction of every fold.  Loss-type figures of walk-forward runs are the mean over
    folds; every per-fold value and its spread is in ``folds`` (and ``extra.fold_results``)."""
    from engine.training.metrics import classification_evidence, mean_of, trading_evidence

    pooled = model_kinds.get(model).load_task().pooled_classes  # one pool of every class target (direction)
    out: dict[str, Any] = {}
    for k in HEADLINE:
        vals = [r[split].get(k) for r in results]
        if any(v is not None for v in vals):
            out[k] = mean_of(vals)
    t = trades[trades["split"] == split]
    days = float(sum((r.get("days") or {}).get(split, 0.0) for r in results))
    windows = int(sum((r.get("windows") or {}).get(split, 0) for r in results))
    has_trading = any("trade_rate" in r[split] for r in results)
    warnings: list[str] = []
    uncertainty: dict[str, Any] = {}
    if has_trading:
        ev = trading_evidence(t, days=days, windows=windows, split=split)
        valid = sum(int(r[split].get("valid") or 0) for r in results)
        hits = sum(int(r[split].get("hits") or 0) for r in results)
        out |= {k: ev[k] for k in ("profit_factor", "win_rate", "pnl_per_trade", "trades", "independent_trades",
                                   "gross_profit", "gross_loss", "by_horizon")}
        out["trade_rate"] = float(ev["trades"] / valid) if valid else 0.0
        out["directional_accuracy"] = float(hits / ev["trades"]) if ev["trades"] else None
        out["sample"] = ev["sample"]
        uncertainty |= {k: v for k, v in ev["uncertainty"].items() if k != "method"}
        uncertainty["method"] = ev["uncertainty"]["method"]
        warnings += ev["warnings"]
    else:
        out["sample"] = {"windows": windows, "days": round(days, 3)}
    lab = labels[labels["split"] == split]
    if len(lab):
        lab = lab.sort_values(["timestamp", "target", "symbol"], kind="stable")
        groups = ([(model, lab)] if pooled else list(lab.groupby("target", sort=True)))
        by_target = {}
        for name, g in groups:
            y, pred, base = (g[c].to_numpy("int64") for c in ("y", "pred", "base"))
            t_ns = pd.to_datetime(g["timestamp"], utc=True).to_numpy("datetime64[ns]").astype("int64")
            ev = classification_evidence(y, pred, int(g["k"].max()), float(np.mean(y == base)), f"{split} {name}", t_ns)
            ev["baseline_accuracy"] = float(np.mean(y == base))
            by_target[str(name)] = ev
            warnings += ev["warnings"]
        if pooled:
            ev = by_target[model]
            out |= {"accuracy": ev["accuracy"], "macro_f1": ev["macro_f1"], "baseline_accuracy": ev["baseline_accuracy"]}
            out["sample"]["predictions"] = ev["predictions"]
            uncertainty |= {k: v for k, v in ev["uncertainty"].items() if k != "method"}
            uncertainty.setdefault("method", ev["uncertainty"]["method"])
            uncertainty["classification_method"] = ev["uncertainty"]["method"]
        else:
            out["by_target"] = {k: {kk: v[kk] for kk in ("accuracy", "macro_f1", "baseline_accuracy", "predictions",
                                                          "uncertainty")} for k, v in by_target.items()}
    out["uncertainty"] = uncertainty
    if len(results) > 1:
        spread = {}
        for k in SPREAD:
            vals = [r[split].get(k) for r in results]
            v = [float(x) for x in vals if x is not None and np.isfinite(x)]
            if v:
                spread[k] = {"values": vals, "min": min(v), "median": float(np.median(v)), "max": max(v),
                             "std": float(np.std(v, ddof=1)) if len(v) > 1 else None}
        out["folds"] = spread
    out["warnings"] = warnings
    return out


def _publish(ws: Workspace, d: Path, run: dict[str, Any], cfg: TrainConfig, prep: Prepared,
             fold_results: list[dict[str, Any]], preds: pd.DataFrame) -> dict[str, Any]:
    n = len(fold_results)
    last = fold_results[-1]
    trades = pd.concat([pd.read_parquet(f / TRADES_FILE) for f in _fold_dirs(d, n)], ignore_index=True)
    labels = pd.concat([pd.read_parquet(f / LABELS_FILE) for f in _fold_dirs(d, n)], ignore_index=True)
    task_cls = model_kinds.get(run["model"]).load_task()
    metrics = {"best_epoch": last["best_epoch"], "epochs_run": last["epochs_run"],
               "val": _headline(fold_results, "val", trades, labels, run["model"]),
               "test": _headline(fold_results, "test", trades, labels, run["model"])}
    for sp, w in _lineage_warnings(ws, run, prep.plans).items():
        metrics[sp]["warnings"] += w
    metrics["warnings"] = metrics["val"]["warnings"] + metrics["test"]["warnings"]
    metrics["val_loss"] = metrics["val"].get("loss")
    metrics["test_loss"] = metrics["test"].get("loss")
    ts = prep.features["timestamp"]
    wlast = prep.windows[-1]
    extra = {"split": prep.plans[-1].to_dict(), "feature_names": wlast.feature_names, "dropped_features": last["dropped_features"],
             "targets": [s.to_dict() for s in wlast.specs], "horizons": task_cls.horizons_for(cfg, wlast.specs),
             "windows": last["windows"], "device": last["device"],
             "amp": last["amp"], "context_window": cfg.data.context_window, "purge_bars": run["purge_bars"],
             "fold_results": fold_results, "resumes": run.get("resumes", 0), "stopped_early": last["stopped_early"],
             "costs": run.get("costs")}
    if n > 1:
        extra["folds"] = [p.to_dict() for p in prep.plans]
    parents = [run["featureset_id"]] + ([run["report_id"]] if run.get("report_id") else [])
    params = {"model": run["model"], "config": run.get("config_source"), "featureset_id": run["featureset_id"],
              "report_id": run.get("report_id"), "targets": run["targets"], "seed": cfg.training.seed,
              "split_mode": cfg.split.mode, "n_inputs": len(wlast.feature_names)}
    run["status"] = "finished"
    with create_artifact(ws, "model", artifact_id=run["id"], name=run["name"], symbols=run["symbols"],
                         timeframe=run["timeframe"], params=params, parents=parents) as draft:
        for f in ARTIFACT_FILES:
            src = d / f if f in ("config.yaml", "run.json", "split.json") else _fold_dirs(d, n)[-1] / f
            if src.is_file():
                shutil.copy2(src, draft.path(f))
        write_json_atomic(draft.path("run.json"), run)
        shutil.copytree(_fold_dirs(d, n)[-1] / "checkpoints", draft.path("checkpoints"), dirs_exist_ok=True)
        shutil.copytree(d / "tensorboard" if n == 1 else d / "folds", draft.path("tensorboard" if n == 1 else "folds"),
                        dirs_exist_ok=True)
        preds.to_parquet(draft.path("predictions.parquet"), index=False)
        trades.to_parquet(draft.path(TRADES_FILE), index=False)
        labels.to_parquet(draft.path(LABELS_FILE), index=False)
        draft.manifest.metrics = metrics
        draft.manifest.extra = extra
        draft.manifest.start = pd.Timestamp(ts.min()).isoformat()
        draft.manifest.end = pd.Timestamp(ts.max()).isoformat()
    shutil.rmtree(d, ignore_errors=True)
    path = ws.artifact_dir("model", run["id"])
    progress(1.0, f"run {run['id']} finished: best epoch {metrics['best_epoch']}, val loss {metrics['val_loss']:.4f}",
             force=True)
    return {"run_id": run["id"], "model_id": run["id"], "model": run["model"], "path": str(path),
            "featureset_id": run["featureset_id"], "report_id": run.get("report_id"), "metrics": metrics,
            "device": last["device"], "predictions": str(path / "predictions.parquet"), "folds": n}
