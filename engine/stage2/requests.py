"""Typed ``stage1`` / ``stage2`` requests: what ``python -m engine stage1 ...`` / ``stage2 ...`` parse and
what the Stage 2 page builds (engine/requests.py; field names are the argparse ``dest`` names of
engine/stage2/cli.py, whose numeric options take their ranges and defaults from these fields).

The training fields become the typed configs with :meth:`Stage1TrainFields.stage1_config` and
:meth:`Stage2Fields.stage2_config` (``Stage1TrainConfig`` / ``Stage2Config``)."""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from config.errors import BadInput
from engine.requests import CliRequest, ExecutorFields

SEED = Field(42, ge=0, le=2**31 - 1)


class _Names(CliRequest):
    features: str | None = Field(None, description="input feature names (comma or newline separated)")
    features_file: str | None = Field(None, description="... or a file with one name per line")

    def feature_names(self) -> list[str] | None:
        """``--features`` or the names in ``--features-file`` (not both); None when neither is given."""
        from engine.stage2.stage1_io import parse_names

        names = parse_names(self.features)
        f = self.features_file
        if f:
            if names:
                raise BadInput("give --features or --features-file, not both")
            try:
                names = parse_names(Path(f).read_text(encoding="utf-8"))
            except OSError as e:
                raise BadInput(f"cannot read {f}: {e}") from None
            if not names:
                raise BadInput(f"{f} names no feature")
        return names


class _Stage1Source(_Names):
    positional: ClassVar[tuple[str, ...]] = ("source",)
    source: str = Field(..., min_length=1, description="a local folder or .h5, a Hub repo id, or a stage1 artifact id")
    symbol: str
    timeframe: str
    sequence_length: int | None = Field(None, ge=1, le=4096)
    revision: str | None = None
    repo_type: Literal["dataset", "model"] = "dataset"
    model_file: str = "classification.h5"


class Stage1InspectRequest(_Stage1Source):
    """``stage1 inspect PATH_OR_REPO --symbol S --timeframe TF ...`` (writes nothing)."""

    command: ClassVar[tuple[str, ...]] = ("stage1", "inspect")


class Stage1ImportRequest(_Stage1Source):
    """``stage1 import PATH_OR_REPO --symbol S --timeframe TF ...``."""

    command: ClassVar[tuple[str, ...]] = ("stage1", "import")
    name: str | None = None


class Stage1TrainFields(_Names):
    """The LSTM's training options (``stage1 train``; ``stage2 batch --stage1 train`` with ``--s1-`` flags)."""

    classes: Literal[2, 5] = 2
    sequence_length: int | None = Field(32, ge=1, le=4096)
    units: int = Field(32, ge=1, le=4096)
    dropout: float = Field(0.1, ge=0, le=0.9)
    epochs: int = Field(10, ge=1, le=10_000)
    batch_size: int = Field(256, ge=1, le=1 << 20)
    s1_learning_rate: float = Field(1e-3, gt=0, le=1)
    patience: int = Field(3, ge=0, le=10_000)
    oof_folds: int = Field(4, ge=2, le=50)
    seed: int = SEED

    def stage1_config(self):
        from engine.stage2.stage1_train import Stage1TrainConfig

        return Stage1TrainConfig(classes=self.classes, sequence_length=self.sequence_length or 32, units=self.units,
                                 dropout=self.dropout, epochs=self.epochs, batch_size=self.batch_size,
                                 learning_rate=self.s1_learning_rate, patience=self.patience, seed=self.seed,
                                 features=self.feature_names(), oof_folds=self.oof_folds)


class Stage1TrainRequest(Stage1TrainFields):
    """``stage1 train --symbol S --timeframe TF [--featureset ID] [--classes 2|5] ...``."""

    command: ClassVar[tuple[str, ...]] = ("stage1", "train")
    flags: ClassVar[dict[str, str]] = {"s1_learning_rate": "--learning-rate"}
    symbol: str
    timeframe: str
    featureset: str | None = None
    name: str | None = None


class Stage2Fields(CliRequest):
    """The Stage 2 options (``stage2 train``, ``stage2 batch``)."""

    threshold: float = Field(0.5, description="signal when 1 - P(no pivot) >= this")
    pass_rate: float | None = Field(None, description="instead: the threshold passing this share of validation bars")
    no_stage1_probs: bool = False
    stage2_features: list[str] | None = None
    cv_folds: int = Field(5, ge=2, le=100)
    num_boost_round: int = Field(200, ge=1, le=100_000)
    early_stopping_rounds: int = Field(20, ge=1, le=100_000)
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_depth: int = Field(8, ge=-1, le=1024)
    num_leaves: int = Field(31, ge=2, le=131_072)
    seed: int = SEED

    def stage2_config(self):
        from engine.stage2.stage2 import Stage2Config

        return Stage2Config(threshold=self.threshold, pass_rate=self.pass_rate, use_stage1_probs=not self.no_stage1_probs,
                            features=self.stage2_features or None, cv_folds=self.cv_folds,
                            num_boost_round=self.num_boost_round, early_stopping_rounds=self.early_stopping_rounds,
                            learning_rate=self.learning_rate, max_depth=self.max_depth, num_leaves=self.num_leaves,
                            seed=self.seed)


class Stage2TrainRequest(Stage2Fields):
    """``stage2 train --symbol S --timeframe TF [--stage1 ID] [--threshold T | --pass-rate R] ...``."""

    command: ClassVar[tuple[str, ...]] = ("stage2", "train")
    symbol: str
    timeframe: str
    stage1: str | None = None
    featureset: str | None = None
    name: str | None = None


class Stage2BatchRequest(Stage1TrainFields, Stage2Fields, ExecutorFields):
    """``stage2 batch [--symbols A,B] [--timeframes 15m,1h] [--stage1 latest|hub|train] ... | --resume JOB``."""

    command: ClassVar[tuple[str, ...]] = ("stage2", "batch")
    flags: ClassVar[dict[str, str]] = {"sequence_length": "--s1-sequence-length", "s1_learning_rate": "--s1-learning-rate"}
    symbols: list[str] = Field(default_factory=list)
    timeframes: list[str] | None = None
    stage1: Literal["latest", "hub", "train"] = "latest"
    featureset: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    sequence_length: int | None = Field(None, ge=1, le=4096)  # batch: also the length of imported models
    resume: str | None = Field(None, description="continue a batch: its job id or state file")
    retry_failed: bool = False

