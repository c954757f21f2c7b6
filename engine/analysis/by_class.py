"""``feature_by_class_statistics.csv``: each feature's distribution within each class of the
target (TRAIN rows).

Columns: the seed's (feature, class, count, mean, std, median, min, max) plus class_name,
q05, q25, q75, q95 (box plots are drawn from these, so a report read without its feature set
still shows them) and separation_score.

separation_score (one value per feature, repeated on its rows) is eta squared: the share of
the feature's variance explained by the class, between-class sum of squares / total sum of
squares, in [0, 1].  (The seed's "differentiation_cv", std of class means / their mean, is
undefined for features centred on zero, which most normalised features are.)

Regression targets have no classes: their train values are cut at the terciles into
0 = low, 1 = mid, 2 = high (the names carry the cut points).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

BY_CLASS_COLUMNS = ["feature", "class", "class_name", "count", "mean", "std", "median", "min", "max", "q05", "q25",
                    "q75", "q95", "separation_score"]


def tercile_classes(y: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Regression target -> classes 0/1/2 at its terciles (NaN stays NaN)."""
    fin = y[np.isfinite(y)]
    a, b = np.quantile(fin, [1 / 3, 2 / 3]) if len(fin) else (np.nan, np.nan)
    cls = np.where(np.isfinite(y), np.where(y <= a, 0, np.where(y <= b, 1, 2)), np.nan)
    names = {0: f"low (<= {a:.4g})", 1: f"mid ({a:.4g} .. {b:.4g}]", 2: f"high (> {b:.4g})"}
    return cls, names


def by_class(finite: np.ndarray, names: list[str], classes: np.ndarray, class_names: dict[int, str]) -> pd.DataFrame:
    """``classes``: class code per row (NaN = no target); ``class_names``: code -> label."""
    keep = np.isfinite(classes)
    df = pd.DataFrame(finite[keep], columns=names)
    g = df.groupby(classes[keep].astype(np.int64), sort=True)
    count, mean, std, med = g.count(), g.mean(), g.std(ddof=1), g.median()
    mn, mx = g.min(), g.max()
    q = g.quantile([0.05, 0.25, 0.75, 0.95])
    codes = count.index.to_numpy()
    k, p = len(codes), len(names)

    def long(frame: pd.DataFrame) -> np.ndarray:  # (classes x features) -> feature-major column
        return frame.to_numpy(dtype=float).T.ravel()

    qs = {lvl: q.xs(lvl, level=1) for lvl in (0.05, 0.25, 0.75, 0.95)}
    # eta^2 from the group moments: between / (between + within)
    n_k = count.to_numpy(dtype=float)
    m_k = np.nan_to_num(mean.to_numpy(dtype=float))
    s_k = np.nan_to_num(std.to_numpy(dtype=float))
    n = n_k.sum(axis=0)
    with np.errstate(all="ignore"):
        grand = (n_k * m_k).sum(axis=0) / n
        between = (n_k * (m_k - grand) ** 2).sum(axis=0)
        within = (np.maximum(n_k - 1, 0) * s_k ** 2).sum(axis=0)
        eta2 = np.where(between + within > 0, between / (between + within), 0.0)
    out = pd.DataFrame({
        "feature": np.repeat(np.asarray(names, dtype=object), k), "class": np.tile(codes, p),
        "class_name": np.tile([class_names.get(int(c), str(c)) for c in codes], p),
        "count": long(count).astype(np.int64), "mean": long(mean), "std": long(std), "median": long(med),
        "min": long(mn), "max": long(mx), "q05": long(qs[0.05]), "q25": long(qs[0.25]), "q75": long(qs[0.75]),
        "q95": long(qs[0.95]), "separation_score": np.repeat(eta2, k),
    }, columns=BY_CLASS_COLUMNS)
    return out
