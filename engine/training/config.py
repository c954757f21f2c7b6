"""Training configs: YAML files validated into typed objects at load time.

A config file holds any subset of the sections below; what it leaves out keeps the
default (``config/base.yaml`` spells every default out, and a test keeps the two equal).
Unknown keys, wrong types and out-of-range values are errors (:class:`BadInput`) that name
the file and the key, e.g. ``config/x.yaml: training.batch_size must be an integer >= 1,
got 'abc'``.

The validator is written by hand (about sixty lines over the dataclass fields and their
``metadata``) because none of the project's pinned libraries validates dataclasses and a
schema library would be one more dependency for this alone.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from config.bounded import load_yaml, read_small_text, short_repr
from config.errors import BadInput
from config.version import ROOT
from engine import model_kinds

CONFIG_DIR = ROOT / "config"
CONFIG_LIMIT = 1024 * 1024  # a training config is a few KB
PRESETS = ("base", "production", "test", "anti_overfit")
HORIZONS = ("15m", "1h", "4h", "12h")
MODELS = model_kinds.TRAINABLE  # the kinds `train` runs, a live view of the registry (engine/model_kinds.py)


def _f(default: Any, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
       doc: str = "") -> Any:
    """A dataclass field with bounds (lo <= v <= hi; lo < v when lo_open) and a one-line doc."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "doc": doc}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    featureset: str | None = _f(None, doc="feature set id (the CLI's --featureset wins)")
    report: str | None = _f(None, doc="analysis report id: inputs = its included_features.txt")
    symbols: list[str] | None = _f(None, doc="symbols of the feature set to use (null: all)")
    start: str | None = _f(None, doc="first bar used (UTC date or time; null: the feature set's start)")
    end: str | None = _f(None, doc="last bar used (null: the feature set's end)")
    last_bars: int | None = _f(None, lo=10, doc="use only the last N bars of each symbol (quick runs)")
    context_window: int = _f(96, lo=2, hi=4096, doc="bars of history per window")
    stride: int = _f(1, lo=1, hi=10_000, doc="step between the last bars of consecutive windows")
    targets: list[str] | None = _f(None, doc="patchtst: targets to learn (null: all 24)")
    horizons: list[str] = _f(list(HORIZONS), doc="direction: horizons among 15m, 1h, 4h, 12h")
    include: list[str] | None = _f(None, doc="input whitelist (like a report's included_features.txt); null: all usable")
    exclude: list[str] = _f([], doc="feature columns never used as inputs (leaking ones are always excluded)")
    max_missing_frac: float = _f(0.05, lo=0.0, hi=1.0, doc="drop inputs missing on more train rows than this")
    clip: float = _f(10.0, lo=0.0, lo_open=True, doc="scaled inputs are clipped to +-clip")


@dataclass
class SplitConfig:
    mode: Literal["chronological", "walk_forward"] = _f("chronological")
    train_frac: float = _f(0.70, lo=0.0, hi=1.0, lo_open=True)
    val_frac: float = _f(0.15, lo=0.0, hi=1.0, lo_open=True)
    train_end: str | None = _f(None, doc="explicit train end (UTC); overrides train_frac")
    val_end: str | None = _f(None, doc="explicit validation end (UTC); overrides val_frac")
    purge_bars: int | None = _f(None, lo=0, doc="gap between splits; null = the feature set's max_horizon_bars (never less)")
    n_folds: int = _f(3, lo=1, hi=50, doc="walk_forward: number of folds")
    walk_mode: Literal["expanding", "rolling"] = _f("expanding")
    initial_frac: float = _f(0.5, lo=0.0, hi=1.0, lo_open=True, doc="walk_forward: share of bars before the first test block")
    train_bars: int | None = _f(None, lo=1, doc="walk_forward rolling: bars in each training window")


@dataclass
class PatchTSTConfig:
    d_model: int = _f(128, lo=4, hi=4096)
    n_heads: int = _f(8, lo=1, hi=64)
    n_layers: int = _f(3, lo=1, hi=48)
    d_ff: int = _f(256, lo=4, hi=16384)
    dropout: float = _f(0.1, lo=0.0, hi=0.9)
    head_dropout: float = _f(0.1, lo=0.0, hi=0.9)
    patch_len: int = _f(16, lo=1, hi=512)
    patch_stride: int = _f(8, lo=1, hi=512)
    revin: bool = _f(True)
    channel_summary: int = _f(8, lo=1, hi=1024, doc="size of each channel's summary of its patch encodings")
    hidden: int = _f(256, lo=4, hi=16384, doc="width of the layer that mixes the channel summaries")


@dataclass
class DirectionModelConfig:
    hidden: int = _f(64, lo=4, hi=4096)
    n_blocks: int = _f(3, lo=1, hi=32, doc="dilated temporal convolution blocks (dilation 1, 2, 4, ...)")
    kernel_size: int = _f(3, lo=2, hi=31)
    dropout: float = _f(0.1, lo=0.0, hi=0.9)


@dataclass
class ModelConfig:
    patchtst: PatchTSTConfig = field(default_factory=PatchTSTConfig)
    direction: DirectionModelConfig = field(default_factory=DirectionModelConfig)


@dataclass
class DirectionLossConfig:
    ce_weight: float = _f(1.0, lo=0.0)
    pnl_weight: float = _f(0.5, lo=0.0, doc="weight of the expected P&L term (in units of the return scale)")
    fee: float | None = _f(None, lo=0.0, hi=0.1, doc="round-trip cost as a fraction (0.001 = 0.1%); null: from the cost "
                           "model (config/costs.yaml), 2 x (fee + slippage) of the run's symbols' market")
    label_smoothing: float = _f(0.0, lo=0.0, hi=0.5)


@dataclass
class LossConfig:
    regression: Literal["huber", "mse"] = _f("huber")
    huber_delta: float = _f(1.0, lo=0.0, lo_open=True)
    type_weights: dict[str, float] = _f({"regression": 1.0, "multiclass": 1.0, "binary": 1.0}, lo=0.0, hi=1e6,
                                        doc="weight per target type")
    target_weights: dict[str, float] = _f({}, lo=0.0, hi=1e6, doc="per-target weights (multiply the type weight)")
    label_smoothing: float = _f(0.0, lo=0.0, hi=0.5)
    direction: DirectionLossConfig = field(default_factory=DirectionLossConfig)


@dataclass
class TrainingConfig:
    epochs: int = _f(30, lo=1, hi=10_000)
    batch_size: int = _f(256, lo=1, hi=1 << 20)
    lr: float = _f(1e-3, lo=0.0, hi=1.0, lo_open=True, doc="peak learning rate of the one-cycle schedule")
    weight_decay: float = _f(0.01, lo=0.0, hi=1.0)
    pct_start: float = _f(0.3, lo=0.0, hi=1.0, lo_open=True)
    grad_clip: float = _f(1.0, lo=0.0, doc="max gradient norm (0 = off)")
    accumulation_steps: int = _f(1, lo=1, hi=1024)
    amp: Literal["auto", "bf16", "fp16", "off"] = _f("auto", doc="mixed precision on CUDA (auto: bf16 when supported)")
    tf32: bool = _f(True, doc="TF32 matmuls on CUDA")
    early_stopping_patience: int = _f(5, lo=0, doc="epochs without improvement before stopping (0 = off)")
    monitor: Literal["val_loss", "val_profit_factor", "val_directional_accuracy"] = _f("val_loss")
    min_delta: float = _f(0.0, lo=0.0)
    seed: int = _f(42, lo=0, hi=2**31 - 1)
    device: Literal["auto", "cpu", "cuda", "mps"] = _f("auto")
    num_threads: int | None = _f(None, lo=1, hi=512, doc="torch CPU threads (null: torch's default)")
    max_batches_per_epoch: int | None = _f(None, lo=1, doc="cap on training batches per epoch (quick runs)")
    eval_batch_size: int = _f(1024, lo=1)
    checkpoint_every_steps: int = _f(0, lo=0, doc="also save last.pt every N optimizer steps (0: each epoch)")
    trading_fee: float | None = _f(None, lo=0.0, hi=0.1, doc="round-trip cost in the per-epoch trading metrics; null: from "
                                   "the cost model (config/costs.yaml), 2 x (fee + slippage) of the run's symbols' market")


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def check_for(self, model: str) -> TrainConfig:
        """Checks that need several fields together or the model kind."""
        if model not in MODELS:
            raise BadInput(f"unknown model {model!r}", hint=f"use {' or '.join(MODELS)}")
        bad = [h for h in self.data.horizons if h not in HORIZONS]
        if bad or not self.data.horizons:
            raise BadInput(f"data.horizons must be a non-empty list of {', '.join(HORIZONS)}, got {short_repr(self.data.horizons)}")
        if len(set(self.data.horizons)) != len(self.data.horizons):
            raise BadInput(f"data.horizons lists a horizon twice: {short_repr(self.data.horizons)}")
        s = self.split
        if s.train_frac + s.val_frac >= 1:
            raise BadInput(f"split.train_frac + split.val_frac must be below 1, got {s.train_frac} + {s.val_frac}")
        if s.mode == "walk_forward" and s.walk_mode == "rolling" and not s.train_bars:
            raise BadInput("split.train_bars is required when split.walk_mode is rolling")
        p = self.model.patchtst
        if model == "patchtst":
            if p.d_model % p.n_heads:
                raise BadInput(f"model.patchtst.d_model ({p.d_model}) must be divisible by n_heads ({p.n_heads})")
            if p.patch_len > self.data.context_window:
                raise BadInput(f"model.patchtst.patch_len ({p.patch_len}) exceeds data.context_window ({self.data.context_window})")
        for k in self.loss.type_weights:
            if k not in ("regression", "multiclass", "binary"):
                raise BadInput(f"loss.type_weights: unknown target type {short_repr(k)}", hint="use regression, multiclass, binary")
        if self.loss.target_weights:  # a weight for a target the model never learns would silently do nothing
            from engine.features.targets import TARGET_NAMES

            # (the run's exact target list - --targets, the feature set - is checked again when it is prepared)
            learnt = [f"direction_{h}" for h in self.data.horizons] if model == "direction" else list(TARGET_NAMES)
            stray = [k for k in self.loss.target_weights if k not in learnt]
            if stray:
                raise BadInput(f"loss.target_weights names target(s) the {model} model does not learn: {short_repr(stray)}",
                               hint=f"its targets: {short_repr(learnt)}")
        if self.loss.direction.ce_weight == 0 and self.loss.direction.pnl_weight == 0:
            raise BadInput("loss.direction: ce_weight and pnl_weight cannot both be 0")
        return self


# -- validation ---------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if origin in (typing.Union, __import__("types").UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(args[0]) + " or null"
    if origin is list:
        return f"a list of {_PLURAL[typing.get_args(tp)[0]]}"
    if origin is dict:
        return f"a mapping of names to {_PLURAL[typing.get_args(tp)[1]]}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


_PLURAL = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}


def _convert(value: Any, tp: Any, where: str, meta: dict) -> Any:
    origin = typing.get_origin(tp)
    # the message shows a bounded repr (a YAML alias bomb or a huge list must not be formatted in full)
    bad = BadInput(f"{where} must be {_type_name(tp)}{_bounds(meta)}, got {short_repr(value)}")
    if origin in (typing.Union, __import__("types").UnionType):
        if value is None:
            return None
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        try:
            return _convert(value, inner, where, meta)
        except BadInput:
            raise bad from None
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin is list:
        if not isinstance(value, list):
            raise bad
        return [_convert(v, typing.get_args(tp)[0], f"{where}[{i}]", {}) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise bad
        return {k: _convert(v, typing.get_args(tp)[1], f"{where}.{k}", meta) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise bad
        value = float(value)
    elif tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):  # YAML reads 2024-01-01 as a date
            if hasattr(value, "isoformat"):
                return value.isoformat()
            raise bad
        return str(value)
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
        raise bad
    if hi is not None and value > hi:
        raise bad
    return value


def _bounds(meta: dict) -> str:
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return ""
    def fmt(v: float) -> str:
        return str(v) if isinstance(v, int) else f"{v:g}"

    if hi is None:
        return f" {'>' if meta.get('lo_open') else '>='} {fmt(lo)}"
    if lo is None:
        return f" <= {fmt(hi)}"
    return f" in {'(' if meta.get('lo_open') else '['}{fmt(lo)}, {fmt(hi)}]"


def _build(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{where or 'the config'} must be a mapping of keys to values, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise BadInput(f"{where + ': ' if where else ''}unknown key(s) {', '.join(short_repr(k, 60) for k in unknown[:8])}{', ...' if len(unknown) > 8 else ''}",
                       hint=f"known keys: {', '.join(fields)}")
    kw = {}
    for name, value in data.items():
        tp = hints[name]
        key = f"{where}.{name}" if where else name
        kw[name] = _build(tp, value, key) if dataclasses.is_dataclass(tp) else _convert(value, tp, key, dict(fields[name].metadata))
    return cls(**kw)


def from_dict(data: Any, source: str = "config") -> TrainConfig:
    try:
        return _build(TrainConfig, data, "")
    except BadInput as e:
        raise BadInput(f"{source}: {e.message}", hint=e.hint) from None


def resolve_path(name_or_path: str | Path) -> Path:
    """A preset name (``test``, ``production`` ...) or a file path."""
    s = str(name_or_path)
    if s in PRESETS:
        return CONFIG_DIR / f"{s}.yaml"
    p = Path(s).expanduser()
    if not p.is_file() and not p.is_absolute() and (ROOT / p).is_file():
        p = ROOT / p
    if not p.is_file():
        from config.paths import not_a_file_reason

        raise BadInput(f"config file {s} {not_a_file_reason(p)}", hint=f"give a YAML file or one of {', '.join(PRESETS)}")
    return p


def load_config(name_or_path: str | Path) -> TrainConfig:
    path = resolve_path(name_or_path)
    data = load_yaml(read_small_text(path, "config file", CONFIG_LIMIT), str(path))
    return from_dict(data, str(path))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def with_overrides(name_or_path: str | Path, overrides: str) -> tuple[TrainConfig, str]:
    """A preset or file with YAML ``overrides`` merged over it (nested keys merge, others
    replace), validated; returns the config and the merged YAML text."""
    path = resolve_path(name_or_path)
    base = load_yaml(read_small_text(path, "config file", CONFIG_LIMIT), str(path)) or {}
    over = load_yaml(overrides or "", "overrides") or {}
    if not isinstance(over, dict):
        raise BadInput("overrides must be a YAML mapping, e.g. training: {epochs: 5}")
    merged = _merge(base, over)
    cfg = from_dict(merged, f"{path.name} + overrides")
    return cfg, yaml.safe_dump(merged, sort_keys=False)


def loads(text: str, source: str = "config") -> TrainConfig:
    return from_dict(load_yaml(text, source), source)
