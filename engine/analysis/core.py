"""The analysis itself, on plain tables (no workspace): validate the request, then compute
every part of the report from the TRAIN rows (drift and distributions also look at the
validation / test rows, as diagnostics only)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.analysis.by_class import by_class, tercile_classes
from engine.analysis.correlation import correlated_pairs, correlation_matrix
from engine.analysis.drift import distributions, drift
from engine.analysis.exclusions import Exclusions, decide
from engine.analysis.importance import feature_importance
from engine.analysis.options import AnalysisOptions
from engine.analysis.outliers import outliers
from engine.analysis.statistics import feature_statistics, finite_view

CLASS_TYPES = ("multiclass", "binary")
TARGET_TYPES = ("regression", *CLASS_TYPES)
MIN_TRAIN_ROWS = 50

Progress = Callable[[float, str], None]


@dataclass
class AnalysisInput:
    """One row per (symbol, bar); ``split`` labels each row train / val / test ('' = purge gap)."""

    features: pd.DataFrame
    target: np.ndarray
    split: np.ndarray
    target_name: str
    target_type: str = "regression"
    class_names: dict[int, str] | None = None
    leaking: list[str] = field(default_factory=list)
    feature_meta: dict[str, dict] = field(default_factory=dict)


@dataclass
class AnalysisResult:
    names: list[str]
    target: str
    target_type: str
    class_names: dict[int, str]
    rows: dict[str, int]
    class_counts: dict[str, int]
    mi_rows: int
    statistics: pd.DataFrame
    importance: pd.DataFrame
    outliers: pd.DataFrame
    by_class: pd.DataFrame
    corr: np.ndarray
    pairs: pd.DataFrame
    drift: pd.DataFrame
    distributions: pd.DataFrame
    exclusions: Exclusions
    options: AnalysisOptions

    def corr_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.corr, index=self.names, columns=self.names)

    def summary(self) -> dict[str, int | float]:
        ex = self.exclusions
        return {"n_features": len(self.names), "n_included": len(ex.included), "n_excluded": len(ex.excluded),
                **{f"excluded_{r}": len(v) for r, v in ex.reasons.items()},
                "n_correlated_pairs": len(self.pairs), "n_drifted": int(self.drift["drifted"].sum()),
                "train_rows": self.rows["train"], "val_rows": self.rows["val"], "test_rows": self.rows["test"],
                "mi_rows": self.mi_rows}


def _noop(fraction: float, message: str) -> None:
    return None


def class_labels(inp: AnalysisInput, train: np.ndarray, opts: AnalysisOptions) -> tuple[np.ndarray, dict[int, str]]:
    """Validated class codes of the train rows (NaN = no target) and their names."""
    y = np.asarray(inp.target, dtype=float)[train]
    if inp.target_type not in CLASS_TYPES:
        return tercile_classes(y)
    fin = y[np.isfinite(y)]
    if not np.all(fin == np.round(fin)):
        raise BadInput(f"target {inp.target_name} is declared {inp.target_type} but has non-integer values",
                       hint="choose a class target or fix the feature set")
    declared = dict(inp.class_names or {})
    seen = sorted(int(c) for c in np.unique(fin))
    unknown = [c for c in seen if declared and c not in declared]
    if unknown:
        raise BadInput(f"target {inp.target_name} has class value(s) {unknown} that its metadata does not declare "
                       f"({sorted(declared)})")
    names = declared or {c: str(c) for c in seen}
    counts = {c: int((fin == c).sum()) for c in names}
    few = {c: n for c, n in counts.items() if n < opts.min_class_rows}
    if few:
        desc = ", ".join(f"class {c} ({names[c]}) has {n}" for c, n in few.items())
        raise BadInput(f"target {inp.target_name}: too few train rows per class: {desc}; at least {opts.min_class_rows} "
                       "are needed", hint="use a later train end, more symbols or data, or another target")
    return y, names


def validate(inp: AnalysisInput, opts: AnalysisOptions) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Check the request before anything is computed or written.  Returns the train mask,
    the train class codes (terciles for regression targets) and the class names."""
    names = [str(c) for c in inp.features.columns]
    if not names:
        raise BadInput("the feature table has no feature columns")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise BadInput(f"duplicate feature columns: {', '.join(dup[:5])}")
    if inp.target_type not in TARGET_TYPES:
        raise BadInput(f"unknown target type {inp.target_type!r} for {inp.target_name}", hint=f"use one of {TARGET_TYPES}")
    if len(inp.target) != len(inp.features) or len(inp.split) != len(inp.features):
        raise BadInput("features, target and split labels must have the same rows")
    non_num = [c for c in names if not pd.api.types.is_numeric_dtype(inp.features[c])]
    if non_num:
        raise BadInput(f"feature column(s) {', '.join(non_num[:5])} are not numeric")
    train = np.asarray(inp.split) == "train"
    y = np.asarray(inp.target, dtype=float)
    n_train = int((train & np.isfinite(y)).sum())
    if n_train < MIN_TRAIN_ROWS:
        raise BadInput(f"only {n_train} train rows have a value of {inp.target_name} (at least {MIN_TRAIN_ROWS} needed)",
                       hint="use a later train end or more data")
    classes, class_names = class_labels(inp, train, opts)
    return train, classes, class_names


def run_analysis(inp: AnalysisInput, opts: AnalysisOptions | None = None, progress: Progress | None = None) -> AnalysisResult:
    opts = opts or AnalysisOptions()
    say = progress or _noop
    train, classes, class_names = validate(inp, opts)
    names = [str(c) for c in inp.features.columns]
    split = np.asarray(inp.split)
    values = inp.features.to_numpy(dtype=np.float64, na_value=np.nan)
    y = np.asarray(inp.target, dtype=float)
    tr_raw = values[train]
    tr = finite_view(tr_raw)
    y_tr = y[train]
    rows = {s: int((split == s).sum()) for s in ("train", "val", "test")}

    say(0.05, f"statistics of {len(names)} features on {rows['train']} train rows")
    stats_df = feature_statistics(tr_raw, names, finite=tr)
    say(0.15, "outliers")
    st = stats_df.set_index("feature").loc[names]
    out_df = outliers(tr, names, st["q25"].to_numpy(), st["q75"].to_numpy())
    say(0.2, f"importance for {inp.target_name} (mutual information on up to {opts.mi_max_rows} rows, F-score)")
    classification = inp.target_type in CLASS_TYPES
    imp_df, mi_rows = feature_importance(tr, names, y_tr, classification=classification, mi_max_rows=opts.mi_max_rows,
                                         random_state=opts.random_state)
    say(0.6, "statistics by class")
    cls_df = by_class(tr, names, classes, class_names)
    say(0.7, "correlations")
    corr = correlation_matrix(tr)
    pairs = correlated_pairs(corr, names, opts.corr_threshold)
    say(0.75, "exclusions")
    ex = decide(names, stats_df, imp_df, corr, leaking=inp.leaking, corr_threshold=opts.corr_threshold,
                missing_threshold_pct=opts.missing_threshold_pct,
                low_importance_pct=opts.low_importance_pct, feature_meta=inp.feature_meta)
    say(0.8, "drift between train, validation and test")
    # column-major copies: the drift works feature by feature
    trf, va, te = (np.asfortranarray(a) for a in (tr, finite_view(values[split == "val"]), finite_view(values[split == "test"])))
    drift_df = drift(trf, va, te, names, psi_threshold=opts.psi_threshold, ks_threshold=opts.ks_threshold)
    dist_df = distributions(trf, va, te, names)
    fin_cls = classes[np.isfinite(classes)]
    counts = {class_names.get(int(c), str(c)): int((fin_cls == c).sum()) for c in sorted(class_names)}
    return AnalysisResult(names=names, target=inp.target_name, target_type=inp.target_type, class_names=class_names,
                          rows=rows, class_counts=counts, mi_rows=mi_rows, statistics=stats_df, importance=imp_df,
                          outliers=out_df, by_class=cls_df, corr=corr, pairs=pairs, drift=drift_df,
                          distributions=dist_df, exclusions=ex, options=opts)
