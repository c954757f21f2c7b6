"""``feature_importance.csv``: how much each feature says about the chosen target (TRAIN rows).

Columns (the seed's): feature, mutual_info, f_score, f_pvalue, correlation_with_target,
mi_normalized, f_normalized, combined_score, rank.

* Mutual information: ``sklearn.feature_selection.mutual_info_classif`` (class targets) or
  ``mutual_info_regression`` (regression targets), k-NN estimator with n_neighbors=3 and a fixed
  random_state.  Its cost grows faster than linearly with the rows, so on long tables it runs on
  a deterministic random sample of at most ``mi_max_rows`` train rows (default 6,000; the row
  count used is returned and recorded in the manifest).  Everything else uses all train rows.
  The features are estimated in up to 4 threads (sklearn's ``n_jobs`` with joblib's threading
  backend: its k-d tree queries release the GIL); results do not depend on the thread count.
* ANOVA F-score and p-value: ``f_classif`` / ``f_regression``.
* correlation_with_target: Pearson r of the feature with the target (class code for class
  targets) over the rows where both are finite.
* normalised scores: score / max * 100; combined_score = mean of the two; rank 1 = best.

Missing / infinite feature values are imputed with the feature's train median for MI and F
(the seed used 0, which invents a value); rows whose target is missing are dropped.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
from joblib import parallel_backend
from sklearn.feature_selection import f_classif, f_regression, mutual_info_classif, mutual_info_regression

MI_THREADS = max(1, min(4, os.cpu_count() or 1))  # features are estimated in parallel threads
IMPORTANCE_COLUMNS = ["feature", "mutual_info", "f_score", "f_pvalue", "correlation_with_target", "mi_normalized",
                      "f_normalized", "combined_score", "rank"]


def impute_median(finite: np.ndarray) -> np.ndarray:
    """Replace NaN (finite view: NaN stands for missing or infinite) by the column median; all-NaN columns by 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        med = np.nanmedian(finite, axis=0)
    med = np.where(np.isnan(med), 0.0, med)
    return np.where(np.isnan(finite), med, finite)


def pearson_with(finite: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column with ``y`` over the rows where both are finite (vectorised;
    one matrix product when nothing is missing)."""
    yf = np.isfinite(y)
    m = ~np.isnan(finite) & yf[:, None]
    with np.errstate(all="ignore"):
        if m.all():
            xc = finite - finite.mean(axis=0)
            yc = y - y.mean()
            r = (yc @ xc) / np.sqrt((xc * xc).sum(axis=0) * (yc @ yc))
            n = np.full(finite.shape[1], len(y), dtype=float)
        else:
            n = m.sum(axis=0).astype(float)
            x = np.where(m, finite, 0.0)
            yy = np.where(m, np.where(yf, y, 0.0)[:, None], 0.0)
            xc = np.where(m, x - x.sum(0) / n, 0.0)
            yc = np.where(m, yy - yy.sum(0) / n, 0.0)
            r = (xc * yc).sum(0) / np.sqrt((xc * xc).sum(0) * (yc * yc).sum(0))
    r = np.asarray(r, dtype=float)
    r[(n < 3) | ~np.isfinite(r)] = np.nan
    return r


def _normalise(v: np.ndarray) -> np.ndarray:
    top = np.nanmax(v) if len(v) and np.isfinite(v).any() else 0.0
    return v / top * 100.0 if top > 0 else np.zeros_like(v)


def feature_importance(finite: np.ndarray, names: list[str], y: np.ndarray, *, classification: bool,
                       mi_max_rows: int, random_state: int = 42) -> tuple[pd.DataFrame, int]:
    """``finite``: train feature values (NaN = missing/inf); ``y``: target (NaN = missing).
    Returns the table sorted by rank and the number of rows the MI estimate used."""
    keep = np.isfinite(y)
    X = impute_median(finite[keep])
    yk = y[keep]
    if classification:
        yk = yk.astype(np.int64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # constant columns: F is undefined, reported as 0 / p=1
        f, p = (f_classif if classification else f_regression)(X, yk)
    f = np.where(np.isfinite(f), f, 0.0)
    p = np.where(np.isfinite(p), p, 1.0)
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(len(yk), mi_max_rows, replace=False)) if len(yk) > mi_max_rows else slice(None)
    mi_fn = mutual_info_classif if classification else mutual_info_regression
    Xs = X[rows]
    with parallel_backend("threading", n_jobs=MI_THREADS):  # the k-d tree queries release the GIL
        mi = mi_fn(Xs, yk[rows], discrete_features=False, n_neighbors=3, random_state=random_state, n_jobs=MI_THREADS)
    mi[np.ptp(Xs, axis=0) == 0] = 0.0  # sklearn adds tiny noise, which gives constants a spurious MI
    n_mi = min(len(yk), mi_max_rows)
    df = pd.DataFrame({"feature": names, "mutual_info": mi, "f_score": f, "f_pvalue": p,
                       "correlation_with_target": pearson_with(finite[keep], y[keep].astype(float))})
    df["mi_normalized"] = _normalise(df["mutual_info"].to_numpy())
    df["f_normalized"] = _normalise(df["f_score"].to_numpy())
    df["combined_score"] = 0.5 * df["mi_normalized"] + 0.5 * df["f_normalized"]
    df = df.sort_values(["combined_score", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    return df[IMPORTANCE_COLUMNS], n_mi
