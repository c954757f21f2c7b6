"""The model-kind registry: one small declarative spec per kind of model.

Training (``engine/training/run.py``), the ``train`` CLI, the backtest (``engine/backtest/sources.py``)
and the Training / Backtest pages loop over these specs instead of branching on names. A spec says:

* ``name``: the word in ``train NAME``, ``params.model`` of the model manifest and the run id;
* ``label`` / ``help``: how pages and the CLI call it;
* ``task``: what it learns (one line, for people);
* ``task_class`` / ``model_class``: the implementation, ``"module:Class"`` (imported on first use, so
  importing this module loads no torch) or the class itself. A kind with a ``task_class`` is trained
  by the one ``train`` path (windows -> :class:`engine.training.tasks.Task` -> Trainer -> artifact
  ``model``); a kind without one is trained by its own command (``trained_by``, e.g. Stage 1 / Stage 2);
* ``config_section``: where its settings live (``model.direction`` in the training config; a config
  class for kinds trained elsewhere); :func:`config_section` looks it up by name;
* ``artifact``: the artifact kind its runs publish;
* ``prediction_columns``: what its ``predictions.parquet`` holds (docs/CONTRACTS.md);
* ``signals``: how the backtest reads those predictions, a key of :data:`SIGNALS` (None: not backtested);
* ``cli_options``: extra ``train NAME`` options (``targets``: ``--targets a,b``).

Adding a model kind is one module (a :class:`~engine.training.tasks.Task` subclass + an ``nn.Module``
whose ``kwargs`` rebuild it) and one registration: an entry in :data:`BUILTIN` or ``register(ModelKind(...))``.
This module imports nothing from the rest of KlineLab but ``config.errors`` (no cycles).
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from config.errors import BadInput


@dataclass(frozen=True)
class Threshold:
    """The threshold a signal reader takes: its range, default and how a page asks for it."""

    label: str
    lo: float
    hi: float
    default: float
    step: float
    widget: str = "slider"  # slider | number
    fmt: str = "%.2f"
    help: str = ""


@dataclass(frozen=True)
class Signals:
    """How the backtest turns one layout of prediction columns into positions (engine/backtest/sources.py
    binds each name to its reader)."""

    name: str
    columns: str  # the columns it reads, for messages and docs
    threshold: Threshold
    horizons: bool  # the predictions have one column set per horizon (a page offers the choice)


SIGNALS: dict[str, Signals] = {s.name: s for s in (
    Signals("direction", "p_down_<h>, p_flat_<h>, p_up_<h>",
            Threshold("Probability threshold", 0.0, 1.0, 0.5, 0.01, help="long when P(up) >= threshold and P(up) > P(down)"),
            horizons=True),
    Signals("return", "pred_future_return_<h> (else the direction head p_direction_<h>_<k>)",
            Threshold("Extra expected return over costs", 0.0, 1.0, 0.0, 0.0005, widget="number", fmt="%.4f",
                      help="trade when |predicted return| > 2 x (fee + slippage) + this"),
            horizons=True),
    Signals("pivots", "pred_class, p_HH, p_LH, p_HL, p_LL",
            Threshold("Probability threshold", 0.0, 1.0, 0.5, 0.01,
                      help="Stage 2: P(pivot low) / P(pivot high) of the predicted pivot side"),
            horizons=False),
)}


# options a kind may add to `train NAME` (ModelKind.cli_options): name -> (flags, argparse keywords)
TRAIN_OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "targets": (("--targets",), {"help": "comma separated targets (default: data.targets of the config, else all)"}),
}


@dataclass(frozen=True)
class ModelKind:
    name: str
    label: str
    help: str
    task: str
    artifact: str = "model"
    task_class: Any = None  # "module:Class" | class (a engine.training.tasks.Task subclass)
    model_class: Any = None  # "module:Class" | class
    config_section: str | None = None
    prediction_columns: tuple[str, ...] = ()
    signals: str | None = None
    cli_options: tuple[str, ...] = ()
    trained_by: tuple[str, ...] = ()  # the CLI words that train it; () = ("train", name)

    @property
    def trainable(self) -> bool:
        """Trained by the one ``train`` path (windows, Task, Trainer)."""
        return self.task_class is not None

    @property
    def command(self) -> tuple[str, ...]:
        return self.trained_by or ("train", self.name)

    def load_task(self) -> Any:
        if self.task_class is None:
            raise BadInput(f"the {self.name} model kind is not trained by `train`",
                           hint=f"use `python -m engine {' '.join(self.command)}`")
        return _resolve(self.task_class)

    def load_model(self) -> Any:
        if self.model_class is None:
            raise BadInput(f"the {self.name} model kind has no model class to build")
        return _resolve(self.model_class)

    def signal_spec(self) -> Signals | None:
        return SIGNALS[self.signals] if self.signals else None


def _resolve(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


BUILTIN: tuple[ModelKind, ...] = (
    ModelKind("direction", "DirectionPredictor", "DirectionPredictor: DOWN / FLAT / UP per horizon, trading-aware loss",
              "direction_<h> (0 DOWN, 1 FLAT, 2 UP) per horizon of data.horizons",
              task_class="engine.training.tasks:DirectionTask", model_class="engine.training.models:DirectionPredictor",
              config_section="model.direction", prediction_columns=("p_down_<h>", "p_flat_<h>", "p_up_<h>"),
              signals="direction"),
    ModelKind("patchtst", "UnifiedPatchTST", "UnifiedPatchTST: all 24 targets (or --targets) at once",
              "every target of the feature set (or data.targets / --targets) at once",
              task_class="engine.training.tasks:PatchTSTTask", model_class="engine.training.models:UnifiedPatchTST",
              config_section="model.patchtst", prediction_columns=("pred_<regression target>", "p_<class target>_<k>"),
              signals="return", cli_options=("targets",)),
    ModelKind("stage1", "Stage 1 (pivot detector)", "Stage 1: Keras LSTM pivot classifier (imported or trained)",
              "pivot / no pivot (or the pivot type) at each bar from the ZigZag labels", artifact="stage1",
              model_class="engine.stage2.stage1:Stage1Model", config_section="engine.stage2.stage1_train:Stage1TrainConfig",
              prediction_columns=("p_<class>", "oof_p_<class>", "signal_prob"), trained_by=("stage1", "train")),
    ModelKind("stage2", "Stage 2 (pivot type)", "Stage 2: LightGBM pivot type (HH / LH / HL / LL) at Stage 1 signals",
              "the pivot type at bars Stage 1 lets through", artifact="stage2",
              model_class="lightgbm:Booster", config_section="engine.stage2.stage2:Stage2Config",
              prediction_columns=("stage1_prob", "pred_class", "p_HH", "p_LH", "p_HL", "p_LL", "true_class"),
              signals="pivots", trained_by=("stage2", "train")),
)

_REGISTRY: dict[str, ModelKind] = {k.name: k for k in BUILTIN}


def register(kind: ModelKind, *, replace: bool = False) -> ModelKind:
    """Add a kind (a plugin, a test's toy kind). Its name must be new unless ``replace``."""
    if not kind.name or not kind.name.replace("_", "").isalnum() or kind.name != kind.name.lower():
        raise BadInput(f"a model kind name is lower-case letters, digits and _, got {kind.name!r}")
    if kind.name in _REGISTRY and not replace:
        raise BadInput(f"model kind {kind.name!r} is already registered")
    if kind.signals is not None and kind.signals not in SIGNALS:
        raise BadInput(f"model kind {kind.name!r}: unknown signals {kind.signals!r}", hint=f"one of {', '.join(SIGNALS)}")
    odd = [o for o in kind.cli_options if o not in TRAIN_OPTIONS]
    if odd:
        raise BadInput(f"model kind {kind.name!r}: unknown train option(s) {', '.join(odd)}",
                       hint=f"one of {', '.join(TRAIN_OPTIONS)}")
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> ModelKind:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise BadInput(f"unknown model kind {name!r}", hint=f"use one of {', '.join(_REGISTRY)}") from None


def kinds(*, trainable: bool | None = None, artifact: str | None = None, backtestable: bool | None = None) -> list[ModelKind]:
    """The registered kinds in registration order, filtered."""
    out = []
    for k in _REGISTRY.values():
        if trainable is not None and k.trainable != trainable:
            continue
        if artifact is not None and k.artifact != artifact:
            continue
        if backtestable is not None and (k.signals is not None) != backtestable:
            continue
        out.append(k)
    return out


def names(**filters: Any) -> list[str]:
    return [k.name for k in kinds(**filters)]


def backtest_artifact_kinds() -> list[str]:
    """Artifact kinds that hold backtestable predictions (``model``, ``stage2``)."""
    return list(dict.fromkeys(k.artifact for k in kinds(backtestable=True)))


def kind_of(artifact_kind: str, params: dict | None) -> ModelKind | None:
    """The kind of an artifact: ``params.model`` of a ``model`` artifact, else the kind that publishes
    that artifact kind (``stage1``, ``stage2``); None when no registered kind matches."""
    if artifact_kind == "model":
        name = str((params or {}).get("model", "")).lower()
        k = _REGISTRY.get(name)
        return k if k is not None and k.artifact == "model" else None
    return next((k for k in _REGISTRY.values() if k.artifact == artifact_kind), None)


def config_section(cfg: Any, kind: str | ModelKind) -> Any:
    """The settings object of a kind in a training config (``cfg.model.direction``), or None when the
    kind keeps none there (a toy kind, or a kind trained by its own command)."""
    k = get(kind) if isinstance(kind, str) else kind
    if not k.trainable or not k.config_section:
        return None
    obj = cfg
    for part in k.config_section.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class TrainableNames:
    """A live view of the names ``train`` runs (kinds registered later included): supports ``in``,
    iteration and ``len`` like the tuple it replaces (``engine.training.config.MODELS``)."""

    def __contains__(self, name: object) -> bool:
        k = _REGISTRY.get(name) if isinstance(name, str) else None
        return k is not None and k.trainable

    def __iter__(self) -> Iterator[str]:
        return iter(names(trainable=True))

    def __len__(self) -> int:
        return len(names(trainable=True))

    def __repr__(self) -> str:
        return repr(tuple(self))


TRAINABLE = TrainableNames()
