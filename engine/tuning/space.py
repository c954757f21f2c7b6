"""The search space of a study: which parameters, which ranges, validated before anything runs.

A space is a mapping ``name -> spec`` (the defaults below, or a YAML file given with ``--space``):

    model.direction.hidden: {type: int, low: 8, high: 64, log: true}
    training.lr:            {type: float, low: 0.0003, high: 0.01, log: true}
    data.context_window:    {type: categorical, choices: [24, 48]}
    trade.threshold:        {type: float, low: 0.34, high: 0.6}

Names are dotted paths of the training config (``engine/training/config.py``: ``model.direction.*``,
``training.*``, ``data.*``, ``loss.direction.*``; each value is checked against that field's own
range by building the config with the lowest and the highest value) or ``trade.threshold`` (the
least class probability that opens a position, 0 .. 1; a position also needs P(up) > P(down) or the mirror).  Sampling is Optuna's
(``trial.suggest_int / suggest_float / suggest_categorical``).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from config.bounded import load_yaml_file, short_repr
from config.errors import BadInput
from engine.tuning import KINDS

TRADE_KEYS = {"trade.threshold": (0.0, 1.0)}
# the parameters a study may search (the rest of the training config is fixed by --config)
ALLOWED_PREFIXES = ("model.direction.", "training.lr", "training.weight_decay", "training.batch_size",
                    "training.epochs", "data.context_window", "data.clip", "data.max_missing_frac",
                    "loss.direction.")
TYPES = ("int", "float", "categorical")
MAX_PARAMS = 32
MAX_CHOICES = 64

DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "direction": {
        "model.direction.hidden": {"type": "int", "low": 8, "high": 64, "log": True},
        "model.direction.n_blocks": {"type": "int", "low": 1, "high": 3},
        "model.direction.dropout": {"type": "float", "low": 0.0, "high": 0.4},
        "training.lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
        "training.weight_decay": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "loss.direction.pnl_weight": {"type": "float", "low": 0.0, "high": 1.0},
        "data.context_window": {"type": "categorical", "choices": [24, 48]},
        "trade.threshold": {"type": "float", "low": 0.25, "high": 0.55},
    },
    "stage2": {
        "lgb.num_leaves": {"type": "int", "low": 4, "high": 64, "log": True},
        "lgb.learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "lgb.max_depth": {"type": "int", "low": 2, "high": 8},
        "lgb.feature_fraction": {"type": "float", "low": 0.3, "high": 1.0},
        "lgb.min_data_in_leaf": {"type": "int", "low": 5, "high": 50},
        "lgb.num_boost_round": {"type": "int", "low": 20, "high": 200, "log": True},
        "stage1.pass_rate": {"type": "float", "low": 0.02, "high": 0.3},
    },
}
# Stage 2: LightGBM parameters (engine/stage2/stage2.py trains with these) and the Stage 1 pass rate
LGB_BOUNDS = {"num_leaves": (2, 1024), "learning_rate": (1e-4, 1.0), "max_depth": (1, 64), "feature_fraction": (0.05, 1.0),
              "bagging_fraction": (0.05, 1.0), "min_data_in_leaf": (1, 100_000), "num_boost_round": (1, 5000),
              "lambda_l1": (0.0, 1000.0), "lambda_l2": (0.0, 1000.0)}
STAGE2_KEYS = {"stage1.pass_rate": (0.001, 0.9), **{f"lgb.{k}": v for k, v in LGB_BOUNDS.items()}}


def _num(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise BadInput(f"search space: {where} must be a finite number, got {short_repr(v)}")
    return float(v)


def set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = d
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


def check_space(space: Any, base_config: dict[str, Any], source: str = "search space",
                kind: str = "direction") -> dict[str, dict[str, Any]]:
    """The space, normalised and validated (BadInput naming the parameter otherwise)."""
    from engine.training.config import from_dict

    if not isinstance(space, dict) or not space:
        raise BadInput(f"{source} is empty: nothing to search", hint="give at least one parameter (see docs/CONTRACTS.md, Tuning)")
    if len(space) > MAX_PARAMS:
        raise BadInput(f"{source} has {len(space)} parameters (at most {MAX_PARAMS})")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in space.items():
        name = str(name)
        if kind == "stage2" and name not in STAGE2_KEYS:
            raise BadInput(f"{source}: {short_repr(name)} cannot be searched for Stage 2",
                           hint=f"use {', '.join(STAGE2_KEYS)}")
        if kind != "stage2" and name not in TRADE_KEYS and not any(name == p or name.startswith(p) for p in ALLOWED_PREFIXES):
            raise BadInput(f"{source}: {short_repr(name)} cannot be searched",
                           hint=f"use trade.threshold or training-config keys under {', '.join(ALLOWED_PREFIXES)}")
        if not isinstance(spec, dict):
            raise BadInput(f"{source}: {name} must be a mapping like {{type: float, low: 0.1, high: 0.5}}")
        unknown = set(spec) - {"type", "low", "high", "log", "step", "choices"}
        if unknown:
            raise BadInput(f"{source}: {name} has unknown key(s) {short_repr(sorted(unknown))}")
        typ = spec.get("type")
        if typ not in TYPES:
            raise BadInput(f"{source}: {name}.type must be one of {', '.join(TYPES)}, got {short_repr(typ)}")
        s: dict[str, Any] = {"type": typ}
        if typ == "categorical":
            ch = spec.get("choices")
            if not isinstance(ch, list) or not ch or len(ch) > MAX_CHOICES:
                raise BadInput(f"{source}: {name}.choices must be a list of 1 to {MAX_CHOICES} values")
            if any(not isinstance(c, (int, float, str, bool)) or (isinstance(c, float) and not math.isfinite(c)) for c in ch):
                raise BadInput(f"{source}: {name}.choices must be numbers, strings or booleans")
            s["choices"] = list(ch)
            probe = list(ch)
        else:
            lo, hi = _num(spec.get("low"), f"{name}.low"), _num(spec.get("high"), f"{name}.high")
            if not lo < hi:
                raise BadInput(f"{source}: {name} needs low < high, got low={lo:g}, high={hi:g}",
                               hint="a fixed value belongs in the training config (--config), not in the search")
            log = bool(spec.get("log", False))
            if log and lo <= 0:
                raise BadInput(f"{source}: {name} is log-scaled, so low must be > 0 (got {lo:g})")
            if typ == "int":
                if not (lo.is_integer() and hi.is_integer()):
                    raise BadInput(f"{source}: {name} is an int: low and high must be whole numbers")
                lo, hi = int(lo), int(hi)
            s.update({"low": lo, "high": hi, "log": log})
            if spec.get("step") is not None:
                st = _num(spec["step"], f"{name}.step")
                if st <= 0 or log:
                    raise BadInput(f"{source}: {name}.step must be > 0 and cannot go with log")
                s["step"] = int(st) if typ == "int" else st
            probe = [lo, hi]
        bounds = STAGE2_KEYS if kind == "stage2" else TRADE_KEYS
        if name in bounds:
            a, b = bounds[name]
            if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not a <= v <= b for v in probe):
                raise BadInput(f"{source}: {name} must lie in [{a:.4g}, {b:g}], got {short_repr(probe)}")
        else:
            for v in probe:  # the training config's own range check of that field
                cfg = copy.deepcopy(base_config)
                set_dotted(cfg, name, v)
                try:
                    from_dict(cfg, f"{source}: {name} = {short_repr(v)}")
                except BadInput as e:
                    raise BadInput(e.message, hint=e.hint) from None
        out[name] = s
    return out


def load_space(kind: str, path: str | None, base_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if kind not in KINDS:
        raise BadInput(f"unknown tuning kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    if path:
        p = Path(path).expanduser()
        return check_space(load_yaml_file(p, "search space file"), base_config, str(p), kind)
    return check_space(DEFAULT_SPACES[kind], base_config, f"default {kind} search space", kind)


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One value per parameter, sampled by the trial's sampler."""
    out = {}
    for name, s in space.items():
        if s["type"] == "categorical":
            out[name] = trial.suggest_categorical(name, s["choices"])
        elif s["type"] == "int":
            out[name] = trial.suggest_int(name, s["low"], s["high"], log=s["log"], step=s.get("step", 1))
        else:
            out[name] = trial.suggest_float(name, s["low"], s["high"], log=s["log"], step=s.get("step"))
    return out


def apply(base_config: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training config dict with the params set, trade settings)."""
    cfg = copy.deepcopy(base_config)
    trade = {}
    for k, v in params.items():
        if k.startswith("trade."):
            trade[k.split(".", 1)[1]] = v
        else:
            set_dotted(cfg, k, v)
    return cfg, trade
