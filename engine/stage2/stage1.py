"""Stage 1 model: ``classification.h5`` (a Keras LSTM classifier, legacy HDF5) + ``params.json``.

The seed's params.json holds only the normalisation mean/std, class weights and metrics; it
names neither the input features nor the sequence length, and its models output 2 classes
(none, pivot) or 5 (none, HH, LH, HL, LL).  Ours add ``feature_names``, ``sequence_length``
and ``class_names``.  :func:`resolve_spec` combines what params.json says, what the model's
input/output shapes tell and what the user gave, checks they agree, and names everything that
is still missing instead of guessing it.

Inference (:func:`predict_proba`) normalises every bar with params.json's mean/std, builds the
window of the last ``sequence_length`` bars ending at each bar (never across a gap in time or a
row with missing values) and returns one probability row per bar (NaN where no full window
exists).  Class 0 is always "no pivot"; the signal is 1 - P(class 0).
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
    return Stage1Params(mean=mean, std=std, class_weights=data.get("class_weights"), metrics=metrics,
                        feature_names=names, sequence_length=seq, class_names=classes, raw=dict(data))


def read_params(path: Path) -> Stage1Params:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no {PARAMS_FILE} at {path}", hint=f"a Stage 1 model is {MODEL_FILE} + {PARAMS_FILE} in one folder")
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
                    "n_classes": self.n_classes})
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
    if len(output_shape) != 2 or _dim(output_shape, 1) not in CLASS_NAMES:
        raise BadInput(f"wrong output shape {tuple(output_shape)}: a Stage 1 model outputs 2 classes (none, pivot) "
                       "or 5 (none, HH, LH, HL, LL)")
    shape_len, n_feat, n_cls = _dim(input_shape, 1), _dim(input_shape, 2), _dim(output_shape, 1)
    if n_feat is None:
        raise BadInput(f"wrong input shape {tuple(input_shape)}: the number of features per bar is not fixed")
    if len(params.mean) != n_feat:
        problems.append(f"params.json has {len(params.mean)} normalisation values but the model takes {n_feat} features per bar")
    # feature names: never inferable from the model, only their count
    names = None
    if params.feature_names is not None:
        names, sources["feature_names"] = list(params.feature_names), "params.json"
        if feature_names and list(feature_names) != names:
            problems.append("the feature names given differ from those in params.json")
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
    given = {k: v for k, v in (("model input shape", shape_len), ("params.json", params.sequence_length),
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
                      notes=info["notes"])


# -- loading a Keras model safely -------------------------------------------------------------------
def check_hdf5(path: Path) -> None:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no {MODEL_FILE} at {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head != HDF5_SIGNATURE:
        raise BadInput(f"{path.name} is not an HDF5 file (corrupted or another format)",
                       hint="a Stage 1 model is a Keras model saved as legacy HDF5 (.h5)")


def load_keras_model(path: Path):
    """``keras.models.load_model(safe_mode=True, compile=False)`` with clear errors for a
    corrupted or foreign file.  (HDF5 is not pickle; safe_mode refuses Python lambdas.)"""
    path = Path(path)
    check_hdf5(path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise BadInput(f"{path.name}: a Stage 1 model file must end in .h5")
    from engine.stage2.tfkeras import keras

    k = keras()
    try:
        model = k.models.load_model(str(path), safe_mode=True, compile=False)
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the file's problem
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise BadInput(f"{path.name} cannot be loaded as a Keras model ({type(e).__name__}: {first})",
                       hint="the file may be corrupted, truncated, use custom layers or Python lambdas") from None
    return model


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

    @classmethod
    def load(cls, folder: Path, *, feature_names: list[str] | None = None,
             sequence_length: int | None = None) -> "Stage1Model":
        folder = Path(folder)
        params = read_params(folder / PARAMS_FILE)
        model = load_keras_model(folder / MODEL_FILE)
        ins, outs = model_shapes(model)
        spec = resolve_spec(ins, outs, params, feature_names=feature_names, sequence_length=sequence_length)
        return cls(model, spec, params)

    def test_prediction(self) -> dict[str, Any]:
        """The seed's check: one window (every feature at its training mean) through the model."""
        x = np.zeros((1, self.spec.sequence_length, self.spec.n_features), dtype="float32")
        p = np.asarray(self.model.predict_on_batch(x))
        check_probabilities(p)
        return {"shape": list(p.shape), "value": [round(float(v), 6) for v in p[0]]}

    def predict_proba(self, X: np.ndarray, valid_end: np.ndarray | None = None, *,
                      progress_cb=None) -> np.ndarray:
        return predict_proba(self.model, self.spec, X, valid_end, progress_cb=progress_cb)


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
        p = np.asarray(model.predict_on_batch(xb))
        if p.shape != (len(idx), spec.n_classes):
            raise BadInput(f"the Stage 1 model returned shape {p.shape} for {len(idx)} windows")
        out[idx] = p
        if progress_cb is not None:
            progress_cb(min(1.0, (i + len(idx)) / len(ends)))
    check_probabilities(out[ends])
    return out


def signal_probability(proba: np.ndarray) -> np.ndarray:
    """P(a pivot forms at this bar) = 1 - P(class 0 = no pivot), whatever the number of classes."""
    return 1.0 - np.asarray(proba)[:, 0]


def is_finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
