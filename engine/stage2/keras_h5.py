"""Reading a Keras ``.h5`` Stage 1 file as it was really saved, without editing it.

Keras 2.3 - 2.15 (standalone and tf.keras) and Keras 3 all write the legacy HDF5 layout: the
architecture as JSON in the root attribute ``model_config``, the weights under
``model_weights/<layer>/`` (attribute ``weight_names`` lists them in the layer's order) and the
writer's ``keras_version`` / ``backend`` as attributes.  Keras 3 cannot build a Keras 2 config as
it stands (``time_major``, ``batch_input_shape`` on a first LSTM, CuDNN layer names ...), so here:

1. the file is sniffed (Git LFS pointer, not HDF5, weights only, no model) and refused with a
   message that names what it really is;
2. ``model_config`` is rewritten in memory into a Keras 3 config; every rewrite is listed; a layer
   that would run code (Lambda, TF-op layers) or that Keras 3 computes differently is refused;
3. the model is built by Keras 3's own legacy-config deserializer in safe mode (no custom
   objects; never ``safe_mode=False``);
4. the weights are read from the HDF5 groups by layer name (CuDNN weights converted as Keras 2's
   own ``hdf5_format._convert_rnn_weights`` did) and set, then every layer's weights are read
   back and compared with the arrays of the file: a model whose weights were not all loaded is
   refused;
5. the output is classified: a 5-class softmax, a 2-class softmax or one sigmoid unit
   (P(pivot)); anything else is refused with what the file is and what a Stage 1 must be.

Written by hand: no library translates Keras 2 configs for Keras 3 (Keras 3's own h5 loader
stops at the first unknown argument).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config.errors import BadInput, NotFound

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
STAGE1_MUST = ("a Stage 1 model takes windows (batch, sequence length, features) and outputs a 5-class softmax "
               "(none, HH, LH, HL, LL), a 2-class softmax (none, pivot) or one sigmoid unit (P(pivot))")

RNN = {"LSTM", "GRU", "SimpleRNN"}
CUDNN = {"CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU"}
RENAMED = {"MaxPool1D": "MaxPooling1D", "AvgPool1D": "AveragePooling1D",
           "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalAvgPool1D": "GlobalAveragePooling1D"}
# layers that carry code or TensorFlow ops: never rebuilt from a file
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "TensorFlowOpLayer"}
TOKEN_LAYERS = {"Embedding"}
WRAPPERS = {"Bidirectional", "TimeDistributed"}
MODELS = {"Sequential", "Functional", "Model"}
KNOWN = RNN | WRAPPERS | MODELS | {
    "InputLayer", "Dense", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "Activation", "Softmax", "ReLU", "LeakyReLU", "ELU", "PReLU", "BatchNormalization", "LayerNormalization",
    "Flatten", "Reshape", "Permute", "RepeatVector", "Masking", "Conv1D", "MaxPooling1D", "AveragePooling1D",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Concatenate", "Add", "Average", "Multiply", "Subtract",
    "Maximum", "Minimum", "Attention", "MultiHeadAttention", "ActivityRegularization"}
# Keras 2 activations whose Keras 3 namesake computes something else (Keras 2 hard_sigmoid is
# clip(0.2 x + 0.5, 0, 1), Keras 3's is relu6(x + 3) / 6; Keras 2 gelu is exact, Keras 3's "gelu"
# string is the tanh approximation): the model's outputs would change, so it is refused
CHANGED_ACTIVATIONS = {"hard_sigmoid": "clip(0.2x + 0.5, 0, 1) in Keras 2, relu6(x + 3) / 6 in Keras 3",
                       "gelu": "exact in Keras 2, the tanh approximation in Keras 3"}
# bounds for an untrusted file, checked before Keras allocates anything (the seed's model has ~120k
# weights; a file past these is refused rather than built)
MAX_CONFIG_BYTES = 8 << 20
MAX_WEIGHT_VALUES = 50_000_000
MAX_WIDTH = 4096  # units / filters / output_dim / key_dim of one layer
MAX_DIM = 100_000  # one input dimension (sequence length, features)
SIZE_KEYS = ("units", "filters", "output_dim", "key_dim", "num_heads")
BN_DROP_IF = {"fused": None, "renorm": False, "renorm_clipping": None, "renorm_momentum": None,
              "virtual_batch_size": None, "adjustment": None}


@dataclass
class KerasH5:
    """A Keras 3 model built from a .h5 file, with what was done to get there."""

    model: Any
    keras_version: str
    backend: str | None
    rewrites: list[str]
    output_kind: str  # "softmax" | "sigmoid"
    output_desc: str  # e.g. "5-class softmax"
    weights_checked: dict[str, int] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {"keras_version": self.keras_version, "backend": self.backend, "rewrites": list(self.rewrites),
                "output_kind": self.output_kind, "output": self.output_desc, "weights_checked": dict(self.weights_checked)}


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def _names(v: Any) -> list[str]:
    if v is None:
        return []
    return [t for t in (_text(x) for x in np.asarray(v).reshape(-1)) if t]


# -- 1. what the file is --------------------------------------------------------------------------
def sniff(path: Path) -> None:
    """Refuse a file that is not an HDF5 file, naming what it is when it is a Git LFS pointer."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no model file at {path}")
    with open(path, "rb") as f:
        head = f.read(256)
    if head.startswith(LFS_POINTER):
        size = next((ln.split()[1] for ln in head.decode("ascii", "replace").splitlines()
                     if ln.startswith("size ") and len(ln.split()) == 2), "?")
        raise BadInput(f"{path.name} is a Git LFS pointer ({path.stat().st_size}-byte text standing for a "
                       f"{size}-byte file), not the model: the repository was cloned without its LFS files",
                       hint="run `git lfs pull` in that repository (install git-lfs first), then import again")
    if head[:8] != HDF5_SIGNATURE:
        raise BadInput(f"{path.name} is not an HDF5 file (corrupted or another format)",
                       hint="a Stage 1 model is a Keras model saved as legacy HDF5 (.h5)")


def read_header(path: Path) -> dict[str, Any]:
    """keras_version, backend and the decoded model_config of a legacy .h5 (no model built)."""
    import h5py

    path = Path(path)
    sniff(path)
    try:
        with h5py.File(path, "r") as f:
            # (attributes are never compressed: reading one costs at most the file's size)
            attrs = {k: _text(f.attrs.get(k)) for k in ("keras_version", "backend", "model_config")}
            layer_names_root = "layer_names" in f.attrs
            keras3_weights = "vars" in f or "layers" in f
            has_weights = "model_weights" in f
    except OSError as e:
        raise BadInput(f"{path.name} cannot be loaded as a Keras model (the HDF5 file is truncated or corrupted: "
                       f"{str(e).splitlines()[0][:200]})", hint="download or copy the file again") from None
    version = attrs["keras_version"] or "unknown"
    if attrs["model_config"] is not None and len(attrs["model_config"]) > MAX_CONFIG_BYTES:
        raise BadInput(f"{path.name}: its model_config is {len(attrs['model_config']):,} bytes; a Stage 1 model's is a "
                       f"few KB (limit {MAX_CONFIG_BYTES:,})")
    if attrs["model_config"] is None:
        if layer_names_root or keras3_weights:
            raise BadInput(f"{path.name} holds only weights (written by model.save_weights(), Keras {version}): "
                           "the architecture is not in the file, so no model can be built from it",
                           hint="save the whole model (model.save('classification.h5')) where it was trained")
        raise BadInput(f"{path.name} cannot be loaded as a Keras model: it is an HDF5 file without a model_config"
                       + (" (it has weights but no architecture)" if has_weights else " or weights"),
                       hint="a Stage 1 model is a whole Keras model saved as legacy HDF5 (model.save('x.h5'))")
    try:
        config = json.loads(attrs["model_config"])
    except (ValueError, RecursionError) as e:
        raise BadInput(f"{path.name} cannot be loaded as a Keras model: its model_config is not JSON ({e})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise BadInput(f"{path.name} cannot be loaded as a Keras model: its model_config is not a Keras model config")
    return {"keras_version": version, "backend": attrs["backend"], "model_config": config}


# -- 2. Keras 2 config -> Keras 3 config -----------------------------------------------------------
class _Translator:
    def __init__(self, fname: str, version: str):
        self.fname, self.version = fname, version
        self.keras3 = str(version).split(".")[0].isdigit() and int(str(version).split(".")[0]) >= 3
        self.rewrites: list[str] = []
        self.weight_fixes: dict[str, str] = {}  # layer name -> "CuDNNLSTM" | "CuDNNGRU"
        self._popped_shapes: dict[str, list] = {}  # layer name -> the batch_input_shape it carried

    def refuse(self, what: str, hint: str | None = None):
        raise BadInput(f"{self.fname} (Keras {self.version}) {what}", hint=hint)

    def note(self, text: str) -> None:
        if text not in self.rewrites:
            self.rewrites.append(text)

    def model(self, cfg: dict[str, Any]) -> dict[str, Any]:
        cls = cfg.get("class_name")
        if cls not in MODELS:
            self.refuse(f"holds a {cls!r}, not a Sequential or functional model")
        c = cfg.get("config")
        if isinstance(c, list):  # Keras <= 2.2 Sequential: the config is the list of layers
            c = {"name": "sequential", "layers": c}
            self.note("Sequential config given as a bare list of layers (Keras <= 2.2): wrapped")
        if not isinstance(c, dict) or not isinstance(c.get("layers"), list) or not c["layers"]:
            self.refuse("has a model_config without layers")
        layers = [self.layer(lc) for lc in c["layers"]]
        moved = None
        if cls == "Sequential":
            first = layers[0]
            if first["class_name"] != "InputLayer":
                moved = first["config"].get("name")
                shape = self._popped_shapes.get(first["config"].get("name"))
                if shape is None:
                    self.refuse("is a Sequential model whose input shape is not recorded (never built)",
                                hint="save the model after it has been built or trained")
                layers.insert(0, {"class_name": "InputLayer", "config": {
                    "batch_shape": shape, "dtype": _dtype_name(first["config"].get("dtype")) or "float32",
                    "name": f"{first['config'].get('name', 'layer')}_input"}})
                self.note(f"Sequential without an InputLayer: batch_input_shape {tuple(shape)} of its first layer "
                          f"{first['config'].get('name')!r} moved into an InputLayer (batch_shape)")
        for lname in self._popped_shapes:
            if lname != moved:
                self.note(f"{lname}: batch_input_shape dropped (the InputLayer gives the shape)")
        out = copy.deepcopy(cfg)
        out["config"] = dict(c, layers=layers)
        return out

    def layer(self, lc: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(lc, dict) or not isinstance(lc.get("config"), dict):
            self.refuse("has a malformed layer entry in its model_config")
        lc = copy.deepcopy(lc)
        cls, c = lc.get("class_name"), lc["config"]
        name = c.get("name", "?")
        for key in SIZE_KEYS:
            v = c.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v > MAX_WIDTH:
                self.refuse(f"has {key}={v} in {name!r}: far beyond a Stage 1 model (limit {MAX_WIDTH})")
        for key in ("batch_input_shape", "batch_shape"):
            dims = c.get(key)
            if isinstance(dims, list) and any(isinstance(d, (int, float)) and not isinstance(d, bool) and d > MAX_DIM
                                              for d in dims):
                self.refuse(f"has an input shape {dims} in {name!r}: far beyond a Stage 1 model (limit {MAX_DIM} per dimension)")
        if cls in CODE_LAYERS:
            self.refuse(f"contains a {cls} layer ({name!r}): it holds Python code or TensorFlow ops, and KlineLab "
                        "never runs code from a model file", hint="rebuild the model with standard Keras layers only")
        if cls in TOKEN_LAYERS:
            self.refuse(f"is a token model: its {cls} layer {name!r} takes 2-D integer input (batch, tokens); "
                        + STAGE1_MUST)
        if cls in CUDNN:
            cls = self._cudnn(cls, c, name)
            lc["class_name"] = cls
        if cls in RENAMED:
            self.note(f"{name}: {cls} renamed {RENAMED[cls]}")
            cls = lc["class_name"] = RENAMED[cls]
        if cls in MODELS:
            return self.model(lc)
        if cls not in KNOWN:
            self.refuse(f"uses the layer type {cls!r} ({name!r}), which is a custom layer or one Keras 3 does not have",
                        hint="a Stage 1 model is built from standard Keras layers (LSTM / GRU / Dense ...)")
        if cls == "InputLayer":
            if "batch_input_shape" in c:
                c["batch_shape"] = c.pop("batch_input_shape")
                self.note(f"InputLayer {name!r}: batch_input_shape -> batch_shape")
        elif "batch_input_shape" in c:
            self._popped_shapes[name] = c.pop("batch_input_shape")
        if isinstance(c.get("dtype"), dict) and c["dtype"].get("class_name") == "Policy":
            c["dtype"] = _dtype_name(c["dtype"])
            self.note(f"{name}: Keras 2 dtype Policy -> {c['dtype']!r}")
        if cls in RNN:
            self._rnn(cls, c, name)
        if cls == "BatchNormalization":
            self._bn(c, name)
        if cls in WRAPPERS:
            if not isinstance(c.get("layer"), dict):
                self.refuse(f"has a {cls} {name!r} without its inner layer")
            inner = c["layer"]
            c["layer"] = self._module(self.layer(inner), name)
            if inner.get("class_name") in CUDNN:  # the inner layer's weights live in the wrapper's group
                self.weight_fixes[name] = inner["class_name"]
            if isinstance(c.get("backward_layer"), dict):
                c["backward_layer"] = self._module(self.layer(c["backward_layer"]), name)
        for key in ("activation", "recurrent_activation"):
            if isinstance(c.get(key), str) and c[key] in CHANGED_ACTIVATIONS and not self.keras3:
                self.refuse(f"uses {key}={c[key]!r} in {name!r}: Keras 3 computes it differently "
                            f"({CHANGED_ACTIVATIONS[c[key]]}), so its predictions would change")
        self._objects(c, name)
        return lc

    def _module(self, lc: dict[str, Any], outer: str) -> dict[str, Any]:
        """Keras 3 wrappers deserialize their inner layer with the new loader, which needs the
        ``module`` key Keras < 2.13 did not write."""
        if "module" not in lc:
            lc = {"module": "keras.layers", **lc, "registered_name": None}
            self.note(f"{outer}: inner layer {lc['config'].get('name')!r} given module keras.layers (Keras < 2.13 form)")
        return lc

    def _cudnn(self, cls: str, c: dict[str, Any], name: str) -> str:
        new = CUDNN[cls]
        c.update(activation="tanh", recurrent_activation="sigmoid", use_bias=True)
        if new == "LSTM":
            c.setdefault("unit_forget_bias", True)
        else:
            c["reset_after"] = True
        self.weight_fixes[name] = cls
        self.note(f"{name}: {cls} -> {new} (tanh / sigmoid{', reset_after' if new == 'GRU' else ''}; "
                  "CuDNN weights converted as Keras 2 did)")
        return new

    def _rnn(self, cls: str, c: dict[str, Any], name: str) -> None:
        if "time_major" in c:
            if c.pop("time_major"):
                self.refuse(f"has a time-major {cls} ({name!r}: input (time, batch, features)), which Keras 3 lacks")
            self.note(f"{name}: time_major=False dropped (Keras 3 is always batch-major)")
        if "implementation" in c and cls != "LSTM":
            c.pop("implementation")
            self.note(f"{name}: implementation dropped")

    def _bn(self, c: dict[str, Any], name: str) -> None:
        if isinstance(c.get("axis"), list):
            if len(c["axis"]) != 1:
                self.refuse(f"normalises {name!r} over several axes {c['axis']}, which Keras 3 lacks")
            c["axis"] = c["axis"][0]
            self.note(f"{name}: axis [{c['axis']}] -> {c['axis']}")
        for k, default in BN_DROP_IF.items():
            if k in c:
                v = c.pop(k)
                if k != "fused" and v not in (default, None, False):
                    self.refuse(f"uses BatchNormalization {k}={v!r} in {name!r}, which Keras 3 lacks")
                self.note(f"{name}: BatchNormalization {k} dropped")

    def _objects(self, c: dict[str, Any], name: str) -> None:
        """Initializer / regularizer / constraint dicts: kept when Keras 3 reads them, else replaced
        (initializers are never used on a loaded model; regularizers / constraints act only in training)."""
        from engine.stage2.tfkeras import keras

        k = keras()
        for key in list(c):
            v = c[key]
            kind = key.rsplit("_", 1)[-1]
            if kind not in ("initializer", "regularizer", "constraint") or v is None:
                continue
            if isinstance(v, dict) and isinstance(v.get("config"), dict):
                cfg = v["config"]
                if "dtype" in cfg and kind == "initializer":
                    cfg.pop("dtype")
                    self.note(f"{name}: dtype dropped from {key}")
                if cfg.get("distribution") == "normal":
                    cfg["distribution"] = "truncated_normal"  # Keras 2's alias
                    self.note(f"{name}: {key} distribution 'normal' -> 'truncated_normal' (Keras 2 alias)")
            mod = {"initializer": k.initializers, "regularizer": k.regularizers, "constraint": k.constraints}[kind]
            try:
                mod.get(v)
            except Exception:  # noqa: BLE001 - any failure: Keras 3 does not know this object
                label = v.get("class_name") if isinstance(v, dict) else v
                c[key] = "zeros" if kind == "initializer" else None
                self.note(f"{name}: {key} {label!r} unknown to Keras 3, "
                          + ("replaced by zeros (the weights come from the file)" if kind == "initializer"
                             else "dropped (it acts only in training)"))


def _dtype_name(d: Any) -> str | None:
    if isinstance(d, dict):
        return (d.get("config") or {}).get("name")
    return d


def translate(config: dict[str, Any], fname: str = "model", version: str = "?") -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """(Keras 3 model config, the rewrites applied, {layer: CuDNN class} for the weights)."""
    t = _Translator(fname, version)
    try:
        out = t.model(config)
    except RecursionError:
        raise BadInput(f"{fname} (Keras {version}): its model_config nests models too deeply") from None
    return out, t.rewrites, t.weight_fixes


# -- 3./4. build, load and check the weights ---------------------------------------------------------
def _build(config: dict[str, Any]):
    from engine.stage2.tfkeras import keras

    keras()
    # Keras 3's own loader for legacy .h5 configs (what keras.models.load_model runs on a .h5),
    # in safe mode and without custom objects: no Lambda, no code from the file
    from keras.src.legacy.saving import saving_options, saving_utils
    from keras.src.saving import serialization_lib

    with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(True):
        return saving_utils.model_from_config(config, custom_objects={})


def _cudnn_weights(cls: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """CuDNN layout -> Keras layout, as Keras 2's ``_convert_rnn_weights`` (tf.keras
    saving/hdf5_format.py) did: input kernels transposed per gate in Fortran order, recurrent
    kernels transposed per gate, the two bias sets summed (LSTM) or stacked (GRU, reset_after)."""
    n_gates = 4 if cls == "CuDNNLSTM" else 3
    out = list(arrays)
    for i in range(0, len(arrays) - 2, 3):  # a Bidirectional holds two sets of three
        w, u, b = arrays[i:i + 3]

        def t_in(k):
            return k.T.reshape(k.shape, order="F")

        out[i] = np.hstack([t_in(k) for k in np.hsplit(w, n_gates)])
        out[i + 1] = np.hstack([k.T for k in np.hsplit(u, n_gates)])
        out[i + 2] = (np.sum(np.split(b, 2, axis=0), axis=0) if n_gates == 4 else np.asarray(b).reshape(2, -1))
    return out


def load_weights(model, path: Path, weight_fixes: dict[str, str]) -> dict[str, int]:
    """Set every layer's weights from ``model_weights/<layer>`` and read them back to check."""
    import h5py

    fname = Path(path).name
    layers = {ly.name: ly for ly in model.layers if ly.weights}
    checked = {"layers": 0, "arrays": 0, "values": 0}
    with h5py.File(path, "r") as f:
        if "model_weights" not in f:
            raise BadInput(f"{fname} has a model_config but no model_weights: the model's weights are not in the file")
        mw = f["model_weights"]
        total = 0

        def count(_name, obj):
            nonlocal total
            if isinstance(obj, h5py.Dataset):
                total += int(obj.size)  # metadata only: nothing is read or decompressed here

        mw.visititems(count)
        if total > MAX_WEIGHT_VALUES:
            raise BadInput(f"{fname} holds {total:,} weight values; a Stage 1 model has far fewer "
                           f"(limit {MAX_WEIGHT_VALUES:,})")
        file_layers = {}
        for lname in _names(mw.attrs.get("layer_names")):
            if lname not in mw:
                raise BadInput(f"{fname}: model_weights lists layer {lname!r} but has no group for it (truncated?)")
            names = _names(mw[lname].attrs.get("weight_names"))
            if names:
                file_layers[lname] = (mw[lname], names)
        missing = sorted(set(layers) - set(file_layers))
        extra = sorted(set(file_layers) - set(layers))
        if missing or extra:
            raise BadInput(f"{fname}: the weights in the file do not match its model_config"
                           + (f"; no weights for {', '.join(missing)}" if missing else "")
                           + (f"; weights for unknown layers {', '.join(extra)}" if extra else ""))
        for lname, layer in layers.items():
            group, names = file_layers[lname]
            expect = layer.get_weights()
            try:
                dsets = [group[n] for n in names]
            except KeyError as e:
                raise BadInput(f"{fname}: layer {lname!r} lists weight {e} that is not in the file (truncated?)") from None
            n_file, n_model = sum(int(getattr(ds, "size", 0)) for ds in dsets), sum(int(e.size) for e in expect)
            if not all(isinstance(ds, h5py.Dataset) for ds in dsets) or \
                    (n_file != n_model if lname not in weight_fixes else n_file > 2 * n_model):  # CuDNN: 2 bias sets
                raise BadInput(f"{fname}: layer {lname!r} has weights of shapes {[getattr(ds, 'shape', None) for ds in dsets]} "
                               f"in the file but its config makes {[e.shape for e in expect]}")
            arrays = [np.asarray(ds) for ds in dsets]
            if lname in weight_fixes:
                arrays = _cudnn_weights(weight_fixes[lname], arrays)
            if len(arrays) != len(expect) or any(a.shape != e.shape for a, e in zip(arrays, expect)):
                raise BadInput(f"{fname}: layer {lname!r} has weights of shapes {[a.shape for a in arrays]} in the "
                               f"file but its config makes {[e.shape for e in expect]}")
            layer.set_weights(arrays)
            back = layer.get_weights()
            for a, b in zip(arrays, back):
                if not np.array_equal(np.asarray(a, dtype=b.dtype), b):
                    raise BadInput(f"{fname}: the weights of layer {lname!r} did not load (they differ from the file)")
            checked["layers"] += 1
            checked["arrays"] += len(arrays)
            checked["values"] += int(sum(a.size for a in arrays))
    return checked


# -- 5. what the model outputs ---------------------------------------------------------------------------
def _output_layer(model):
    hist = getattr(model.outputs[0], "_keras_history", None)
    return hist[0] if hist is not None else model.layers[-1]


def _activation_name(layer) -> str | None:
    cls = type(layer).__name__
    if cls == "Softmax":
        return "softmax"
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", None) or str(act)


def output_kind(model, fname: str, version: str) -> tuple[str, str]:
    """("softmax" | "sigmoid", description) of a Stage 1 model, or a BadInput saying what it is."""
    ins, outs = model.inputs, model.outputs
    if len(ins) != 1 or len(outs) != 1:
        raise BadInput(f"{fname} (Keras {version}) has {len(ins)} inputs and {len(outs)} outputs; " + STAGE1_MUST)
    in_shape, out_shape = tuple(ins[0].shape), tuple(outs[0].shape)
    if len(in_shape) != 3:
        raise BadInput(f"wrong input shape {in_shape}: {fname} (Keras {version}) takes {len(in_shape) - 1}-D input; "
                       + STAGE1_MUST, hint="use an LSTM / sequence classifier")
    layer = _output_layer(model)
    act = _activation_name(layer)
    units = out_shape[-1] if len(out_shape) == 2 else None
    desc = f"{type(layer).__name__}({units}, {act or '?'})"
    if len(out_shape) != 2:
        raise BadInput(f"wrong output shape {out_shape}: {fname} (Keras {version}) outputs a sequence; " + STAGE1_MUST)
    if act == "softmax" and units in (2, 5):
        return "softmax", f"{units}-class softmax"
    if act == "sigmoid" and units == 1:
        return "sigmoid", "one sigmoid unit (P(pivot))"
    if act == "softmax":
        what = f"a {units}-class softmax classifier"
        raise BadInput(f"wrong output shape {out_shape}: {fname} (Keras {version}) is {what}; " + STAGE1_MUST)
    if units == 1:
        raise BadInput(f"{fname} (Keras {version}) is a regression model (last layer {desc}: one unbounded value), "
                       "not a classifier; " + STAGE1_MUST)
    if act == "sigmoid":
        raise BadInput(f"wrong output shape {out_shape}: {fname} (Keras {version}) has {units} independent sigmoid "
                       "outputs (multi-label); " + STAGE1_MUST)
    raise BadInput(f"{fname} (Keras {version}) ends in {desc}: its outputs are not class probabilities; " + STAGE1_MUST,
                   hint="its last layer must be a softmax (2 or 5 classes) or one sigmoid unit")


def load_h5(path: Path) -> KerasH5:
    """The whole import of one .h5 file (nothing written anywhere; the file is only read)."""
    path = Path(path)
    head = read_header(path)
    fname, version = path.name, head["keras_version"]
    config, rewrites, fixes = translate(head["model_config"], fname, version)
    try:
        model = _build(config)
    except BadInput:
        raise
    except Exception as e:  # noqa: BLE001 - a config Keras 3 cannot build is the file's problem
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise BadInput(f"{fname} (Keras {version}) cannot be loaded as a Keras model: Keras 3 cannot build its "
                       f"architecture after translation ({type(e).__name__}: {first})",
                       hint="the translation covers Keras 2.3-2.15 Sequential / functional LSTM, GRU and Dense "
                            "models; custom layers and Lambda layers are refused") from None
    if not model.inputs:
        raise BadInput(f"{fname} (Keras {version}) has no recorded input shape; " + STAGE1_MUST)
    kind, desc = output_kind(model, fname, version)
    checked = load_weights(model, path, fixes)
    return KerasH5(model=model, keras_version=version, backend=head["backend"], rewrites=rewrites,
                   output_kind=kind, output_desc=desc, weights_checked=checked)
