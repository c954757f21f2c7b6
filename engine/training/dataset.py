"""Windows dataset (SPEC 6): per-symbol context windows that never cross a gap, a symbol
boundary or a row with a missing input; a RobustScaler fitted on train rows only; targets
taken at the last bar of each window, masked (not filled) where null.

The whole scaled feature matrix is held once as a float32 tensor; a window is identified by
the row index of its last bar, and a batch is gathered in one indexing operation
(``X[ends[:, None] + offsets]``), so no per-window Python work happens on the hot path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import RobustScaler

from config.errors import BadInput
from engine.data.canonical import ts_ns
from engine.data.timeframes import tf_seconds
from engine.splits import SPLITS, SplitPlan

TARGET_TYPES = ("regression", "multiclass", "binary")


@dataclass(frozen=True)
class TargetSpec:
    name: str
    type: str  # regression | multiclass | binary
    n_classes: int = 1  # outputs of the head: 1 for regression and binary (one logit), k for multiclass
    horizon: str | None = None

    @property
    def is_class(self) -> bool:
        return self.type != "regression"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "n_classes": self.n_classes, "horizon": self.horizon}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetSpec:
        return cls(d["name"], d["type"], int(d.get("n_classes", 1)), d.get("horizon"))


def target_specs(meta: dict[str, dict], names: list[str]) -> list[TargetSpec]:
    """Specs of ``names`` from a feature set's ``extra.targets`` metadata."""
    out = []
    for n in names:
        m = meta.get(n)
        if m is None:
            raise BadInput(f"target {n!r} is not in the feature set", hint=f"targets: {', '.join(meta)}")
        t = m.get("type")
        if t not in TARGET_TYPES:
            raise BadInput(f"target {n!r} has unknown type {t!r} in the feature set metadata")
        k = (len(m.get("classes") or []) or 3) if t == "multiclass" else 1
        out.append(TargetSpec(n, t, k, m.get("horizon")))
    return out


# -- scaler ---------------------------------------------------------------------------------
@dataclass
class Scalers:
    """Input scaler (sklearn RobustScaler) plus the robust centre / scale of regression targets.

    Saved as JSON (``scaler.json``), never pickled: the fitted attributes are plain lists."""

    inputs: RobustScaler
    feature_names: list[str]
    clip: float
    target_center: dict[str, float] = field(default_factory=dict)
    target_scale: dict[str, float] = field(default_factory=dict)
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale and clip inputs (rows x features in ``feature_names`` order); NaN stays NaN."""
        out = (np.asarray(values, dtype="float64") - self.inputs.center_) / self.inputs.scale_
        return np.clip(out, -self.clip, self.clip).astype("float32")

    def to_json(self) -> dict[str, Any]:
        return {"kind": "sklearn.preprocessing.RobustScaler", "quantile_range": list(self.inputs.quantile_range),
                "feature_names": list(self.feature_names), "center": [float(x) for x in self.inputs.center_],
                "scale": [float(x) for x in self.inputs.scale_], "clip": self.clip,
                "targets": {n: {"center": self.target_center[n], "scale": self.target_scale[n]} for n in self.target_center},
                "fitted_on": self.fitted_on}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Scalers:
        try:
            names = [str(x) for x in d["feature_names"]]
            center = np.asarray(d["center"], dtype="float64")
            scale = np.asarray(d["scale"], dtype="float64")
            if not (len(names) == len(center) == len(scale)) or not np.all(np.isfinite(center)) or not np.all(scale > 0):
                raise ValueError("feature_names, center and scale must have the same length; scales > 0")
            sc = RobustScaler(quantile_range=tuple(d.get("quantile_range", (25.0, 75.0))))
            sc.center_, sc.scale_, sc.n_features_in_ = center, scale, len(names)
            tg = d.get("targets") or {}
            return cls(sc, names, float(d.get("clip", 10.0)), {k: float(v["center"]) for k, v in tg.items()},
                       {k: float(v["scale"]) for k, v in tg.items()}, dict(d.get("fitted_on") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise BadInput(f"scaler file is malformed: {e}") from None


def fit_scalers(features: np.ndarray, feature_names: list[str], targets: np.ndarray, specs: list[TargetSpec],
                train_rows: np.ndarray, clip: float, fitted_on: dict | None = None) -> Scalers:
    """Fit on ``train_rows`` only (a boolean mask).  sklearn's RobustScaler ignores NaN."""
    x = features[train_rows]
    if len(x) == 0:
        raise BadInput("no training rows to fit the scaler on")
    sc = RobustScaler(quantile_range=(25.0, 75.0)).fit(x)  # zero IQR -> scale 1 (sklearn)
    center, scale = {}, {}
    for j, s in enumerate(specs):
        if s.type != "regression":
            continue
        y = targets[train_rows, j]
        y = y[np.isfinite(y)]
        if len(y) == 0:
            raise BadInput(f"target {s.name} has no values in the training split")
        q25, med, q75 = np.percentile(y, [25, 50, 75])
        iqr = float(q75 - q25)
        center[s.name], scale[s.name] = float(med), (iqr if iqr > 0 else float(np.std(y)) or 1.0)
    return Scalers(sc, list(feature_names), float(clip), center, scale, dict(fitted_on or {}))


# -- windows --------------------------------------------------------------------------------
def window_ends(ts: np.ndarray, symbols: np.ndarray, valid: np.ndarray, *, context: int, step_ns: int) -> np.ndarray:
    """Row indices ``e`` such that rows ``e-context+1 .. e`` are all valid, of one symbol and
    consecutive bars (each exactly ``step_ns`` after the previous).  Rows must be sorted by
    symbol, then time.  Vectorised with cumulative sums."""
    n = len(ts)
    if n < context:
        return np.empty(0, dtype=np.int64)
    broken = np.ones(n, dtype=np.int64)  # broken[i] = the link (i-1 -> i) is not a next bar of the same symbol
    if n > 1:
        broken[1:] = ((symbols[1:] != symbols[:-1]) | (np.diff(ts) != step_ns)).astype(np.int64)
    bad = (~valid).astype(np.int64)
    cb = np.concatenate([[0], np.cumsum(broken)])
    cv = np.concatenate([[0], np.cumsum(bad)])
    e = np.arange(context - 1, n)
    s = e - context + 1
    links_ok = (cb[e + 1] - cb[s + 1]) == 0  # links s+1..e
    rows_ok = (cv[e + 1] - cv[s]) == 0  # rows s..e
    return e[links_ok & rows_ok]


@dataclass
class WindowSet:
    """Scaled inputs, targets and the window ends of each split."""

    x: torch.Tensor  # (rows, features) float32, scaled and clipped; NaN replaced by 0 (never inside a window)
    y: torch.Tensor  # (rows, targets) float32; class targets as class indices; NaN = missing; regression scaled
    ends: dict[str, np.ndarray]  # split -> row index of each window's last bar
    context: int
    feature_names: list[str]
    specs: list[TargetSpec]
    scalers: Scalers
    timestamps: np.ndarray  # epoch ns of each row
    symbols: np.ndarray  # symbol of each row
    y_raw: np.ndarray  # (rows, targets) unscaled targets (for metrics and baselines)
    aux: torch.Tensor  # (rows, aux columns) raw target columns used by losses / metrics, not learned (future returns)
    aux_names: list[str]
    dropped_features: dict[str, str] = field(default_factory=dict)
    timeframe: str = ""  # of the rows (holding periods of the trading metrics)
    offsets: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.offsets = torch.arange(-self.context + 1, 1, dtype=torch.long)

    def batch(self, ends: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs (B, context, features), targets (B, targets) and aux columns (B, aux) of the
        windows ending at ``ends`` (on the device the tensors live on)."""
        e = torch.as_tensor(ends, dtype=torch.long, device=self.x.device)
        return self.x[e[:, None] + self.offsets], self.y[e], self.aux[e]

    def to(self, device: torch.device) -> WindowSet:
        """Move the tensors to ``device`` once, so batches are gathered there."""
        self.x, self.y, self.aux, self.offsets = (t.to(device) for t in (self.x, self.y, self.aux, self.offsets))
        return self

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.ends.items()}


def build_windows(features: pd.DataFrame, targets: pd.DataFrame, *, input_names: list[str], specs: list[TargetSpec],
                  plan: SplitPlan, timeframe: str, context: int, stride: int = 1, clip: float = 10.0,
                  max_missing_frac: float = 0.05, aux_names: list[str] | None = None) -> WindowSet:
    """Windows from a feature table and its aligned target table (same rows, same order).

    * inputs missing on more than ``max_missing_frac`` of the train rows, or constant on
      them, are dropped (listed in ``dropped_features`` with the reason);
    * the scaler sees train rows only;
    * a window ends in the split of its last bar; train windows are taken every ``stride``
      bars, validation and test windows at every bar (so predictions cover every test bar);
    * a window is kept when at least one of its targets is known at its last bar; a null
      target is masked in the loss for that target only;
    * ``aux_names``: target columns carried raw beside the learned ones (the future returns
      that the trading loss and metrics need).
    """
    if len(features) != len(targets):
        raise BadInput(f"features ({len(features)} rows) and targets ({len(targets)} rows) are not aligned")
    missing = [c for c in input_names if c not in features.columns]
    if missing:
        raise BadInput(f"input feature(s) not in the feature set: {', '.join(missing[:10])}")
    if not input_names:
        raise BadInput("no input features left", hint="check data.exclude and the report's included_features.txt")
    ts = ts_ns(features["timestamp"])
    sym = features["symbol"].astype(str).to_numpy()
    if (ts_ns(targets["timestamp"]) != ts).any() or (targets["symbol"].astype(str).to_numpy() != sym).any():
        raise BadInput("targets.parquet rows do not match features.parquet rows (timestamp, symbol)")
    order = np.lexsort((ts, sym))
    if not np.array_equal(order, np.arange(len(ts))):
        features, targets = features.iloc[order].reset_index(drop=True), targets.iloc[order].reset_index(drop=True)
        ts, sym = ts[order], sym[order]
    split = plan.assign(ts)
    train = split == "train"
    if not train.any():
        raise BadInput("no rows fall in the training split")

    xr = np.array(features[input_names].to_numpy(dtype="float64", na_value=np.nan), copy=True)
    xr[~np.isfinite(xr)] = np.nan
    miss = np.isnan(xr[train]).mean(axis=0)
    with np.errstate(all="ignore"):
        const = np.nanmax(xr[train], axis=0) == np.nanmin(xr[train], axis=0)
    dropped = {}
    for j, name in enumerate(input_names):
        if miss[j] > max_missing_frac:
            dropped[name] = f"missing on {miss[j]:.1%} of train rows"
        elif const[j] or np.isnan(miss[j]):
            dropped[name] = "constant on the train rows"
    keep = [j for j, n in enumerate(input_names) if n not in dropped]
    if not keep:
        raise BadInput("every input feature was dropped (missing or constant on the train rows)")
    names = [input_names[j] for j in keep]
    xr = xr[:, keep]

    yr = np.column_stack([targets[s.name].to_numpy(dtype="float64", na_value=np.nan) for s in specs]) if specs \
        else np.empty((len(ts), 0))
    fitted_on = {"split": "train", "rows": int(train.sum()), "start": plan.train_start.isoformat(),
                 "end": plan.train_end.isoformat()}
    scalers = fit_scalers(xr, names, yr, specs, train, clip, fitted_on)
    xs = scalers.transform(xr)
    valid = ~np.isnan(xs).any(axis=1)
    xs[~valid] = 0.0
    ys = yr.astype("float32", copy=True)
    for j, s in enumerate(specs):
        if s.type == "regression":
            ys[:, j] = ((yr[:, j] - scalers.target_center[s.name]) / scalers.target_scale[s.name]).astype("float32")
        elif s.type == "multiclass":
            bad = np.isfinite(yr[:, j]) & ((yr[:, j] < 0) | (yr[:, j] >= s.n_classes) | (yr[:, j] != np.round(yr[:, j])))
            if bad.any():
                raise BadInput(f"target {s.name} has values outside the classes 0..{s.n_classes - 1}")
        elif s.type == "binary":
            bad = np.isfinite(yr[:, j]) & ~np.isin(yr[:, j], (0.0, 1.0))
            if bad.any():
                raise BadInput(f"binary target {s.name} has values other than 0 and 1")

    ends_all = window_ends(ts, sym, valid, context=context, step_ns=tf_seconds(timeframe) * 1_000_000_000)
    has_target = np.isfinite(yr[ends_all]).any(axis=1) if specs else np.ones(len(ends_all), bool)
    ends_all = ends_all[has_target]
    # position within the symbol's rows, for the train stride
    first_row = np.r_[0, np.flatnonzero(sym[1:] != sym[:-1]) + 1]
    pos = np.arange(len(ts)) - np.repeat(first_row, np.diff(np.r_[first_row, len(ts)]))
    ends = {}
    for name in SPLITS:
        e = ends_all[split[ends_all] == name]
        if name == "train" and stride > 1:
            e = e[pos[e] % stride == 0]
        ends[name] = e.astype(np.int64)
    aux_names = list(aux_names or [])
    gone = [c for c in aux_names if c not in targets.columns]
    if gone:
        raise BadInput(f"target column(s) {', '.join(gone)} missing from the feature set")
    aux = np.column_stack([targets[c].to_numpy(dtype="float32", na_value=np.nan) for c in aux_names]) if aux_names \
        else np.empty((len(ts), 0), dtype="float32")
    return WindowSet(torch.from_numpy(xs), torch.from_numpy(ys), ends, context, names, list(specs), scalers, ts, sym,
                     yr.astype("float32"), torch.from_numpy(np.ascontiguousarray(aux)), aux_names, dropped, timeframe)
