"""The Hub groups of the seed: a registry of strategy objects (``group_base.Group`` and the
subclasses in ``group_kinds``), each knowing its remote layout and how it maps onto the workspace.

=========  ===========================================  ====================================================
group      remote layout                                workspace side
=========  ===========================================  ====================================================
ticks      ``ticks/<files>``                            raw tick / trade files in ``<ws>/raw/ticks`` (or
                                                        ``--ticks-dir``); not artifacts, so not indexed
training   ``training/<featureset id>/`` + per set      feature sets (feature tables + targets, kind
           ``excluded_features.txt``,                   ``features``); the exclusion lists of the newest
           ``included_features.txt``,                   analysis report of the set and (unless
           ``scalers/<model id>.json``                  ``--no-scalers``) the scalers fitted on it
analysis   ``analysis/<report id>/``                    feature-analysis reports (kind ``analysis``)
models     ``models/<model id>/``                       deep models (kind ``model``)
stage1     ``v1_model/{SYMBOL}/{tf}/classification.h5``  Stage 1 models (kind ``stage1``), seed layout
           ``+ params.json``
stage2     ``stage2/<model id>/``                       Stage 2 models (kind ``stage2``)
klines     ``klines/{SYMBOL}/{BASE}_{tf}.parquet``       candle series (kind ``ohlcv``), written with
                                                        Binance's kline column names, read back through
                                                        the data importer
=========  ===========================================  ====================================================

A new group is one :func:`register_group` call with a ``Group`` (an artifact group under
``<prefix><id>/``) or a subclass overriding the steps its layout changes.
"""
from __future__ import annotations

from config.errors import BadInput
from engine.sync.group_base import (  # noqa: F401 - the names callers import from here
    KEEP,
    Group,
    parse_kline_path,
    parse_v1_path,
    ticks_dir,
    verified_dir,
)
from engine.sync.group_kinds import KlinesGroup, Stage1Group, TicksGroup, TrainingGroup
from engine.sync.selection import LocalFile, Selection  # noqa: F401 - the names callers import from here

GROUPS: dict[str, Group] = {}
# the seed's command names (hf-upload-features = the feature analysis) and a few obvious synonyms
ALIASES = {"features": "analysis", "feature-analysis": "analysis", "analysis-of-features": "analysis",
           "training-data": "training", "deep": "models", "model": "models", "v1_model": "stage1", "ohlcv": "klines",
           "candles": "klines", "tick": "ticks"}



def register_group(group: Group, *aliases: str) -> Group:
    """Add a group (its name must be new); ``aliases`` are other names the CLI accepts for it."""
    if group.name in GROUPS or group.name in ALIASES:
        raise ValueError(f"sync group {group.name!r} is registered already")
    GROUPS[group.name] = group
    ALIASES.update({a: group.name for a in aliases})
    return group


def get_group(name: str) -> Group:
    key = ALIASES.get(name, name)
    if key not in GROUPS:
        raise BadInput(f"unknown group {name!r}", hint=f"use one of {', '.join(GROUPS)}")
    return GROUPS[key]


def group_of(path: str) -> str:
    """The group a remote path belongs to ('(repo config)' / 'other' for the rest)."""
    if path in KEEP:
        return "(repo config)"
    return next((g.name for g in GROUPS.values() if path.startswith(g.prefix)), "other")


for _g in (
    TicksGroup("ticks", "ticks/", (), "Ticks (raw tick / trade files)", "Upload tick data", "Delete tick data"),
    TrainingGroup("training", "training/", ("features",), "Training data (feature tables, exclusion lists, scalers)",
                  "Upload training data", "Delete training data"),
    Group("analysis", "analysis/", ("analysis",), "Feature analysis reports", "Upload feature analysis results",
          "Delete feature analysis results"),
    Group("models", "models/", ("model",), "Deep models (PatchTST / direction)", "Upload deep models", "Delete deep models"),
    Stage1Group("stage1", "v1_model/", ("stage1",), "Stage 1 models (v1_model/{SYMBOL}/{tf}/)", "Upload Stage 1 models",
                "Delete Stage 1 models"),
    Group("stage2", "stage2/", ("stage2",), "Stage 2 models", "Upload Stage 2 models", "Delete Stage 2 models"),
    KlinesGroup("klines", "klines/", ("ohlcv",), "Klines (klines/{SYMBOL}/{BASE}_{tf}.parquet)", "Upload klines",
                "Delete klines"),
):
    register_group(_g)
