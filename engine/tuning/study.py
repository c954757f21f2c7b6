"""A tuning study from start to artifact (``python -m engine tune run ...``).

1. Everything is checked before anything is written: the kind, the config, the search space, the
   horizon, the periods and folds, the storage URL and the executor.
2. The study lives in an Optuna storage: a journal file in the workspace by default
   (``<workspace>/tuning/<study>.log``, Optuna's ``JournalFileBackend``: safe for several processes of
   one machine), or an RDB URL (``--storage postgresql://...`` for workers on many machines, or
   ``sqlite:///...``).  Several ``tune run --study NAME`` on several machines pointed at one PostgreSQL
   share the study.
3. The trials run on the project's executor (``engine.executor``): ``--workers K`` items, each an
   Optuna worker (``study.optimize``) running its share of ``--trials`` against the shared storage,
   with a TPE sampler and a median pruner fed with the per-fold validation figure.  The search
   period's data travels to the workers once (``executor.put``); a worker writes nothing but the
   study's storage.
4. The chosen trial (best objective among the completed ones) gets its deflated Sharpe ratio with
   N = the completed trials and the variance of their per-period Sharpe ratios
   (``engine.stats.selection.deflated_sharpe``), then ONE confirmation on the held-out period.
5. The result is a ``tuning`` artifact (``trials.csv``, ``study.log`` = a journal copy of the study for
   the charts, ``summary.json``) with the feature set as parent, published atomically and indexed.
"""
from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput, Cancelled, Conflict, RemoteError
from engine.data.timeframes import tf_seconds
from engine.progress import progress
from engine.tuning import objective as obj
from engine.tuning.space import KINDS, load_space
from storage.workspace import Workspace, new_id

STUDY_DIR = "tuning"
ARTIFACT_JOURNAL = "study.log"
TRIALS_FILE = "trials.csv"
SUMMARY_FILE = "summary.json"
MAX_TRIALS = 10_000
DSR_OK = 0.95


# -- storage --------------------------------------------------------------------------------------
def storage_spec(ws: Workspace, url: str | None, study_name: str) -> dict[str, Any]:
    """{"kind": "journal", "path"} (default) or {"kind": "rdb", "url", "masked"}; BadInput for a bad URL."""
    if not url:
        return {"kind": "journal", "path": str(ws.root / STUDY_DIR / f"{study_name}.log"),
                "masked": f"journal file {STUDY_DIR}/{study_name}.log (workspace)"}
    from config.secrets import mask_url, parse_url

    u = parse_url(url)
    driver = u.drivername
    if driver == "postgresql" or driver == "postgres":  # SQLAlchemy's default driver (psycopg2) is not installed
        u = u.set(drivername="postgresql+psycopg")
    elif not (driver.startswith(("postgresql+", "sqlite", "mysql"))):
        raise BadInput(f"--storage {mask_url(url)}: not a study storage URL",
                       hint="use postgresql://user:password@host:5432/db (many machines) or sqlite:///path/study.db")
    return {"kind": "rdb", "url": u.render_as_string(hide_password=False), "masked": mask_url(u)}


def open_storage(spec: dict[str, Any]):
    import optuna

    if spec["kind"] == "journal":
        from optuna.storages.journal import JournalFileBackend

        Path(spec["path"]).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(spec["path"]))
    try:
        return optuna.storages.RDBStorage(spec["url"], engine_kwargs={"pool_pre_ping": True},
                                          heartbeat_interval=None)
    except Exception as e:  # noqa: BLE001 - sqlalchemy / driver errors of every kind: an unreachable storage
        from config.secrets import parse_url, scrub

        msg = scrub(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, parse_url(spec["url"]))
        raise RemoteError(f"cannot open the study storage {spec['masked']}: {msg[:300]}",
                          hint="check that the database server runs and the URL (host, port, user, password, db)") from None


def _sampler(seed: int, index: int, trials: int):
    import optuna

    return optuna.samplers.TPESampler(seed=seed + index, n_startup_trials=min(10, max(3, trials // 3)))


def _pruner(trials: int):
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=min(5, max(2, trials // 4)), n_warmup_steps=0)


class TrialError(RuntimeError):
    """A trial's own failure: recorded by Optuna as a FAIL trial, and the worker goes on (a cancel does not)."""


def worker_task(item: dict[str, Any]) -> dict[str, Any]:
    """One Optuna worker on an executor (module-level: it travels by name): runs ``n_trials`` trials of
    the shared study and returns what it did (the trials themselves are in the storage)."""
    import optuna

    from engine.executor import fetch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = fetch(item["data"])
    study = optuna.load_study(study_name=item["study"], storage=open_storage(item["storage"]),
                              sampler=_sampler(item["seed"], item["index"], item["total"]), pruner=_pruner(item["total"]))
    if getattr(data, "kind", "direction") == "stage2":
        from engine.tuning.stage2_objective import run_trial
    else:
        run_trial = obj.run_trial
    def objective(trial):
        try:
            return run_trial(trial, data, item["space"])
        except (Cancelled, optuna.TrialPruned):  # a job's cancel stops the worker; a pruned trial is Optuna's
            raise
        except Exception as e:  # this trial failed (recorded FAIL with the reason); the next one runs
            from engine.executor import describe_error

            msg = describe_error(e)[0][:500]
            trial.set_user_attr("error", msg)
            raise TrialError(msg) from e

    study.optimize(objective, n_trials=item["n_trials"], catch=(TrialError,),
                   gc_after_trial=True)
    return {"worker": f"{os.uname().nodename}:{os.getpid()}", "trials": item["n_trials"]}


# -- the run --------------------------------------------------------------------------------------
def _finished(storage, study_id: int) -> int:
    import optuna

    st = optuna.trial.TrialState
    return len(storage.get_all_trials(study_id, deepcopy=False, states=(st.COMPLETE, st.PRUNED, st.FAIL)))


class _Watch:
    """Progress while the workers run: polls the storage for finished trials (the workers may be other
    processes or machines, which do not write the job's state)."""

    def __init__(self, storage, study_id: int, before: int, total: int):
        self.storage, self.study_id, self.before, self.total = storage, study_id, before, total
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = -1
        while not self.stop.wait(1.0):
            try:
                n = _finished(self.storage, self.study_id) - self.before
            except Exception:  # noqa: BLE001, S112 - a progress line is never worth failing the run
                continue
            if n != last:
                last = n
                progress(0.1 + 0.7 * min(n, self.total) / self.total, f"trials finished: {n}/{self.total}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


def _check_executor_storage(executor, spec: dict[str, Any]) -> None:
    if spec["kind"] != "journal" or executor.name != "ray":
        return
    if getattr(executor, "address", None) and executor.shared_disk is not True:
        raise BadInput("the default study storage is a file in this workspace, which Ray workers on other machines "
                       "cannot write",
                       hint="give --storage postgresql://user:password@host:5432/db (reachable from every worker), or set "
                            "KLINELAB_SHARED_DISK=1 when every worker mounts the workspace at the same path")


@dataclass
class _Search:
    """What the steps of a study hand each other: the search data, its periods and folds."""

    data: Any
    periods: Any
    plans: list
    tf: str
    purge: int
    symbols: list[str]
    parents: list[str]
    holdout: float | None
    confirm_plan: Any = None  # direction: the chronological split whose test part is the held-out period
    prep: Any = None  # direction: the prepared features / targets (the confirmation trains on them)
    full: Any = None  # stage2: the whole Stage 2 data (search + held-out)
    warnings: list[str] = field(default_factory=list)


def _stage2_search(ws: Workspace, featureset_id: str, symbol, stage1_id, horizon: str, fee_fn, folds: int,
                   val_frac: float, threads: int) -> _Search:
    """Stage 2: the held-out period is Stage 1's own test split; the search period ends before it (purged)."""
    from engine.splits import walk_forward
    from engine.tuning import stage2_objective as s2o

    full, s1plan, s1_id, pre_warnings = s2o.load_stage2_data(ws, featureset_id, symbol, stage1_id, horizon, fee_fn)
    tf, purge = full.timeframe, full.purge_bars
    step = tf_seconds(tf) * 1_000_000_000
    ns = np.unique(full.ts)
    hold_ns = ns[ns >= s1plan.test_start.value]
    search_ns = ns[ns <= min(s1plan.val_end.value, s1plan.test_start.value - (purge + 1) * step)]
    min_rows = 50
    if len(hold_ns) < 10 or len(search_ns) < 4 * min_rows * (folds + 1):
        raise BadInput(f"Stage 1 {s1_id}'s split leaves {len(search_ns):,} search bars and {len(hold_ns):,} held-out "
                       f"bars: too few for {folds} fold(s)", hint="use fewer --folds or a Stage 1 on more data")
    ts_ = lambda v: pd.Timestamp(int(v), tz="UTC")
    periods = obj.Periods(ts_(search_ns[0]), ts_(search_ns[-1]), ts_(hold_ns[0]), ts_(hold_ns[-1]), len(search_ns),
                          len(hold_ns), purge)
    data = full.rows(full.ts <= search_ns[-1])
    data.threads = threads
    data.plans = plans = walk_forward(pd.to_datetime(data.ts, utc=True), tf, n_folds=folds, purge_bars=purge,
                                      mode="expanding", initial_frac=0.5, val_frac=val_frac, min_rows=min_rows)
    return _Search(data, periods, plans, tf, purge, list(full.symbols), [featureset_id, s1_id], None, full=full,
                   warnings=list(pre_warnings))


def _direction_search(ws: Workspace, kind: str, cfg, base: dict, space: dict, featureset_id: str, horizon: str, fee_fn,
                      holdout: float, folds: int, val_frac: float, threads: int) -> _Search:
    """Direction: the last ``holdout`` of the bars is held out (purged); the rest is cut into walk-forward folds."""
    from engine.data.canonical import ts_ns
    from engine.features.store import load_feature_set
    from engine.splits import chronological_split, walk_forward
    from engine.training.run import prepare

    prep = prepare(ws, kind, cfg, featureset_id=featureset_id)
    tf = prep.spec["timeframe"]
    symbols = list(prep.spec["symbols"])
    # prepare() keeps only timestamp + symbol of the selected rows (the run's windows are built lazily);
    # the trials build their windows in memory from the input columns of the same rows
    inputs = load_feature_set(ws, featureset_id).features(list(prep.spec["inputs"]), symbols=symbols)
    prep.features = prep.features[["timestamp", "symbol"]].merge(inputs, on=["timestamp", "symbol"], how="left",
                                                                 validate="one_to_one")
    purge = int(prep.spec["purge_bars"])
    cw = space.get("data.context_window")
    ctx = [cfg.data.context_window] if cw is None else \
        [int(c) for c in cw["choices"]] if cw["type"] == "categorical" else [int(cw["high"])]
    min_rows = max(ctx) + 10
    periods = obj.cut_periods(prep.features["timestamp"], tf, holdout, purge, min_search=4 * min_rows * (folds + 1))
    in_search = (prep.features["timestamp"] <= periods.search_end).to_numpy()
    s_feats = prep.features[in_search].reset_index(drop=True)
    s_targs = prep.targets[in_search].reset_index(drop=True)
    plans = walk_forward(s_feats["timestamp"], tf, n_folds=folds, purge_bars=purge, mode="expanding", initial_frac=0.5,
                         val_frac=val_frac, min_rows=min_rows)
    search_ns = np.unique(ts_ns(s_feats["timestamp"]))
    n_val = max(min_rows, int(len(search_ns) * val_frac))
    confirm_plan = chronological_split(prep.features["timestamp"], tf, purge_bars=purge,
                                       train_end=pd.Timestamp(int(search_ns[-n_val - purge - 1]), tz="UTC"),
                                       val_end=periods.search_end, min_rows=min_rows)
    if confirm_plan.test_start != periods.holdout_start:
        raise BadInput(f"internal: the confirmation's test period starts {confirm_plan.test_start}, "
                       f"not at the held-out start {periods.holdout_start}")
    data = obj.StudyData(s_feats, s_targs, list(prep.spec["inputs"]), symbols, tf, horizon, purge,
                         plans, base, float(fee_fn(symbols)), threads)
    return _Search(data, periods, plans, tf, purge, symbols, [featureset_id], holdout, confirm_plan=confirm_plan, prep=prep)


def _open_study(storage, spec: dict[str, Any], study_name: str, setup: dict[str, Any]):
    """Create (or continue) the study; a study of the same name with another setup is refused."""
    import optuna

    try:
        study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize", load_if_exists=True)
    except Exception as e:
        if isinstance(e, (BadInput, RemoteError)):
            raise
        raise RemoteError(f"cannot create the study in {spec['masked']}: {str(e).splitlines()[0][:300]}",
                          hint="check the storage URL and that the server accepts connections") from None
    old = study.user_attrs.get("setup")
    if old is not None and json.dumps(old, sort_keys=True) != json.dumps(json.loads(json.dumps(setup)), sort_keys=True):
        raise Conflict(f"study {study_name} exists in {spec['masked']} with another setup",
                       hint="use another --study name, or the same feature set / horizon / space / periods")
    if old is None:
        study.set_user_attr("setup", json.loads(json.dumps(setup)))
    return study


def _run_trials(executor, storage, spec, study, study_name: str, search: _Search, space: dict, trials: int, workers: int,
                folds: int, seed: int):
    """``trials`` split over ``workers`` Optuna workers on the executor; returns (results, executor description)."""
    before = _finished(storage, study._study_id)
    n_workers = max(1, min(workers, trials))
    shares = [trials // n_workers + (1 if i < trials % n_workers else 0) for i in range(n_workers)]
    progress(0.1, f"study {study_name}: {trials} trial(s) on {n_workers} worker(s) ({executor.describe()['executor']}), "
                  f"{folds} walk-forward validation fold(s) each, storage {spec['masked']}")
    with executor:
        handle = executor.put(search.data)
        items = [{"storage": spec, "study": study_name, "n_trials": k, "data": handle, "space": space, "seed": seed,
                  "index": i, "total": trials} for i, k in enumerate(shares)]
        with _Watch(storage, study._study_id, before, trials):
            results = executor.map(worker_task, items)
        described = executor.describe()
    worker_errors = [r.error for r in results if not r.ok]
    if len(worker_errors) == len(results):
        raise RemoteError(f"every tuning worker failed: {worker_errors[0]}")
    if worker_errors:
        search.warnings.append(f"{len(worker_errors)} of {len(results)} worker(s) failed: {worker_errors[0]}")
    return described


def _select(study_name: str, storage, search: _Search):
    """The best completed trial and its deflated Sharpe ratio over the study's completed trials."""
    import optuna

    from engine.stats.selection import deflated_sharpe

    study = optuna.load_study(study_name=study_name, storage=storage)
    all_trials = study.get_trials(deepcopy=False)
    st = optuna.trial.TrialState
    complete = [t for t in all_trials if t.state == st.COMPLETE and t.value is not None and math.isfinite(t.value)]
    if not complete:
        fails = [t.user_attrs.get("error") for t in all_trials if t.state == st.FAIL]
        why = next((f for f in fails if f), None)
        raise BadInput(f"no trial of study {study_name} completed ({len(all_trials)} trial(s): "
                       f"{sum(t.state == st.PRUNED for t in all_trials)} pruned, {len(fails)} failed)"
                       + (f"; first failure: {why[:300]}" if why else ""),
                       hint="use more data (--last-bars), fewer folds, or a wider search space")
    best = max(complete, key=lambda t: t.value)
    trial_sharpes = np.array([t.user_attrs.get("sharpe_per_period", np.nan) for t in complete], dtype="float64")
    dsr = deflated_sharpe(np.asarray(best.user_attrs.get("returns", []), dtype="float64"), trial_sharpes)
    if dsr["value"] is not None and dsr["value"] < DSR_OK:
        search.warnings.append(f"deflated Sharpe ratio {dsr['value']:.2f} (< {DSR_OK}): the best trial's validation Sharpe is "
                               f"not distinguishable from the best of {len(complete)} zero-skill trials")
    if dsr["value"] is None:
        search.warnings.append(f"deflated Sharpe ratio undefined: {dsr.get('reason', 'not enough periods')}")
    return all_trials, best, dsr


def _days(tf: str, bars: int) -> float:
    return round(bars * tf_seconds(tf) / 86400, 3)


def _confirm(kind: str, search: _Search, base: dict, best, horizon: str) -> tuple[dict[str, Any], int]:
    """ONE run of the best parameters on the held-out period; returns (confirmation, trades)."""
    from scipy import stats as sps

    from engine.stats.selection import probabilistic_sharpe
    from engine.tuning.space import apply

    periods = search.periods
    progress(0.85, f"confirming trial {best.number} once on the held-out period {periods.holdout_start:%Y-%m-%d} .. "
                   f"{periods.holdout_end:%Y-%m-%d}")
    if kind == "stage2":
        from engine.tuning import stage2_objective as s2o

        full = search.full
        conf = s2o.fit_and_trade(full, dict(best.params), full.ts <= periods.search_end.value,
                                 full.ts >= periods.holdout_start.value)
        trained_on = {"train_start": periods.search_start.isoformat(), "train_end": periods.search_end.isoformat(),
                      "stage1_threshold": conf["threshold"], "samples": conf["samples"]}
    else:
        cfg_best, trade_best = apply(base, dict(best.params))
        cp = search.confirm_plan
        conf = obj.fit_and_trade(search.data, cfg_best, trade_best, cp, "test", features=search.prep.features,
                                 targets=search.prep.targets)
        trained_on = {"train_start": cp.train_start.isoformat(), "train_end": cp.train_end.isoformat(),
                      "val_start": cp.val_start.isoformat(), "val_end": cp.val_end.isoformat()}
    r = conf["returns"].to_numpy()
    if len(r) and (conf["returns"].index.min() < periods.holdout_start):
        raise BadInput("internal: a confirmation period starts before the held-out period")
    c_sr = obj.sharpe(r)
    psr = probabilistic_sharpe(c_sr, len(r), float(sps.skew(r, bias=False)) if len(r) > 2 else 0.0,
                               float(sps.kurtosis(r, fisher=False, bias=False)) if len(r) > 3 else 3.0) if len(r) > 2 else None
    ppy = obj.periods_per_year(search.tf, horizon)
    confirmation = {
        "start": periods.holdout_start.isoformat(), "end": periods.holdout_end.isoformat(),
        "sharpe_per_period": c_sr, "sharpe": c_sr * math.sqrt(ppy), "total_return": float(np.prod(1 + r) - 1) if len(r) else 0.0,
        "mean_return": float(r.mean()) if len(r) else None, "probabilistic_sharpe": psr,
        "sample": {"periods": len(r), "trades": conf["trades"], "windows": conf["windows"],
                   "bars": periods.holdout_bars, "days": _days(search.tf, periods.holdout_bars)},
        "purge_bars": search.purge, "trained_on": trained_on,
    }
    if len(r) < 30:
        search.warnings.append(f"the held-out confirmation has only {len(r)} decision periods (fewer than 30)")
    if conf["trades"] < 30:
        search.warnings.append(f"the held-out confirmation made only {conf['trades']} trades (fewer than 30)")
    if confirmation["sharpe"] <= 0 < (best.value or 0):
        search.warnings.append(f"held-out Sharpe {confirmation['sharpe']:.3g} is not positive although the best trial's "
                               f"validation Sharpe was {best.value:.3g}")
    return confirmation, conf["trades"]


def _summary(search: _Search, all_trials: list, best, dsr: dict, confirmation: dict, horizon: str, trials: int,
             folds: int) -> dict[str, Any]:
    """selection / confirmation / periods / folds / warnings, as stored and returned."""
    import optuna

    st = optuna.trial.TrialState
    counts = {s.name.lower(): sum(t.state == s for t in all_trials) for s in (st.COMPLETE, st.PRUNED, st.FAIL)}
    n_finished = counts["complete"] + counts["pruned"] + counts["fail"]
    if n_finished < len(all_trials):  # RUNNING / WAITING: a worker of another run still at it, or one that was killed
        search.warnings.append(f"{len(all_trials) - n_finished} trial(s) of the study are unfinished (running elsewhere, or "
                               "left by a killed worker); they are not counted")
    ppy = obj.periods_per_year(search.tf, horizon)
    selection = {
        "objective": f"annualised Sharpe ratio of the pooled walk-forward validation periods (horizon {horizon}, "
                     f"x sqrt({ppy:g}) periods a year)",
        "best_trial": best.number, "best_value": float(best.value), "best_params": dict(best.params),
        "n_trials": n_finished, "n_complete": counts["complete"], "n_pruned": counts["pruned"], "n_failed": counts["fail"],
        "n_this_run": trials, "deflated_sharpe": dsr["value"], "dsr": dsr,
        "sharpe_variance": dsr["sharpe_variance"],
        "in_search": {"sharpe": float(best.value), "sharpe_per_period": best.user_attrs.get("sharpe_per_period"),
                      "fold_sharpes": best.user_attrs.get("fold_sharpes"),
                      "fold_trades": best.user_attrs.get("fold_trades"), "fold_periods": best.user_attrs.get("fold_periods"),
                      "sample": {"periods": best.user_attrs.get("periods"), "trades": best.user_attrs.get("trades"),
                                 "windows": best.user_attrs.get("windows"), "folds": folds}},
        "rule": "N = the study's completed trials (pruned and failed ones are counted beside it); the DSR uses the "
                "per-period Sharpe ratios of the completed trials and the best trial's pooled validation returns",
    }
    folds_d = [{"fold": k + 1, "train_start": p.train_start.isoformat(), "train_end": p.train_end.isoformat(),
                "val_start": p.val_start.isoformat(), "val_end": p.val_end.isoformat()} for k, p in enumerate(search.plans)]
    period_d = search.periods.to_dict()
    period_d["search"]["days"] = _days(search.tf, search.periods.search_bars)
    period_d["holdout"]["days"] = _days(search.tf, search.periods.holdout_bars)
    return {"selection": selection, "confirmation": confirmation, "periods": period_d, "folds": folds_d,
            "warnings": search.warnings}


def _publish(ws: Workspace, storage, study_name: str, name: str | None, search: _Search, params: dict, summary: dict,
             table: pd.DataFrame) -> str:
    """The ``tuning`` artifact: a journal copy of the study, trials.csv, summary.json; published atomically."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from storage.artifacts import create_artifact

    progress(0.95, "writing the tuning artifact")
    sel, conf = summary["selection"], summary["confirmation"]
    metrics = {"best_value": sel["best_value"], "n_trials": sel["n_trials"], "n_complete": sel["n_complete"],
               "n_pruned": sel["n_pruned"], "n_failed": sel["n_failed"], "deflated_sharpe": sel["deflated_sharpe"],
               "sharpe_variance": sel["sharpe_variance"], "holdout_sharpe": conf["sharpe"],
               "holdout_total_return": conf["total_return"], "holdout_periods": conf["sample"]["periods"],
               "holdout_trades": conf["sample"]["trades"]}
    period_d = summary["periods"]
    with create_artifact(ws, "tuning", name=name or f"{params['kind']} tuning of {params['featureset_id']}",
                         symbols=search.symbols, timeframe=search.tf, params=params, parents=search.parents) as d:
        optuna.copy_study(from_study_name=study_name, from_storage=storage,
                          to_storage=optuna.storages.JournalStorage(JournalFileBackend(str(d.path(ARTIFACT_JOURNAL)))),
                          to_study_name=study_name)
        for leftover in d.dir.glob(ARTIFACT_JOURNAL + ".lock*"):
            leftover.unlink(missing_ok=True)
        table.to_csv(d.path(TRIALS_FILE), index=False)
        Path(d.path(SUMMARY_FILE)).write_text(json.dumps(_safe(summary), indent=2), encoding="utf-8")
        d.manifest.metrics = _safe(metrics)
        d.manifest.extra = _safe({**summary, "seen_periods": [{"start": period_d["search"]["start"],
                                                              "end": period_d["search"]["end"],
                                                              "what": f"tuning study {study_name} (search period)"}]})
        d.manifest.start, d.manifest.end = search.periods.search_start.isoformat(), search.periods.holdout_end.isoformat()
        return d.manifest.id


def run_tuning(ws: Workspace, *, kind: str, featureset_id: str, config: str = "base", space_file: str | None = None,
               horizon: str = "1h", trials: int = 20, workers: int = 1, executor_name: str | None = None,
               ray_address: str | None = None, storage_url: str | None = None, study_name: str | None = None,
               holdout: float = obj.DEFAULT_HOLDOUT, folds: int = obj.DEFAULT_FOLDS, val_frac: float = obj.DEFAULT_VAL_FRAC,
               last_bars: int | None = None, seed: int = 0, name: str | None = None, symbol: str | None = None,
               stage1_id: str | None = None) -> dict[str, Any]:
    import optuna

    from engine.costs import load_costs
    from engine.executor.choose import get_executor
    from engine.training.config import load_config
    from storage.workspace import check_id

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # 1. checks (nothing written yet)
    if kind not in KINDS:
        raise BadInput(f"unknown tuning kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    if not 1 <= trials <= MAX_TRIALS:
        raise BadInput(f"--trials must be in [1, {MAX_TRIALS:,}], got {trials}")
    cfg = load_config(config)
    if last_bars is not None:
        cfg.data.last_bars = int(last_bars)
    cfg.split.mode = "chronological"  # the base config's own split is not used; prepare() only checks the data
    if horizon not in cfg.data.horizons:
        raise BadInput(f"--horizon {horizon} is not among the config's data.horizons ({', '.join(cfg.data.horizons)})")
    base = cfg.to_dict()
    space = load_space(kind, space_file, base)
    study_name = study_name or new_id("tune", kind)
    check_id(study_name)
    spec = storage_spec(ws, storage_url, study_name)
    executor = get_executor(executor_name, address=ray_address, workers=workers)
    _check_executor_storage(executor, spec)

    progress(0.0, f"loading feature set {featureset_id}")
    fee_fn = load_costs().round_trip
    threads = max(1, (os.cpu_count() or 1) // max(1, workers)) if executor.name == "local" else 1
    if kind == "stage2":
        search = _stage2_search(ws, featureset_id, symbol, stage1_id, horizon, fee_fn, folds, val_frac, threads)
    else:
        search = _direction_search(ws, kind, cfg, base, space, featureset_id, horizon, fee_fn, holdout, folds, val_frac,
                                   threads)

    # 2. the study, 3. the trials on the executor
    storage = open_storage(spec)
    setup = {"kind": kind, "featureset_id": featureset_id, "parents": search.parents, "symbols": search.symbols,
             "horizon": horizon, "config": str(config), "holdout": search.holdout, "folds": folds, "val_frac": val_frac,
             "last_bars": cfg.data.last_bars, "space": space, "search_end": search.periods.search_end.isoformat()}
    study = _open_study(storage, spec, study_name, setup)
    described = _run_trials(executor, storage, spec, study, study_name, search, space, trials, workers, folds, seed)

    # 4. selection and its corrections, 5. ONE confirmation on the held-out period
    progress(0.8, "selection: deflated Sharpe ratio of the best trial")
    all_trials, best, dsr = _select(study_name, storage, search)
    confirmation, _ = _confirm(kind, search, base, best, horizon)
    summary = _summary(search, all_trials, best, dsr, confirmation, horizon, trials, folds)
    table = trials_table(all_trials)

    # 6. the artifact
    params = {"kind": kind, "featureset_id": featureset_id, "config": str(config), "horizon": horizon, "trials": trials,
              "workers": workers, "executor": described, "storage": spec["masked"], "study_name": study_name,
              "holdout": search.holdout if kind != "stage2" else "stage1 test split", "folds": folds, "val_frac": val_frac,
              "last_bars": cfg.data.last_bars if kind != "stage2" else None, "seed": seed, "symbols": search.symbols,
              "stage1_id": search.parents[1] if kind == "stage2" else None,
              "space": space, "sampler": "TPESampler", "pruner": "MedianPruner", "fee_round_trip": float(search.data.fee)}
    tid = _publish(ws, storage, study_name, name, search, params, summary, table)
    progress(1.0, f"tuning {tid}: best trial {best.number} of {summary['selection']['n_trials']}")
    return {"tuning_id": tid, "artifact_id": tid, "study_name": study_name, "storage": spec["masked"],
            "executor": described, "trials": _safe(table.drop(columns=["returns"], errors="ignore").to_dict("records")),
            **_safe(summary)}


def trials_table(trials: list) -> pd.DataFrame:
    rows = []
    for t in trials:
        ua = t.user_attrs
        rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                     "sharpe_per_period": ua.get("sharpe_per_period"), "periods": ua.get("periods"),
                     "trades": ua.get("trades"), "folds_done": ua.get("folds_done"),
                     "fold_sharpes": json.dumps(ua.get("fold_sharpes")) if ua.get("fold_sharpes") is not None else None,
                     "fold_trades": json.dumps(ua.get("fold_trades")) if ua.get("fold_trades") is not None else None,
                     "duration_s": t.duration.total_seconds() if t.duration else None, "worker": ua.get("worker"), "error": ua.get("error"),
                     **{f"params_{k}": v for k, v in t.params.items()}})
    return pd.DataFrame(rows)


def _safe(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_safe(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v
