"""``python -m engine tune run | list | show`` (hyperparameter search with Optuna; engine/tuning/study.py)."""
from __future__ import annotations

from typing import Any

import engine.tuning as obj
from config.settings import HORIZONS
from engine.cli_base import add_featureset
from engine.tuning import KINDS


def cmd_run(args, ws) -> dict:
    from config import settings
    from engine.tuning.requests import TuneRequest
    from engine.tuning.study import run_tuning

    req = TuneRequest.from_args(args)  # the same typed request the Tuning tab builds
    spec = req.executor_spec() or {"executor": "local", "workers": 1, "ray_address": None}  # the one rule
    from_env = settings.TUNE_STORAGE.get()
    if req.storage is None and from_env:  # how the Tuning tab passes it: never on the command line
        req = req.with_fields(storage=from_env.strip())
    res = run_tuning(ws, kind=req.kind, featureset_id=req.featureset, config=req.config, space_file=req.space,
                     horizon=req.horizon, trials=req.trials, workers=spec["workers"] or 1, executor_name=spec["executor"],
                     ray_address=spec["ray_address"], storage_url=req.storage, study_name=req.study,
                     holdout=req.holdout, folds=req.folds, val_frac=req.val_frac, last_bars=req.last_bars,
                     seed=req.seed, name=req.name, symbol=req.symbol, stage1_id=req.stage1)
    res["_text"] = _text(res)
    return res


def cmd_list(args, ws) -> dict:
    from engine.tuning.store import list_tunings

    rows = list_tunings(ws)
    return {"tunings": rows, "_text": "\n".join(
        f"{r['id']}  {r['kind']}  trials {r['n_trials']}  best {_f(r['best_value'])}  DSR {_f(r['deflated_sharpe'])}  "
        f"held-out Sharpe {_f(r['holdout_sharpe'])}" for r in rows) or "no tuning studies"}


def cmd_show(args, ws) -> dict:
    from engine.tuning.store import load_tuning

    t = load_tuning(ws, args.tuning_id)
    res = {"tuning_id": t.id, "params": t.manifest.params, "metrics": t.manifest.metrics, **t.summary,
           "trials": t.trials().to_dict("records")}
    res["_text"] = _text(res)
    return res


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _text(res: dict) -> str:
    s, c = res.get("selection") or {}, res.get("confirmation") or {}
    dsr = s.get("dsr") or {}
    p = res.get("periods") or {}
    lines = [f"tuning {res.get('tuning_id')}  (study {res.get('study_name') or (res.get('params') or {}).get('study_name')})",
             (f"  trials: {s.get('n_trials')} ({s.get('n_complete')} complete, {s.get('n_pruned')} pruned, "
             f"{s.get('n_failed')} failed)"),
             (f"  best trial {s.get('best_trial')}: validation Sharpe {_f(s.get('best_value'))} "
             f"over {((s.get('in_search') or {}).get('sample') or {}).get('periods')} periods; params {s.get('best_params')}"),
             (f"  deflated Sharpe {_f(s.get('deflated_sharpe'))} (N = {dsr.get('n_trials')} completed trials, "
             f"Sharpe variance {_f(dsr.get('sharpe_variance'))}, {dsr.get('bars')} periods)"),
             (f"  held-out {c.get('start', '?')[:16]} .. {c.get('end', '?')[:16]}: Sharpe {_f(c.get('sharpe'))}, total return "
             f"{_f(c.get('total_return'))} over {(c.get('sample') or {}).get('periods')} periods, "
             f"{(c.get('sample') or {}).get('trades')} trades"),
             (f"  search period {((p.get('search') or {}).get('start') or '?')[:16]} .. "
             f"{((p.get('search') or {}).get('end') or '?')[:16]} ({(p.get('search') or {}).get('bars')} bars)")]
    lines += [f"  warning: {w}" for w in res.get("warnings") or []]
    return "\n".join(lines)


def register(sub) -> None:
    from engine.executor.choose import add_cli_options
    from engine.tuning.requests import TuneRequest as T

    g = sub.add_parser("tune", help="hyperparameter search (Optuna) on walk-forward validation folds, DSR + held-out check")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    p = s.add_parser("run", help="run a study and store its result as a tuning artifact")
    p.add_argument("--kind", choices=KINDS, default="direction", help="what is tuned: direction (DirectionPredictor, default) or stage2 (Stage 2 LightGBM + Stage 1 pass rate)")
    add_featureset(p, required=True)
    p.add_argument("--symbol", help="stage2: the symbol (one pair) whose Stage 2 is tuned")
    p.add_argument("--stage1", help="stage2: Stage 1 artifact trained on this feature set (default: the pair's latest); "
                                    "its test split is the held-out period")
    p.add_argument("--config", default="base", help="training config the search starts from (preset or YAML; default base)")
    p.add_argument("--space", help="YAML search space (default: the kind's built-in space; see docs/CONTRACTS.md)")
    p.add_argument("--horizon", default="1h", choices=HORIZONS, help="traded horizon (default 1h)")
    p.add_argument("--trials", **T.option("trials"), help="trials of this run (default 20)")
    add_cli_options(p)  # --executor, --ray-address, --workers
    p.add_argument("--storage", help="Optuna storage URL: postgresql://user:password@host:5432/db (many machines) or "
                                     "sqlite:///path (default: $KLINELAB_TUNE_STORAGE, which keeps a password out of `ps` and "
                                     "job records; else a journal file in the workspace)")
    p.add_argument("--study", help="study name (default: a new one); the same name on a shared storage continues it")
    p.add_argument("--holdout", **T.option("holdout"),
                   help=f"fraction of the bars held out for the one confirmation (default {obj.DEFAULT_HOLDOUT})")
    p.add_argument("--folds", **T.option("folds"),
                   help=f"walk-forward folds of the search period (default {obj.DEFAULT_FOLDS})")
    p.add_argument("--val-frac", **T.option("val_frac"),
                   help=f"validation share of each fold's window (default {obj.DEFAULT_VAL_FRAC})")
    p.add_argument("--last-bars", **T.option("last_bars"),
                   help="use the last N bars of each symbol (default: data.last_bars of the config)")
    p.add_argument("--seed", **T.option("seed"), help="sampler seed (default 0)")
    p.add_argument("--name", help="a name for the tuning artifact")
    p.set_defaults(func=cmd_run)
    p = s.add_parser("list", help="stored tuning studies")
    p.set_defaults(func=cmd_list)
    p = s.add_parser("show", help="one tuning study: selection, DSR, held-out confirmation, trials")
    p.add_argument("tuning_id", metavar="TUNING_ID")
    p.set_defaults(func=cmd_show)
