"""Training configs: YAML files validated into typed objects at load time.

A config file holds any subset of the sections below; what it leaves out keeps the
default (``config/base.yaml`` spells every default out, and a test keeps the two equal).
Unknown keys, wrong types and out-of-range values are errors (:class:`BadInput`) that name
the file and the key, e.g. ``config/x.yaml: training.batch_size must be an integer in [1, 1048576],
got 'abc'``.

The sections are pydantic 2 models (:class:`config.typed.Strict`): each field's default and range is
its ``Field(...)`` below and nowhere else; :func:`config.typed.validate` turns pydantic's errors into
that one line.  Checks that need several fields or the model kind are :meth:`TrainConfig.check_for`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import Field

from config.bounded import load_yaml, read_small_text, short_repr
from config.errors import BadInput
from config.settings import HORIZONS
from config.typed import Strict, Text, validate
from config.version import ROOT
from engine import model_kinds
from engine.requests import CliRequest, ExecutorFields

CONFIG_DIR = ROOT / "config"
CONFIG_LIMIT = 1024 * 1024  # a training config is a few KB
PRESETS = ("base", "production", "test", "anti_overfit")
MODELS = model_kinds.TRAINABLE  # the kinds `train` runs, a live view of the registry (engine/model_kinds.py)
__all__ = [
    "HORIZONS",
    "MODELS",
    "PRESETS",
    "TrainConfig",
    "TrainRequest",
    "from_dict",
    "load_config",
    "loads",
    "resolve_path",
    "with_overrides",
]

Weight = Annotated[float, Field(ge=0.0, le=1e6)]


class DataConfig(Strict):
    featureset: Text | None = Field(None, description="feature set id (the CLI's --featureset wins)")
    report: Text | None = Field(None, description="analysis report id: inputs = its included_features.txt")
    symbols: list[Text] | None = Field(None, description="symbols of the feature set to use (null: all)")
    start: Text | None = Field(None, description="first bar used (UTC date or time; null: the feature set's start)")
    end: Text | None = Field(None, description="last bar used (null: the feature set's end)")
    last_bars: int | None = Field(None, ge=10, description="use only the last N bars of each symbol (quick runs)")
    context_window: int = Field(96, ge=2, le=4096, description="bars of history per window")
    stride: int = Field(1, ge=1, le=10_000, description="step between the last bars of consecutive windows")
    targets: list[Text] | None = Field(None, description="patchtst: targets to learn (null: all 24)")
    horizons: list[Text] = Field(default_factory=lambda: list(HORIZONS),
                                 description="direction: horizons among 15m, 1h, 4h, 12h")
    include: list[Text] | None = Field(None, description="input whitelist (like a report's included_features.txt); "
                                                         "null: all usable")
    exclude: list[Text] = Field(default_factory=list,
                                description="feature columns never used as inputs (leaking ones are always excluded)")
    max_missing_frac: float = Field(0.05, ge=0.0, le=1.0, description="drop inputs missing on more train rows than this")
    clip: float = Field(10.0, gt=0.0, description="scaled inputs are clipped to +-clip")


class SplitConfig(Strict):
    mode: Literal["chronological", "walk_forward"] = "chronological"
    train_frac: float = Field(0.70, gt=0.0, le=1.0)
    val_frac: float = Field(0.15, gt=0.0, le=1.0)
    train_end: Text | None = Field(None, description="explicit train end (UTC); overrides train_frac")
    val_end: Text | None = Field(None, description="explicit validation end (UTC); overrides val_frac")
    purge_bars: int | None = Field(None, ge=0, description="gap between splits; null = the feature set's "
                                                           "max_horizon_bars (never less)")
    n_folds: int = Field(3, ge=1, le=50, description="walk_forward: number of folds")
    walk_mode: Literal["expanding", "rolling"] = "expanding"
    initial_frac: float = Field(0.5, gt=0.0, le=1.0, description="walk_forward: share of bars before the first test block")
    train_bars: int | None = Field(None, ge=1, description="walk_forward rolling: bars in each training window")


class PatchTSTConfig(Strict):
    d_model: int = Field(128, ge=4, le=4096)
    n_heads: int = Field(8, ge=1, le=64)
    n_layers: int = Field(3, ge=1, le=48)
    d_ff: int = Field(256, ge=4, le=16384)
    dropout: float = Field(0.1, ge=0.0, le=0.9)
    head_dropout: float = Field(0.1, ge=0.0, le=0.9)
    patch_len: int = Field(16, ge=1, le=512)
    patch_stride: int = Field(8, ge=1, le=512)
    revin: bool = True
    channel_summary: int = Field(8, ge=1, le=1024, description="size of each channel's summary of its patch encodings")
    hidden: int = Field(256, ge=4, le=16384, description="width of the layer that mixes the channel summaries")


class DirectionModelConfig(Strict):
    hidden: int = Field(64, ge=4, le=4096)
    n_blocks: int = Field(3, ge=1, le=32, description="dilated temporal convolution blocks (dilation 1, 2, 4, ...)")
    kernel_size: int = Field(3, ge=2, le=31)
    dropout: float = Field(0.1, ge=0.0, le=0.9)


class ModelConfig(Strict):
    patchtst: PatchTSTConfig = Field(default_factory=PatchTSTConfig)
    direction: DirectionModelConfig = Field(default_factory=DirectionModelConfig)


class DirectionLossConfig(Strict):
    ce_weight: float = Field(1.0, ge=0.0)
    pnl_weight: float = Field(0.5, ge=0.0, description="weight of the expected P&L term (in units of the return scale)")
    fee: float | None = Field(None, ge=0.0, le=0.1, description="round-trip cost as a fraction (0.001 = 0.1%); null: "
                              "from the cost model (config/costs.yaml), 2 x (fee + slippage) of the run's symbols' market")
    label_smoothing: float = Field(0.0, ge=0.0, le=0.5)


class LossConfig(Strict):
    regression: Literal["huber", "mse"] = "huber"
    huber_delta: float = Field(1.0, gt=0.0)
    type_weights: dict[str, Weight] = Field(default_factory=lambda: {"regression": 1.0, "multiclass": 1.0, "binary": 1.0},
                                            description="weight per target type")
    target_weights: dict[str, Weight] = Field(default_factory=dict,
                                              description="per-target weights (multiply the type weight)")
    label_smoothing: float = Field(0.0, ge=0.0, le=0.5)
    direction: DirectionLossConfig = Field(default_factory=DirectionLossConfig)


class TrainingConfig(Strict):
    epochs: int = Field(30, ge=1, le=10_000)
    batch_size: int = Field(256, ge=1, le=1 << 20)
    lr: float = Field(1e-3, gt=0.0, le=1.0, description="peak learning rate of the one-cycle schedule")
    weight_decay: float = Field(0.01, ge=0.0, le=1.0)
    pct_start: float = Field(0.3, gt=0.0, le=1.0)
    grad_clip: float = Field(1.0, ge=0.0, description="max gradient norm (0 = off)")
    accumulation_steps: int = Field(1, ge=1, le=1024)
    amp: Literal["auto", "bf16", "fp16", "off"] = Field("auto", description="mixed precision on CUDA "
                                                                            "(auto: bf16 when supported)")
    tf32: bool = Field(True, description="TF32 matmuls on CUDA")
    early_stopping_patience: int = Field(5, ge=0, description="epochs without improvement before stopping (0 = off)")
    monitor: Literal["val_loss", "val_profit_factor", "val_directional_accuracy"] = "val_loss"
    min_delta: float = Field(0.0, ge=0.0)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    num_threads: int | None = Field(None, ge=1, le=512, description="torch CPU threads (null: torch's default)")
    max_batches_per_epoch: int | None = Field(None, ge=1, description="cap on training batches per epoch (quick runs)")
    eval_batch_size: int = Field(1024, ge=1)
    checkpoint_every_steps: int = Field(0, ge=0, description="also save last.pt every N optimizer steps (0: each epoch)")
    trading_fee: float | None = Field(None, ge=0.0, le=0.1, description="round-trip cost in the per-epoch trading "
                                      "metrics; null: from the cost model (config/costs.yaml), 2 x (fee + slippage) of "
                                      "the run's symbols' market")


class TrainConfig(Strict):
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

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


def from_dict(data: Any, source: str = "config") -> TrainConfig:
    return validate(TrainConfig, data, source)


class TrainRequest(ExecutorFields):
    """``train MODEL --config ... --featureset ...``: what the CLI parses and the Training page builds
    (:meth:`argv` is the job's command line; field names are the CLI's option names).  The executor
    fields (``executor`` local|ray, ``workers``, ``ray_address``: the walk-forward folds as tasks) are
    :class:`~engine.requests.ExecutorFields`'s; none given: the folds run one after another in the run's process."""

    command: ClassVar[tuple[str, ...]] = ("train",)
    positional: ClassVar[tuple[str, ...]] = ("model",)  # the model kind is the sub-command: train patchtst|direction
    omit_empty: ClassVar[bool] = True  # the page's empty name / remote / targets are "not given"
    model: Text = Field(..., description="model kind (patchtst, direction)")
    config: Text = Field(..., min_length=1, description="YAML file or preset: base, production, test, anti_overfit")
    featureset: Text | None = None
    report: Text | None = None
    targets: list[Text] | None = Field(None, description="patchtst: targets to learn (default: the config's, else all)")
    name: Text | None = None
    remote: Text | None = Field(None, description="an SSH host profile: run there instead (Cloud Sync)")


class ResumeRequest(CliRequest):
    """``train resume RUN_ID``: continue an interrupted run from its last checkpoint (the Training page's
    Resume button builds it)."""

    command: ClassVar[tuple[str, ...]] = ("train", "resume")
    positional: ClassVar[tuple[str, ...]] = ("run_id",)
    run_id: Text = Field(..., min_length=1)


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
