"""Stage 1 import: from the Hub layout ``v1_model/{SYMBOL}/{tf}/`` (through huggingface_hub)
or a local folder, into a ``stage1`` artifact in the same layout.

Nothing is written until the model has been loaded (safe mode), its shapes checked against
params.json and the user's answers, and a test prediction made; a corrupted file, a
mismatch or a missing answer raises a BadInput that names it.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.errors import BadInput, NotFound
from engine.data.names import check_symbol
from engine.data.timeframes import parse_timeframe
from engine.hub import DEFAULT_REPO
from engine.stage2.progress import progress
from engine.stage2.stage1 import (
    MODEL_FILE,
    PARAMS_FILE,
    Stage1Model,
    examine,
    hub_dir,
    is_finite_number,
    load_keras_h5,
    model_shapes,
    model_summary,
    read_params,
    resolve_spec,
)
from storage.artifacts import create_artifact, read_manifest
from storage.manifest import write_json_atomic
from storage.workspace import Workspace


@dataclass
class Stage1Source:
    """Where a Stage 1 model's two files are (a local folder, or a temporary download)."""

    folder: Path
    kind: str  # "local" | "hub" | "artifact" (a stage1 artifact of the workspace)
    origin: str
    details: dict[str, Any] = field(default_factory=dict)
    model_file: str = MODEL_FILE  # e.g. the seed's detection.h5 when that file was given


def parse_names(text: str | list[str] | None) -> list[str] | None:
    """'a,b,c' or one name per line -> ['a', 'b', 'c'] (None when empty)."""
    if text is None:
        return None
    parts = text if isinstance(text, list) else text.replace("\n", ",").split(",")
    names = [p.strip() for p in parts if p and p.strip()]
    return names or None


def locate_local(path: Path, symbol: str, timeframe: str) -> Path:
    """The folder holding classification.h5 + params.json: PATH itself, PATH/v1_model/S/tf,
    PATH/S/tf (PATH is a v1_model folder), or the folder of PATH when it is the .h5 file."""
    return locate_model(path, symbol, timeframe)[0]


def locate_model(path: Path, symbol: str, timeframe: str) -> tuple[Path, str]:
    """(folder, model file name): as :func:`locate_local`; a .h5 file given by name may be named
    otherwise (the seed's ``detection.h5`` next to its params.json)."""
    path = Path(path).expanduser()
    if path.is_file():
        if path.suffix.lower() not in (".h5", ".hdf5"):
            raise BadInput(f"{path} is not a Keras .h5 file", hint=f"give the folder holding {MODEL_FILE} and {PARAMS_FILE}")
        return path.parent, path.name
    if not path.is_dir():
        raise NotFound(f"{path} does not exist")
    for cand in (path, path / hub_dir(symbol, timeframe), path / symbol / timeframe):
        if (cand / MODEL_FILE).is_file():
            return cand, MODEL_FILE
    raise NotFound(f"no {MODEL_FILE} in {path}, {path / hub_dir(symbol, timeframe)} or {path / symbol / timeframe}",
                   hint=f"a Stage 1 model is {MODEL_FILE} + {PARAMS_FILE} in one folder")


def _download(repo_id: str, symbol: str, timeframe: str, dest: Path, *, revision: str | None,
              repo_type: str, model_file: str = MODEL_FILE) -> Path:
    from engine.hub import Hub  # the one Hub access layer: retries, error mapping

    hub = Hub.connect()
    folder = hub_dir(symbol, timeframe)
    for i, name in enumerate((model_file, PARAMS_FILE)):
        progress(0.05 + 0.1 * i, f"downloading {folder}/{name} from {repo_id}")
        hub.download(repo_id, repo_type, revision, f"{folder}/{name}", dest, what=f"{repo_id}/{folder}/{name}")
    return dest / folder


def looks_like_repo(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "~"))


@contextmanager
def open_source(path_or_repo: str, symbol: str, timeframe: str, *, ws: Workspace | None = None,
                revision: str | None = None, repo_type: str = "dataset",
                model_file: str = MODEL_FILE) -> Iterator[Stage1Source]:
    """A stage1 artifact id of the workspace, a local path when it exists, otherwise a Hub repo id
    (``owner/name``) whose ``v1_model/{SYMBOL}/{tf}/`` files are downloaded into a temporary folder
    (removed after)."""
    symbol, timeframe = check_symbol(symbol), parse_timeframe(timeframe)
    text = str(path_or_repo or "").strip()
    if not text:
        raise BadInput("give a local folder or a Hub repo id", hint=f"e.g. {DEFAULT_REPO}")
    ws = ws or Workspace.open()
    if text.startswith("stage1-") and (ws.artifact_dir("stage1", text) / "manifest.json").is_file():
        # a stage1 artifact already in the workspace (e.g. downloaded by Cloud Sync in the seed's form):
        # import it again with the answers it lacked
        man = read_manifest(ws, text, "stage1")
        folder = locate_local(ws.artifact_dir("stage1", text), symbol, timeframe)
        yield Stage1Source(folder, "artifact", man.origin, {"from_stage1": text})
        return
    local = Path(text).expanduser()
    if local.exists():
        folder, name = locate_model(local, symbol, timeframe)
        details = {"source_path": str(folder.resolve())} | ({"model_file": name} if name != MODEL_FILE else {})
        yield Stage1Source(folder.resolve(), "local", "local", details, model_file=name)
        return
    if model_file != MODEL_FILE and (Path(model_file).name != model_file or not model_file.endswith(".h5")):
        raise BadInput(f"--model-file must be a .h5 file name in v1_model/{symbol}/{timeframe}/, got {model_file!r}")
    if not looks_like_repo(text):
        raise NotFound(f"{text} is neither an existing path nor a Hub repo id (owner/name)")
    tmp = Path(tempfile.mkdtemp(prefix="klinelab-stage1-"))
    try:
        folder = _download(text, symbol, timeframe, tmp, revision=revision, repo_type=repo_type, model_file=model_file)
        yield Stage1Source(folder, "hub", f"huggingface:{text}",
                           {"repo_id": text, "repo_type": repo_type, "revision": revision or "main",
                            "repo_path": hub_dir(symbol, timeframe)}
                           | ({"model_file": model_file} if model_file != MODEL_FILE else {}), model_file=model_file)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def inspect_stage1(path_or_repo: str, symbol: str, timeframe: str, *, ws: Workspace | None = None,
                   feature_names: list[str] | None = None, sequence_length: int | None = None,
                   revision: str | None = None, repo_type: str = "dataset",
                   model_file: str = MODEL_FILE) -> dict[str, Any]:
    """What a model says about itself and what is still missing; writes nothing."""
    with open_source(path_or_repo, symbol, timeframe, ws=ws, revision=revision, repo_type=repo_type,
                     model_file=model_file) as src:
        params = read_params(src.folder / PARAMS_FILE)
        progress(0.3, f"loading {src.model_file}")
        h5 = load_keras_h5(src.folder / src.model_file)
        model = h5.model
        ins, outs = model_shapes(model)
        info = examine(ins, outs, params, feature_names=feature_names, sequence_length=sequence_length)
        out = {"source": src.kind, "origin": src.origin, **src.details, "symbol": check_symbol(symbol),
               "timeframe": parse_timeframe(timeframe), "input_shape": list(ins), "output_shape": list(outs),
               "params_keys": sorted(params.raw), "metrics": params.metrics, "summary": model_summary(model), **info,
               "keras": h5.info()}
        out["ready"] = not info["problems"] and not info["missing"]
        if out["ready"]:
            spec = resolve_spec(ins, outs, params, feature_names=feature_names, sequence_length=sequence_length)
            out["test_prediction"] = Stage1Model(model, spec, params).test_prediction()
        else:  # still one window through the model (zeros = every feature at its training mean)
            import numpy as np

            window = ins[1] or info.get("sequence_length") or 1
            raw = np.asarray(model.predict_on_batch(np.zeros((1, window, ins[2]), dtype="float32")))
            out["test_prediction"] = {"shape": list(raw.shape), "value": [round(float(v), 6) for v in raw[0]],
                                      "window": window}
    return out


def flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Finite numbers of a metrics dict (one nested level kept as a dict, as the catalog indexes it)."""
    out: dict[str, Any] = {}
    for k, v in (metrics or {}).items():
        if is_finite_number(v):
            out[str(k)] = float(v)
        elif isinstance(v, dict):
            sub = {str(a): float(b) for a, b in v.items() if is_finite_number(b)}
            if sub:
                out[str(k)] = sub
    return out


def import_stage1(ws: Workspace, path_or_repo: str, symbol: str, timeframe: str, *,
                  feature_names: list[str] | None = None, sequence_length: int | None = None,
                  revision: str | None = None, repo_type: str = "dataset", name: str = "",
                  model_file: str = MODEL_FILE) -> dict[str, Any]:
    """Validate and copy a Stage 1 model into a new ``stage1`` artifact (Hub layout inside; the
    model file is copied byte for byte as classification.h5, whatever it was named)."""
    symbol, timeframe = check_symbol(symbol), parse_timeframe(timeframe)
    with open_source(path_or_repo, symbol, timeframe, ws=ws, revision=revision, repo_type=repo_type,
                     model_file=model_file) as src:
        progress(0.3, f"loading {src.model_file}")
        m = Stage1Model.load(src.folder, feature_names=feature_names, sequence_length=sequence_length,
                             model_file=src.model_file)
        trained_on = _trained_on(m.params.raw)
        test = m.test_prediction()
        summary = model_summary(m.model)
        ins, outs = model_shapes(m.model)
        original = (src.folder / PARAMS_FILE).read_bytes()
        progress(0.8, "writing the stage1 artifact")
        with create_artifact(ws, "stage1", name=name or f"stage1 {symbol} {timeframe} ({src.kind})", symbols=[symbol],
                             timeframe=timeframe, origin=src.origin, parents=[v for k, v in src.details.items()
                                                                              if k == "from_stage1"],
                             params={"source": src.kind, **src.details}) as d:
            rel = hub_dir(symbol, timeframe)
            shutil.copyfile(src.folder / src.model_file, d.path(f"{rel}/{MODEL_FILE}"))
            write_json_atomic(d.path(f"{rel}/{PARAMS_FILE}"), m.spec.completed_params(m.params))
            d.path("source_params.json").write_bytes(original)
            d.path("summary.txt").write_text(summary + "\n", encoding="utf-8")
            d.manifest.metrics = flat_metrics(m.params.metrics)
            d.manifest.extra = spec_extra(m) | {"input_shape": list(ins), "output_shape": list(outs),
                                                "test_prediction": test, "keras": m.keras_info} | trained_on
            aid = d.id
    path = ws.artifact_dir("stage1", aid)
    return {"stage1_id": aid, "path": str(path), "model_dir": str(path / hub_dir(symbol, timeframe)),
            "symbol": symbol, "timeframe": timeframe, "source": src.kind, "origin": src.origin, **src.details,
            "feature_names": m.spec.feature_names, "sequence_length": m.spec.sequence_length,
            "class_names": m.spec.class_names, "sources": m.spec.sources, "notes": m.spec.notes,
            "metrics": flat_metrics(m.params.metrics), "test_prediction": test, "summary": summary,
            "input_shape": list(ins), "output_shape": list(outs), "output_kind": m.spec.output_kind,
            "keras": m.keras_info}


def _trained_on(raw: dict[str, Any]) -> dict[str, Any]:
    """A KlineLab-trained model's params.json says on which feature set and split it was trained
    (the seed's does not): kept so Stage 2 can reuse that split after a round trip through the Hub."""
    out: dict[str, Any] = {}
    if isinstance(raw.get("featureset_id"), str):
        out["featureset_id"] = raw["featureset_id"]
    if raw.get("split") is not None:
        from engine.splits import SplitPlan

        try:
            out["split"] = SplitPlan.from_dict(raw["split"]).to_dict()
        except (BadInput, TypeError, ValueError, AttributeError) as e:
            raise BadInput(f"params.json: 'split' is not a split plan ({e})") from None
    return out


def spec_extra(m: Stage1Model) -> dict[str, Any]:
    s = m.spec
    return {"feature_names": s.feature_names, "sequence_length": s.sequence_length, "class_names": s.class_names,
            "n_features": s.n_features, "n_classes": s.n_classes, "sources": s.sources, "notes": s.notes,
            "output_kind": s.output_kind}


# -- stage1 artifacts in the workspace ----------------------------------------------------------------
def stage1_folder(ws: Workspace, stage1_id: str) -> tuple[Path, Any]:
    """(folder of classification.h5 + params.json, manifest) of a stage1 artifact."""
    man = read_manifest(ws, stage1_id, "stage1")
    if not man.symbols or not man.timeframe:
        raise BadInput(f"stage1 artifact {stage1_id} names no symbol / timeframe")
    folder = ws.artifact_dir("stage1", stage1_id) / hub_dir(man.symbols[0], man.timeframe)
    if not (folder / MODEL_FILE).is_file():
        raise NotFound(f"stage1 artifact {stage1_id} lacks {hub_dir(man.symbols[0], man.timeframe)}/{MODEL_FILE}")
    return folder, man


def load_stage1(ws: Workspace, stage1_id: str) -> tuple[Stage1Model, Any]:
    folder, man = stage1_folder(ws, stage1_id)
    try:
        return Stage1Model.load(folder), man
    except BadInput as e:
        if "missing:" not in e.message:
            raise
        raise BadInput(f"{stage1_id}: {e.message}", hint=f"complete it once: python -m engine stage1 import {stage1_id} "
                       f"--symbol {man.symbols[0]} --timeframe {man.timeframe} --features ... [--sequence-length N]") from None

