"""`stage1` and `stage2` commands (SPEC 13).

    stage1 import PATH_OR_REPO --symbol S --timeframe TF [--features A,B,...] [--sequence-length N]
    stage1 inspect PATH_OR_REPO --symbol S --timeframe TF          (writes nothing)
    stage1 train --symbol S --timeframe TF [--featureset ID] [--classes 2|5] ...
    stage1 list
    stage2 train --symbol S --timeframe TF [--stage1 ID] [--threshold T | --pass-rate R] ...
    stage2 batch [--symbols A,B] [--timeframes 15m,1h] [--stage1 latest|hub|train] [--resume JOB]
    stage2 list, stage2 show ID
"""
from __future__ import annotations

from config.errors import BadInput
from engine.cli_base import add_featureset, add_symbols, add_timeframe
from engine.executor.choose import add_cli_options
from engine.stage2.requests import (
    Stage1ImportRequest,
    Stage1InspectRequest,
    Stage1TrainRequest,
    Stage2BatchRequest,
    Stage2TrainRequest,
)


def _num(v) -> str:
    return "-" if v is None else f"{v:.4f}"


# -- stage1 ----------------------------------------------------------------------------------------
def keras_lines(k: dict, indent: str = "") -> list[str]:
    """What the .h5 file was and what was done to read it (file's Keras version, rewrites, output)."""
    if not k:
        return []
    w = k.get("weights_checked") or {}
    lines = [(f"{indent}file: Keras {k.get('keras_version')} ({k.get('backend') or 'backend not recorded'}); "
              f"output: {k.get('output')}; weights checked against the file: {w.get('layers', 0)} layers, "
              f"{w.get('arrays', 0)} arrays, {w.get('values', 0):,} values")]
    rw = k.get("rewrites") or []
    lines.append(f"{indent}translation to Keras 3: " + ("none needed" if not rw else f"{len(rw)} rewrite(s)"))
    lines += [f"{indent}  - {r}" for r in rw]
    return lines


def _s1_text(res: dict) -> str:
    lines = [f"stage1 {res['stage1_id']}  {res['symbol']} {res['timeframe']}  ({res.get('source', 'trained')})",
             f"  path: {res['model_dir']}", *keras_lines(res.get("keras") or {}, "  "),
             f"  inputs: {len(res['feature_names'])} features x {res['sequence_length']} bars; classes: {', '.join(res['class_names'])}"]
    if res.get("test_prediction"):
        tp = res["test_prediction"]
        lines.append(f"  test prediction shape: ({', '.join(map(str, tp['shape']))})  value: {tp['value']}")
    if res.get("suggested_threshold") is not None:
        lines.append(f"  suggested threshold (4% of validation bars): {res['suggested_threshold']:.4f}")
    for note in res.get("notes") or []:
        lines.append(f"  note: {note}")
    if res.get("summary"):
        lines.append(res["summary"])
    return "\n".join(lines)


def cmd_s1_import(args, ws):
    from engine.stage2.stage1_io import import_stage1

    req = Stage1ImportRequest.from_args(args)  # the same typed request the Stage 2 page builds
    res = import_stage1(ws, req.source, req.symbol, req.timeframe, feature_names=req.feature_names(),
                        sequence_length=req.sequence_length, revision=req.revision, repo_type=req.repo_type,
                        name=req.name or "", model_file=req.model_file)
    res["_text"] = _s1_text(res)
    return res


def cmd_s1_inspect(args, ws):
    from engine.stage2.stage1_io import inspect_stage1

    req = Stage1InspectRequest.from_args(args)  # the same typed request the Stage 2 page builds
    res = inspect_stage1(req.source, req.symbol, req.timeframe, ws=ws, feature_names=req.feature_names(),
                         sequence_length=req.sequence_length, revision=req.revision, repo_type=req.repo_type,
                         model_file=req.model_file)
    lines = keras_lines(res.get("keras") or {}) + [
             f"input shape {tuple(res['input_shape'])}, output shape {tuple(res['output_shape'])}",
             f"params.json keys: {', '.join(res['params_keys'])}",
             f"sequence length: {res['sequence_length']} ({res['sources'].get('sequence_length', 'unknown')})",
             f"classes: {', '.join(res['class_names'])} ({res['sources'].get('class_names')})"]
    lines += [f"problem: {p}" for p in res["problems"]] + [f"missing: {m}" for m in res["missing"]]
    lines += [f"note: {n}" for n in res.get("notes") or []]
    if res.get("test_prediction"):
        tp = res["test_prediction"]
        lines.append(f"test prediction (one window at the training mean): shape ({', '.join(map(str, tp['shape']))}) "
                     f"value {tp['value']}")
    lines.append("ready to import" if res["ready"] else "not ready: give the missing items to `stage1 import`")
    res["_text"] = "\n".join(lines) + "\n" + res["summary"]
    return res


def cmd_s1_train(args, ws):
    from engine.stage2.pipeline import train_stage1_pair

    req = Stage1TrainRequest.from_args(args)  # the same typed request the Stage 2 page builds
    res = train_stage1_pair(ws, req.symbol, req.timeframe, req.stage1_config(), featureset_id=req.featureset,
                            name=req.name or "")
    res["_text"] = _s1_text(res) + "\n" + "\n".join(
        f"  {s}: accuracy {m['accuracy']:.4f}, AUC {_num(m.get('auc'))} (n={m.get('bars', '?')} bars, "
        f"{m.get('pivots', '?')} pivots)" for s, m in res["metrics"].items())
    return res


def _listing(ws, kind: str, args) -> dict:
    from storage.artifacts import list_manifests

    rows = [{"id": m.id, "symbol": ",".join(m.symbols), "timeframe": m.timeframe, "created_at": m.created_at,
             "origin": m.origin, "source": m.params.get("source"), "metrics": m.metrics}
            for m in list_manifests(ws, kind)
            if (not args.symbol or args.symbol in m.symbols) and (not args.timeframe or m.timeframe == args.timeframe)]
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    text = "\n".join(f"{r['id']:<44} {r['symbol']:<10} {r['timeframe'] or '':<4} {r['source'] or '':<8} {r['origin']}"
                     for r in rows) or f"no {kind} artifacts"
    return {kind: rows, "_text": text}


def cmd_s1_list(args, ws):
    return _listing(ws, "stage1", args)


# -- stage2 ----------------------------------------------------------------------------------------
def cmd_s2_train(args, ws):
    from engine.stage2.pipeline import train_stage2_pair

    req = Stage2TrainRequest.from_args(args)  # the same typed request the Stage 2 page builds
    res = train_stage2_pair(ws, req.symbol, req.timeframe, req.stage2_config(), featureset_id=req.featureset,
                            stage1_id=req.stage1, name=req.name or "")
    res["_text"] = res["summary"] + f"\nstage2 {res['stage2_id']}"
    return res


def cmd_s2_batch(args, ws):
    from engine.executor.choose import executor_from_args
    from engine.stage2.batch import run_batch

    req = Stage2BatchRequest.from_args(args)  # the same typed request the Stage 2 page builds
    if req.resume and (req.symbols or req.timeframes or req.featureset):
        raise BadInput("--resume continues a batch with its own pairs and options; give no --symbols/--timeframes/--featureset")
    with executor_from_args(req) as ex:
        res = run_batch(ws, symbols=req.symbols or None, timeframes=req.timeframes or None, stage1=req.stage1,
                        featureset_id=req.featureset, repo_id=req.repo_id, revision=req.revision,
                        stage1_features=req.feature_names(), sequence_length=req.sequence_length,
                        stage1_config=req.stage1_config() if req.stage1 == "train" else None,
                        stage2_config=req.stage2_config(), resume=req.resume, retry_failed=req.retry_failed,
                        executor=ex)
    lines = [f"{r['symbol']:<12} {r['timeframe']:<4} {r['status']:<10} " +
             (f"accuracy (signals) {_num(r.get('accuracy_signals'))} vs best baseline {_num(r.get('best_baseline'))} "
              f"(n={r.get('signals_test', '?')} test signals)  (pivots only {r['accuracy']:.4f})  F1 {r['f1_macro']:.4f}  "
              f"CV {r['cv_accuracy_mean']:.4f} +/- {r['cv_accuracy_std']:.4f} ({r.get('cv_folds', '?')} folds, "
              f"{r.get('samples', '?')} samples)  {r['stage2_id']}" if r["status"] == "succeeded" else (r.get("error") or ""))
             for r in res["pairs"]]
    res["_text"] = "\n".join(lines) + f"\n{res['succeeded']} succeeded, {res['failed']} failed; state: {res['state_file']}"
    return res


def cmd_s2_list(args, ws):
    return _listing(ws, "stage2", args)


def cmd_s2_show(args, ws):
    from engine.stage2.pipeline import evidence_json
    from storage.artifacts import artifact_path, read_manifest

    man = read_manifest(ws, args.id, "stage2")
    summary = artifact_path(ws, args.id, "stage2") / "summary.txt"
    text = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    return {"stage2_id": man.id, "path": str(artifact_path(ws, args.id, "stage2")), "metrics": man.metrics,
            "cv": man.extra.get("cv"), "cv_folds": man.extra.get("cv_folds"), "warnings": man.extra.get("warnings") or [],
            "summary": text, "_text": text} | evidence_json(man.extra)


# -- parsers ---------------------------------------------------------------------------------------
def _pair(p, required: bool = True) -> None:
    p.add_argument("--symbol", required=required, help="e.g. BTCUSDT")
    add_timeframe(p, required=required, help="e.g. 15m, 1h")


def _source_opts(p) -> None:
    p.add_argument("source", metavar="PATH_OR_REPO",
                   help="a local folder (classification.h5 + params.json, or a v1_model tree), a Hub repo id (owner/name), "
                        "or a stage1 artifact id (e.g. one Cloud Sync downloaded) to complete with --features")
    _pair(p)
    p.add_argument("--features", help="input feature names in the model's order (comma separated), when params.json lacks them")
    p.add_argument("--features-file", help="... or a file with one name per line")
    p.add_argument("--sequence-length", **Stage1ImportRequest.option("sequence_length"), help="window length, when neither the model nor params.json fixes it")
    p.add_argument("--revision", help="Hub revision (branch, tag or commit); default main")
    p.add_argument("--repo-type", default="dataset", choices=["dataset", "model"], help="Hub repo type (default dataset)")
    p.add_argument("--model-file", default="classification.h5",
                   help="the .h5 of v1_model/{SYMBOL}/{tf}/ to take from the Hub (e.g. detection.h5: one sigmoid unit, "
                        "P(pivot)); a local .h5 is given by its path")


def _s1_train_opts(p, R) -> None:
    """The Stage 1 training options of request model ``R`` (its flags: ``--s1-...`` in a batch)."""
    p.add_argument("--classes", **R.option("classes"), choices=[2, 5], help="2 (none, pivot) or 5 (none, HH, LH, HL, LL)")
    p.add_argument(R.flag("sequence_length"), dest="sequence_length", **R.option("sequence_length"),
                   help="bars per window (default 32; batch: also the length of imported models that do not fix it)")
    p.add_argument("--units", **R.option("units"), help="LSTM units")
    p.add_argument("--dropout", **R.option("dropout"))
    p.add_argument("--epochs", **R.option("epochs"))
    p.add_argument("--batch-size", **R.option("batch_size"))
    p.add_argument(R.flag("s1_learning_rate"), dest="s1_learning_rate", **R.option("s1_learning_rate"))
    p.add_argument("--patience", **R.option("patience"), help="early-stopping patience (epochs)")
    p.add_argument("--oof-folds", **R.option("oof_folds"),
                   help="time-ordered folds (with purge) for the out-of-fold Stage 1 probabilities Stage 2 trains on (default 4)")


def _s2_opts(p, R) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--threshold", **R.option("threshold"), help="signal when 1 - P(no pivot) >= this (default 0.5)")
    g.add_argument("--pass-rate", **R.option("pass_rate"), help="instead: the threshold letting this share of VALIDATION bars through (e.g. 0.04)")
    p.add_argument("--no-stage1-probs", action="store_true", help="do not give Stage 1's probabilities to Stage 2")
    p.add_argument("--stage2-features", help="Stage 2 input features (comma separated; default: the feature set's usable ones)")
    p.add_argument("--cv-folds", **R.option("cv_folds"))
    p.add_argument("--num-boost-round", **R.option("num_boost_round"))
    p.add_argument("--early-stopping-rounds", **R.option("early_stopping_rounds"))
    p.add_argument("--learning-rate", **R.option("learning_rate"))
    p.add_argument("--max-depth", **R.option("max_depth"), help="-1: no limit (LightGBM)")
    p.add_argument("--num-leaves", **R.option("num_leaves"), help="LightGBM: 2 .. 131072")


def register(sub) -> None:
    g = sub.add_parser("stage1", help="Stage 1 (Keras pivot classifier): import, inspect, train, list")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    p = s.add_parser("import", help="import classification.h5 + params.json from the Hub layout or a local folder")
    _source_opts(p)
    p.add_argument("--name")
    p.set_defaults(func=cmd_s1_import)
    p = s.add_parser("inspect", help="what a model says about itself and what is missing (writes nothing)")
    _source_opts(p)
    p.set_defaults(func=cmd_s1_inspect)
    p = s.add_parser("train", help="train an LSTM Stage 1 on a feature set's ZigZag labels")
    _pair(p)
    add_featureset(p, help="feature set id (default: the newest holding the pair)")
    p.add_argument("--features", help="input features (comma separated; default: the feature set's usable ones)")
    p.add_argument("--features-file", help="... or a file with one name per line")
    _s1_train_opts(p, Stage1TrainRequest)
    p.add_argument("--seed", **Stage1TrainRequest.option("seed"))
    p.add_argument("--name")
    p.set_defaults(func=cmd_s1_train)
    p = s.add_parser("list")
    _pair(p, required=False)
    p.set_defaults(func=cmd_s1_list)

    g = sub.add_parser("stage2", help="Stage 2 (LightGBM pivot type): train, batch, list, show")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    p = s.add_parser("train", help="train Stage 2 for a pair (with its latest Stage 1 unless --stage1 ID)")
    _pair(p)
    p.add_argument("--stage1", help="Stage 1 id (default: the pair's latest)")
    add_featureset(p, help="feature set id (default: Stage 1's, or the newest holding the pair)")
    _s2_opts(p, Stage2TrainRequest)
    p.add_argument("--seed", **Stage2TrainRequest.option("seed"))
    p.add_argument("--name")
    p.set_defaults(func=cmd_s2_train)
    p = s.add_parser("batch", help="every symbol x timeframe pair as one resumable job")
    add_symbols(p, help="comma separated (default: every symbol with a feature set)")
    p.add_argument("--timeframes", help="comma separated (default: every timeframe with a feature set)")
    p.add_argument("--stage1", default="latest", choices=["latest", "hub", "train"],
                   help="latest: the pair's newest Stage 1; hub: import from --repo-id; train: train one per pair")
    add_featureset(p, help="one feature set for every pair (default: the newest holding each pair)")
    p.add_argument("--repo-id", help="Hub repo of the v1_model/{SYMBOL}/{tf}/ models (with --stage1 hub)")
    p.add_argument("--revision")
    p.add_argument("--features", help="Stage 1 input names for imported seed models / trained ones (comma separated)")
    p.add_argument("--features-file")
    _s1_train_opts(p, Stage2BatchRequest)
    _s2_opts(p, Stage2BatchRequest)
    p.add_argument("--seed", **Stage2BatchRequest.option("seed"))
    p.add_argument("--resume", metavar="JOB_OR_STATE", help="continue a batch (its job id or state file)")
    p.add_argument("--retry-failed", action="store_true", help="with --resume: also rerun the pairs that failed")
    add_cli_options(p)
    p.set_defaults(func=cmd_s2_batch)
    p = s.add_parser("list")
    _pair(p, required=False)
    p.set_defaults(func=cmd_s2_list)
    p = s.add_parser("show", help="summary report and metrics of a Stage 2 model")
    p.add_argument("id", metavar="STAGE2_ID")
    p.set_defaults(func=cmd_s2_show)
