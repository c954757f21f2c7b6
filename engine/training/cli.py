"""``train`` commands: one ``train KIND`` per model kind of the registry that ``train`` runs
(engine/model_kinds.py: direction, patchtst, and any kind registered later).

    python -m engine train patchtst  --config FILE --featureset ID [--targets a,b] [--report ID] [--remote HOST] [--json]
    python -m engine train direction --config FILE --featureset ID [--report ID] [--remote HOST] [--json]
        [--executor local|ray] [--workers K] [--ray-address A]   (walk-forward folds as executor tasks)
    python -m engine train resume RUN_ID [--json]
    python -m engine train list [--json]

``--config`` takes a file or a preset name (base, production, test, anti_overfit).  ``--json``
prints the run id, its folder and the final metrics.
"""
from __future__ import annotations

from config.errors import Refused
from engine import model_kinds
from engine.cli_base import add_featureset
from engine.executor.choose import add_cli_options


def _forward_remote(req, ws) -> dict:
    try:
        from engine.sync.remote_jobs import submit_remote_train
    except ImportError:
        raise Refused("remote training is not available in this build") from None
    return submit_remote_train(ws, req.remote, req.model_copy(update={"remote": None}).argv())


def cmd_train(args, ws) -> dict:
    from engine.training.config import TrainRequest, load_config

    req = TrainRequest.from_args(args)  # the same typed request the Training page builds
    if req.remote:
        return _forward_remote(req, ws)
    # validate the config before importing torch (a refused config costs ~150 MB, not ~450 MB)
    cfg = load_config(req.config).check_for(req.model)
    if cfg.training.device in ("cuda", "mps"):  # refused before any run folder exists (issue 17, defect 13)
        from engine.training.trainer import pick_device

        pick_device(cfg.training.device)
    from engine.training.run import start_run

    res = start_run(ws, req.model, req.config, featureset_id=req.featureset, report_id=req.report,
                    targets=req.targets, name=req.name, executor=req.executor_spec())
    return res | {"_text": _text(res)}


def cmd_resume(args, ws) -> dict:
    from engine.training.config import ResumeRequest
    from engine.training.run import resume_run

    res = resume_run(ws, ResumeRequest.from_args(args).run_id)
    return res | {"_text": _text(res)}


def cmd_list(args, ws) -> dict:
    from engine.training.runs import list_runs

    rows = list_runs(ws)
    text = "\n".join(f"{r['id']:<48} {r['model']:<10} {r['status']:<12} epochs {r.get('epochs') or 0:<4} "
                     f"val loss {r['best_val_loss'] if r.get('best_val_loss') is not None else '-'}" for r in rows)
    return {"runs": rows, "_text": text or "no training runs"}


def _text(res: dict) -> str:
    m = res["metrics"]
    v, t = m.get("val", {}), m.get("test", {})

    def f(x):
        return "-" if x is None else f"{x:.4f}"

    def ci(d, k):
        c = (d.get("uncertainty") or {}).get(k)
        return "" if not c else f" [95% CI {c[0]:.3g}, {c[1]:.3g}]"

    def line(name, d):
        s = d.get("sample") or {}
        out = (f"{name}accuracy {f(d.get('accuracy'))}{ci(d, 'accuracy')} (majority {f(d.get('baseline_accuracy'))})")
        if "log_loss" in d:
            out += f", log loss {f(d.get('log_loss'))} (prior {f(d.get('baseline_log_loss'))})"
        if "trades" in d:
            out += (f", pooled win rate {f(d.get('win_rate'))}{ci(d, 'win_rate')}, pooled profit factor "
                    f"{f(d.get('profit_factor'))}{ci(d, 'profit_factor')} over {d.get('trades')} trades "
                    f"({d.get('independent_trades')} independent)")
        return out + f"; {s.get('days', '-')} days, {s.get('windows', '-')} windows\n"

    text = (f"run {res['run_id']} ({res['model']}) -> {res['path']}\n"
            f"best epoch {m['best_epoch']} of {m['epochs_run']}; val loss {f(m.get('val_loss'))}, test loss {f(m.get('test_loss'))}\n"
            + line("val:  ", v) + line("test: ", t))
    return text + "".join(f"warning: {w}\n" for w in m.get("warnings") or []).rstrip("\n")


def register(sub) -> None:
    kinds = model_kinds.kinds(trainable=True)
    g = sub.add_parser("train", help=f"train {' / '.join(k.label for k in kinds)} models")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    for kind in kinds:
        p = s.add_parser(kind.name, help=kind.help)
        p.add_argument("--config", required=True, help="YAML file or preset: base, production, test, anti_overfit")
        add_featureset(p, help="feature set id (default: data.featureset of the config)")
        p.add_argument("--report", help="analysis report id: its included_features.txt becomes the input whitelist")
        for opt in kind.cli_options:
            flags, kw = model_kinds.TRAIN_OPTIONS[opt]
            p.add_argument(*flags, **kw)
        p.add_argument("--name", help="a name for the run")
        p.add_argument("--remote", metavar="HOST", help="run on this SSH host profile instead (Cloud Sync)")
        add_cli_options(p)  # walk-forward folds as executor tasks; none given: one fold after another here
        p.set_defaults(func=cmd_train, model=kind.name, targets=None)
    p = s.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    p.add_argument("run_id", metavar="RUN_ID", help="an unfinished run (`train list`); once finished, the run is the "
                   "model artifact of the same id")
    p.set_defaults(func=cmd_resume)
    p = s.add_parser("list", help="finished and unfinished runs")
    p.set_defaults(func=cmd_list)
