"""Stage 1 model: ``classification.h5`` (a Keras LSTM classifier, legacy HDF5) + ``params.json``.

The seed's params.json holds only the normalisation mean/std, class weights and metrics; it
names neither the input features nor the sequence length, and its models output 2 classes
(none, pivot) or 5 (none, HH, LH, HL, LL); the seed's ``detection.h5`` has one sigmoid unit
(P(pivot)).  Variants of the seed's repo add ``config`` / ``optimization`` (``timesteps``,
``features``) and ``data_info``; they are read when present.  Ours add ``feature_names``,
``sequence_length`` and ``class_names``.  :func:`resolve_spec` combines what params.json says, what the model's
input/output shapes tell and what the user gave, checks they agree, and names everything that
is still missing instead of guessing it.

Inference (:func:`predict_proba`) normalises every bar with params.json's mean/std, builds the
window of the last ``sequence_length`` bars ending at each bar (never across a gap in time or a
row with missing values) and returns one probability row per bar (NaN where no full window
exists).  Class 0 is always "no pivot"; the signal is 1 - P(class 0).  A sigmoid model's
output p is taken as P(pivot) and turned into the two columns (1 - p, p) = (none, pivot), so it
is used exactly like a 2-class softmax (whose class 1 is "pivot": the seed's convention).

The .h5 file itself is read by :mod:`engine.stage2.keras_h5` (Keras 2.3-2.15 files translated
to Keras 3 in memory, weights checked against the file).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config.errors import BadInput, NotFound

MODEL_FILE = "classification.h5"
PARAMS_FILE = "params.json"
HUB_PREFIX = "v1_model"
CLASS_NAMES = {2: ["none", "pivot"], 5: ["none", "HH", "LH", "HL", "LL"]}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
PREDICT_BATCH = 4096


def hub_dir(symbol: str, timeframe: str) -> str:
    """``v1_model/{SYMBOL}/{tf}`` (the seed's Hub layout, also used inside stage1 artifacts)."""
    return f"{HUB_PREFIX}/{symbol}/{timeframe}"


# -- params.json ------------------------------------------------------------------------------
@dataclass
class Stage1Params:
    """What a params.json says (``raw`` keeps every key, so nothing of the original is lost)."""

    mean: np.ndarray
    std: np.ndarray
    class_weights: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    feature_names: list[str] | None = None
    sequence_length: int | None = None
    class_names: list[str] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    n_features: int | None = None  # a count declared by config.features / data_info.n_features
    found: dict[str, str] = field(default_factory=dict)  # item -> where in params.json it was read
    notes: list[str] = field(default_factory=list)


def _numbers(value: Any, what: str, source: str) -> np.ndarray:
    if isinstance(value, dict):  # {"feature": value} keeps the order of the file
        value = list(value.values())
    if not isinstance(value, (list, tuple)) or not value:
        raise BadInput(f"{source}: {what} must be a non-empty list of numbers")
    try:
        arr = np.asarray(value, dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        raise BadInput(f"{source}: {what} holds values that are not numbers") from None
    if not np.isfinite(arr).all():
        raise BadInput(f"{source}: {what} holds NaN or infinite values")
    return arr


def _find_norm(d: dict[str, Any]) -> tuple[Any, Any] | None:
    for a, b in (("mean", "std"), ("feature_mean", "feature_std"), ("means", "stds")):
        if a in d and b in d:
            return d[a], d[b]
    for key in ("normalization", "normalisation", "norm", "scaler", "normalization_params"):
        sub = d.get(key)
        if isinstance(sub, dict):
            for a, b in (("mean", "std"), ("mean", "scale"), ("mean_", "scale_")):
                if a in sub and b in sub:
                    return sub[a], sub[b]
    return None


def _declared(data: dict, source: str) -> tuple[list[str] | None, int | None, list[str] | None, dict]:
    """The top-level ``feature_names``, ``sequence_length``, ``class_names`` and ``metrics``, checked."""
    names = data.get("feature_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise BadInput(f"{source}: feature_names must be a list of names")
        if len(set(names)) != len(names):
            raise BadInput(f"{source}: feature_names repeats a name")
    seq = data.get("sequence_length")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 1):
        raise BadInput(f"{source}: sequence_length must be a positive integer, got {seq!r}")
    classes = data.get("class_names")
    if classes is not None and (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)):
        raise BadInput(f"{source}: class_names must be a list of names")
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise BadInput(f"{source}: metrics must be an object")
    return names, seq, classes, metrics


def _section_length(sub: dict, sect: str, source: str, seq: int | None, found: dict[str, str]) -> int | None:
    """The window length a seed section (config / optimization / data_info) declares, agreeing with ``seq``."""
    for key in ("timesteps", "sequence_length", "seq_len", "window"):
        v = sub.get(key)
        if v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise BadInput(f"{source}: {sect}.{key} must be a positive integer, got {v!r}")
        if seq is not None and v != seq:
            raise BadInput(f"{source}: {sect}.{key} = {v} but {found['sequence_length']} says {seq}")
        if seq is None:
            seq, found["sequence_length"] = v, f"params.json {sect}.{key}"
    return seq


def _section_features(sub: dict, sect: str, source: str, names: list[str] | None, n_declared: int | None,
                      found: dict[str, str]) -> tuple[list[str] | None, int | None]:
    """The feature names or count a seed section declares, agreeing with ``names``."""
    for key in ("features", "feature_names", "feature_columns", "feature_cols", "n_features"):
        v = sub.get(key)
        if v is None:
            continue
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise BadInput(f"{source}: {sect}.{key} must be a positive count, got {v}")
            n_declared = n_declared or v
            found.setdefault("n_features", f"params.json {sect}.{key}")
        elif isinstance(v, list) and v and all(isinstance(n, str) and n for n in v):
            if len(set(v)) != len(v):
                raise BadInput(f"{source}: {sect}.{key} repeats a name")
            if names is not None and list(v) != list(names):
                raise BadInput(f"{source}: {sect}.{key} and {found['feature_names']} name different features")
            if names is None:
                names, found["feature_names"] = list(v), f"params.json {sect}.{key}"
        else:
            raise BadInput(f"{source}: {sect}.{key} must be a feature count or a list of names")
    return names, n_declared


def _check_class_weights(cw: Any, source: str) -> None:
    if cw is None:
        return
    keys = list(cw) if isinstance(cw, dict) else list(range(len(cw))) if isinstance(cw, list) else None
    try:
        ints = sorted(int(k) for k in keys) if keys is not None else None
    except (TypeError, ValueError):
        ints = None
    if ints is None or any(i < 0 for i in ints):
        raise BadInput(f"{source}: class_weights must map class numbers (\"0\", \"1\", ...) to weights")


def parse_params(data: Any, source: str = PARAMS_FILE) -> Stage1Params:
    """Validate a params.json document (seed form or ours)."""
    if not isinstance(data, dict):
        raise BadInput(f"{source} is not a JSON object")
    norm = _find_norm(data)
    if norm is None:
        raise BadInput(f"{source} holds no normalisation mean/std",
                       hint="a Stage 1 params.json needs 'mean' and 'std' (one value per input feature)")
    mean, std = _numbers(norm[0], "the normalisation mean", source), _numbers(norm[1], "the normalisation std", source)
    if len(mean) != len(std):
        raise BadInput(f"{source}: normalisation mean has {len(mean)} values but std has {len(std)}")
    if (std < 0).any():
        raise BadInput(f"{source}: normalisation std holds negative values")
    names, seq, classes, metrics = _declared(data, source)
    found = {k: "params.json" for k, v in (("feature_names", names), ("sequence_length", seq)) if v is not None}
    n_declared = None
    for sect in ("config", "optimization", "data_info"):  # the seed's variants: {timesteps, features}, data_info {...}
        sub = data.get(sect)
        if isinstance(sub, dict):
            seq = _section_length(sub, sect, source, seq, found)
            names, n_declared = _section_features(sub, sect, source, names, n_declared, found)
    cw = data.get("class_weights")
    _check_class_weights(cw, source)
    notes: list[str] = []
    floor = int(((std > 0) & (std <= 1e-7)).sum())
    if floor:
        notes.append(f"{floor} feature(s) have std <= 1e-7 in params.json (constant in training; the seed adds "
                     "1e-8 to std): divided by that std as the seed's own inference does")
    return Stage1Params(mean=mean, std=std, class_weights=cw, metrics=metrics,
                        feature_names=names, sequence_length=seq, class_names=classes, raw=dict(data),
                        n_features=n_declared, found=found, notes=notes)


def read_params(path: Path) -> Stage1Params:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no {PARAMS_FILE} at {path}", hint=f"a Stage 1 model is {MODEL_FILE} + {PARAMS_FILE} in one folder")
    from engine.stage2.keras_h5 import LFS_POINTER

    with open(path, "rb") as f:
        if f.read(len(LFS_POINTER)) == LFS_POINTER:
            raise BadInput(f"{path.name} is a Git LFS pointer, not the params.json it stands for: the repository was "
                           "cloned without its LFS files", hint="run `git lfs pull` in that repository, then import again")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{path} is not valid JSON: {e}") from None
    return parse_params(data, str(path.name))


# -- the resolved description of a model's inputs and outputs ---------------------------------------
@dataclass
class Stage1Spec:
    feature_names: list[str]
    sequence_length: int
    class_names: list[str]
    mean: np.ndarray
    std: np.ndarray
    sources: dict[str, str]  # where each item came from: params.json | model input shape | user | seed convention
    notes: list[str] = field(default_factory=list)
    output_kind: str = "softmax"  # "softmax" | "sigmoid" (one unit, P(pivot): probabilities (1 - p, p))

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def completed_params(self, params: Stage1Params) -> dict[str, Any]:
        """params.json with the seed's keys kept as they were and ours added."""
        out = dict(params.raw)
        out.update({"feature_names": list(self.feature_names), "sequence_length": int(self.sequence_length),
                    "class_names": list(self.class_names), "n_features": self.n_features,
                    "n_classes": self.n_classes, "output_kind": self.output_kind})
        return out


def _dim(shape: Any, i: int) -> int | None:
    v = shape[i]
    return None if v is None else int(v)


def examine(input_shape: tuple, output_shape: tuple, params: Stage1Params, *,
            feature_names: list[str] | None = None, sequence_length: int | None = None) -> dict[str, Any]:
    """Everything params.json, the model's shapes and the user's answers say together:
    ``feature_names``, ``sequence_length``, ``class_names`` (None when unknown), ``sources``,
    ``problems`` (contradictions) and ``missing`` (what only the user can tell)."""
    problems: list[str] = []
    missing: list[str] = []
    sources: dict[str, str] = {}
    notes: list[str] = []
    if len(input_shape) != 3:
        raise BadInput(f"wrong input shape {tuple(input_shape)}: a Stage 1 model takes windows "
                       "(batch, sequence length, features)", hint="use an LSTM / sequence classifier")
    if len(output_shape) != 2 or _dim(output_shape, 1) not in (1, *CLASS_NAMES):
        raise BadInput(f"wrong output shape {tuple(output_shape)}: a Stage 1 model outputs 2 classes (none, pivot), "
                       "5 (none, HH, LH, HL, LL) or one sigmoid unit (P(pivot))")
    shape_len, n_feat, n_cls = _dim(input_shape, 1), _dim(input_shape, 2), _dim(output_shape, 1)
    notes.extend(params.notes)
    if n_cls == 1:  # one sigmoid unit (checked by the loader): P(pivot), used as (none, pivot)
        n_cls = 2
        notes.append("one sigmoid output taken as P(pivot); P(none) = 1 - P(pivot)")
    if n_feat is None:
        raise BadInput(f"wrong input shape {tuple(input_shape)}: the number of features per bar is not fixed")
    if len(params.mean) != n_feat:
        problems.append(f"params.json has {len(params.mean)} normalisation values but the model takes {n_feat} features per bar")
    if params.n_features is not None and params.n_features != n_feat:
        problems.append(f"{params.found.get('n_features', 'params.json')} says {params.n_features} features but the "
                        f"model takes {n_feat} per bar")
    # feature names: never inferable from the model, only their count
    names = None
    if params.feature_names is not None:
        names, sources["feature_names"] = list(params.feature_names), params.found.get("feature_names", "params.json")
        if feature_names and list(feature_names) != names:
            problems.append(f"the feature names given differ from those in {sources['feature_names']}")
    elif feature_names:
        names, sources["feature_names"] = list(feature_names), "user"
    if names is not None:
        if len(names) != n_feat:
            problems.append(f"{len(names)} feature names ({sources['feature_names']}) but the model takes {n_feat} features per bar")
        if len(set(names)) != len(names):
            problems.append("the feature names repeat a name")
    else:
        missing.append(f"the names of the {n_feat} input features, in the order the model was trained on")
    # sequence length: from the input shape when it is fixed, params.json, or the user
    given = {k: v for k, v in (("model input shape", shape_len),
                               (params.found.get("sequence_length", "params.json"), params.sequence_length),
                               ("user", sequence_length)) if v is not None}
    if len(set(given.values())) > 1:
        problems.append("sequence lengths disagree: " + ", ".join(f"{k} says {v}" for k, v in given.items()))
    seq = next(iter(given.values()), None)
    if seq is not None:
        sources["sequence_length"] = next(iter(given))
        if seq < 1:
            problems.append(f"sequence length must be at least 1, got {seq}")
    else:
        missing.append("the sequence length (the model's input accepts any length)")
    # classes: params.json or the seed's convention for 2 / 5 outputs
    if params.class_names is not None:
        classes, sources["class_names"] = list(params.class_names), "params.json"
        if len(classes) != n_cls:
            problems.append(f"params.json names {len(classes)} classes but the model outputs {n_cls}")
    else:
        classes, sources["class_names"] = list(CLASS_NAMES[n_cls]), "seed convention"
    if (params.std == 0).any():
        notes.append(f"{int((params.std == 0).sum())} feature(s) have std 0 in params.json (constant in training); "
                     "they are divided by 1 instead")
    return {"n_features": n_feat, "n_classes": n_cls, "feature_names": names, "sequence_length": seq,
            "class_names": classes, "sources": sources, "problems": problems, "missing": missing, "notes": notes}


def resolve_spec(input_shape: tuple, output_shape: tuple, params: Stage1Params, *,
                 feature_names: list[str] | None = None, sequence_length: int | None = None) -> Stage1Spec:
    """:func:`examine`, then one BadInput listing every problem and missing item, if any."""
    info = examine(input_shape, output_shape, params, feature_names=feature_names, sequence_length=sequence_length)
    problems, missing = info["problems"], info["missing"]
    if problems or missing:
        msg = "; ".join(problems + [f"missing: {m}" for m in missing])
        hint = ("give the missing items (CLI: --features NAME,NAME,... / --sequence-length N; page: the import form)"
                if missing and not problems else "check that params.json belongs to this model")
        raise BadInput(f"Stage 1 model cannot be used: {msg}", hint=hint)
    std = np.where(params.std == 0, 1.0, params.std)
    return Stage1Spec(feature_names=info["feature_names"], sequence_length=int(info["sequence_length"]),
                      class_names=info["class_names"], mean=params.mean, std=std, sources=info["sources"],
                      notes=info["notes"], output_kind="sigmoid" if _dim(output_shape, 1) == 1 else "softmax")


# -- loading a Keras model safely -------------------------------------------------------------------
def check_hdf5(path: Path) -> None:
    """An HDF5 file, or a BadInput naming what it is (a Git LFS pointer, another format)."""
    from engine.stage2.keras_h5 import sniff

    if not Path(path).is_file():
        raise NotFound(f"no {MODEL_FILE} at {path}")
    sniff(path)


def load_keras_h5(path: Path):
    """The model of a Keras 2.3-2.15 / Keras 3 legacy .h5 built with Keras 3 (safe mode, weights
    checked against the file) with its keras_version, rewrites and output kind (a
    :class:`engine.stage2.keras_h5.KerasH5`); a file that is not a usable Stage 1 is refused."""
    path = Path(path)
    check_hdf5(path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise BadInput(f"{path.name}: a Stage 1 model file must end in .h5")
    from engine.stage2.keras_h5 import load_h5

    return load_h5(path)


def model_shapes(model) -> tuple[tuple, tuple]:
    ins, outs = model.inputs, model.outputs
    if len(ins) != 1 or len(outs) != 1:
        raise BadInput(f"the model has {len(ins)} inputs and {len(outs)} outputs; Stage 1 needs one of each")
    return tuple(ins[0].shape), tuple(outs[0].shape)


def model_summary(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=90)
    return "\n".join(lines)


@dataclass
class Stage1Model:
    """A loaded Keras model with its resolved spec."""

    model: Any
    spec: Stage1Spec
    params: Stage1Params
    keras_info: dict[str, Any] = field(default_factory=dict)  # keras_version, backend, rewrites, output ...

    @classmethod
    def load(cls, folder: Path, *, feature_names: list[str] | None = None,
             sequence_length: int | None = None, model_file: str = MODEL_FILE) -> Stage1Model:
        folder = Path(folder)
        params = read_params(folder / PARAMS_FILE)
        h5 = load_keras_h5(folder / model_file)
        ins, outs = model_shapes(h5.model)
        spec = resolve_spec(ins, outs, params, feature_names=feature_names, sequence_length=sequence_length)
        return cls(h5.model, spec, params, h5.info())

    def test_prediction(self) -> dict[str, Any]:
        """The seed's check: one window (every feature at its training mean) through the model."""
        x = np.zeros((1, self.spec.sequence_length, self.spec.n_features), dtype="float32")
        raw = np.asarray(self.model.predict_on_batch(x))
        p = as_probabilities(raw, self.spec)
        check_probabilities(p)
        out = {"shape": list(p.shape), "value": [round(float(v), 6) for v in p[0]]}
        if self.spec.output_kind == "sigmoid":
            out["raw"] = [round(float(v), 6) for v in raw[0]]
        return out

    def predict_proba(self, X: np.ndarray, valid_end: np.ndarray | None = None, *,
                      progress_cb=None) -> np.ndarray:
        return predict_proba(self.model, self.spec, X, valid_end, progress_cb=progress_cb)


def as_probabilities(raw: np.ndarray, spec: Stage1Spec) -> np.ndarray:
    """The model's output as (n, n_classes) class probabilities: a sigmoid unit's p becomes
    (1 - p, p) = (P(none), P(pivot))."""
    raw = np.asarray(raw)
    if spec.output_kind == "sigmoid":
        if raw.ndim != 2 or raw.shape[1] != 1:
            raise BadInput(f"the Stage 1 sigmoid model returned shape {raw.shape}")
        if not np.isfinite(raw).all() or (raw < -1e-6).any() or (raw > 1 + 1e-6).any():
            raise BadInput("the Stage 1 model's sigmoid output is not a probability (outside 0..1)")
        return np.concatenate([1.0 - raw, raw], axis=1)
    return raw


def check_probabilities(p: np.ndarray) -> None:
    if not np.isfinite(p).all():
        raise BadInput("the Stage 1 model outputs NaN or infinite values")
    s = p.sum(axis=1)
    if (p < -1e-6).any() or not np.allclose(s, 1.0, atol=1e-3):
        raise BadInput("the Stage 1 model's outputs are not class probabilities (they do not sum to 1)",
                       hint="its last layer must be a softmax")


# -- windows and inference ----------------------------------------------------------------------------
def normalize(X: np.ndarray, spec: Stage1Spec) -> np.ndarray:
    """(x - mean) / std with params.json's values, as float32."""
    X = np.asarray(X, dtype="float64")
    if X.ndim != 2 or X.shape[1] != spec.n_features:
        raise BadInput(f"Stage 1 input has shape {X.shape}; the model takes {spec.n_features} features per bar")
    return ((X - spec.mean) / spec.std).astype("float32")


def window_ends(timestamps_ns: np.ndarray, step_ns: int, row_ok: np.ndarray, length: int) -> np.ndarray:
    """True at bar t when bars t-length+1..t all exist, are consecutive in time (no gap) and
    have every input (``row_ok``).  Vectorised with cumulative sums."""
    n = len(timestamps_ns)
    out = np.zeros(n, dtype=bool)
    if n < length:
        return out
    bad = (~np.asarray(row_ok, dtype=bool)).astype(np.int64)
    brk = np.zeros(n, dtype=np.int64)  # brk[i] = 1 when bar i does not follow bar i-1 directly
    brk[1:] = (np.diff(timestamps_ns) != step_ns).astype(np.int64)
    cb, ck = np.cumsum(bad), np.cumsum(brk)
    t = np.arange(length - 1, n)
    s = t - length + 1
    bad_in = cb[t] - np.where(s > 0, cb[s - 1], 0)
    brk_in = ck[t] - ck[s]  # breaks strictly inside the window (between s and t)
    out[t] = (bad_in == 0) & (brk_in == 0)
    return out


def predict_proba(model, spec: Stage1Spec, X: np.ndarray, valid_end: np.ndarray | None = None, *,
                  progress_cb=None, batch: int = PREDICT_BATCH) -> np.ndarray:
    """Class probabilities per bar (n, n_classes); NaN rows where ``valid_end`` is False.
    ``X`` holds the raw (un-normalised) inputs in ``spec.feature_names`` order."""
    Xn = normalize(X, spec)
    n, L = len(Xn), spec.sequence_length
    if valid_end is None:  # consecutive bars assumed: only missing values end a window
        valid_end = window_ends(np.arange(n, dtype="int64"), 1, np.isfinite(Xn).all(axis=1), L)
    out = np.full((n, spec.n_classes), np.nan, dtype="float32")
    ends = np.flatnonzero(valid_end)
    if len(ends) == 0:
        return out
    if ends[0] < L - 1:
        raise BadInput("a window would start before the first bar")
    offsets = np.arange(-L + 1, 1)
    for i in range(0, len(ends), batch):  # batches of windows, each gathered at once
        idx = ends[i:i + batch]
        xb = Xn[idx[:, None] + offsets]  # (b, L, F)
        p = as_probabilities(model.predict_on_batch(xb), spec)
        if p.shape != (len(idx), spec.n_classes):
            raise BadInput(f"the Stage 1 model returned shape {p.shape} for {len(idx)} windows")
        out[idx] = p
        if progress_cb is not None:
            progress_cb(min(1.0, (i + len(idx)) / len(ends)))
    check_probabilities(out[ends])
    return out


def signal_probability(proba: np.ndarray) -> np.ndarray:
    """P(a pivot forms at this bar) = 1 - P(class 0 = no pivot), whatever the number of classes:
    5 classes: P(HH) + P(LH) + P(HL) + P(LL); 2 classes: P(class 1 = pivot) (the seed's
    convention, assumed for any 2-class file); a sigmoid model: its own output, P(pivot)
    (:func:`as_probabilities` made it the column pair (1 - p, p))."""
    return 1.0 - np.asarray(proba)[:, 0]


def is_finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
