"""Typed ``tune run`` request: what ``python -m engine tune run ...`` parses and what the Tuning tab
(Training page, Stage 2 page) builds (engine/requests.py; field names are the argparse ``dest`` names of
engine/tuning/cli.py, whose numeric options take their ranges and defaults from these fields)."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

import engine.tuning as obj
from config.settings import HORIZONS
from engine.requests import ExecutorFields


class TuneRequest(ExecutorFields):
    """``tune run --featureset ID [--kind direction|stage2] ...``."""

    command: ClassVar[tuple[str, ...]] = ("tune", "run")
    kind: Literal[obj.KINDS] = "direction"  # type: ignore[valid-type]
    featureset: str
    symbol: str | None = None
    stage1: str | None = None
    config: str = "base"
    space: str | None = None
    horizon: Literal[HORIZONS] = "1h"  # type: ignore[valid-type]
    trials: int = Field(20, ge=1, le=10_000)
    storage: str | None = None
    study: str | None = None
    holdout: float = Field(obj.DEFAULT_HOLDOUT, ge=0.05, le=0.5)
    folds: int = Field(obj.DEFAULT_FOLDS, ge=1, le=20)
    val_frac: float = Field(obj.DEFAULT_VAL_FRAC, ge=0.05, le=0.5)
    last_bars: int | None = Field(None, ge=100, le=10_000_000)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    name: str | None = None
