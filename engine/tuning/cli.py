"""``python -m engine tune run | list | show`` (hyperparameter search with Optuna; engine/tuning/study.py)."""
from __future__ import annotations

from typing import Any

import engine.tuning as obj
from config.settings import HORIZONS
from engine.argtypes import float_in, int_in
from engine.cli_base import add_featureset
from engine.tuning import KINDS


def cmd_run(args, ws) -> dict:
    from engine.tuning.study import run_tuning

    res = run_tuning(ws, kind=args.kind, featureset_id=args.featureset, config=args.config, space_file=args.space,
                     horizon=args.horizon, trials=args.trials, workers=args.workers or 1, executor_name=args.executor,
                     ray_address=args.ray_address, storage_url=args.storage, study_name=args.study,
                     holdout=args.holdout, folds=args.folds, val_frac=args.val_frac, last_bars=args.last_bars,
                     seed=args.seed, name=args.name, symbol=args.symbol, stage1_id=args.stage1)
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
    p.add_argument("--trials", type=int_in(1, 10_000), default=20, help="trials of this run (default 20)")
    add_cli_options(p)  # --executor, --ray-address, --workers
    p.add_argument("--storage", help="Optuna storage URL: postgresql://user:password@host:5432/db (many machines) or "
                                     "sqlite:///path (default: a journal file in the workspace)")
    p.add_argument("--study", help="study name (default: a new one); the same name on a shared storage continues it")
    p.add_argument("--holdout", type=float_in(0.05, 0.5), default=obj.DEFAULT_HOLDOUT,
                   help=f"fraction of the bars held out for the one confirmation (default {obj.DEFAULT_HOLDOUT})")
    p.add_argument("--folds", type=int_in(1, 20), default=obj.DEFAULT_FOLDS,
                   help=f"walk-forward folds of the search period (default {obj.DEFAULT_FOLDS})")
    p.add_argument("--val-frac", type=float_in(0.05, 0.5), default=obj.DEFAULT_VAL_FRAC,
                   help=f"validation share of each fold's window (default {obj.DEFAULT_VAL_FRAC})")
    p.add_argument("--last-bars", type=int_in(100, 10_000_000), default=None,
                   help="use the last N bars of each symbol (default: data.last_bars of the config)")
    p.add_argument("--seed", type=int_in(0, 2**31 - 1), default=0, help="sampler seed (default 0)")
    p.add_argument("--name", help="a name for the tuning artifact")
    p.set_defaults(func=cmd_run)
    p = s.add_parser("list", help="stored tuning studies")
    p.set_defaults(func=cmd_list)
    p = s.add_parser("show", help="one tuning study: selection, DSR, held-out confirmation, trials")
    p.add_argument("tuning_id", metavar="TUNING_ID")
    p.set_defaults(func=cmd_show)
