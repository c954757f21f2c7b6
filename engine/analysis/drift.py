"""Drift of each feature between the train split and the validation / test splits, and the
binned distributions the report draws.

``feature_drift.csv``: feature, psi_val, psi_test, ks_val, ks_pvalue_val, ks_test,
ks_pvalue_test, drifted, drift_level.
* PSI (population stability index) over 10 bins at the train deciles:
  sum((a - e) * ln(a / e)) with empty bins floored at 1e-4 (written here: no maintained
  library computes it).  Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 major.
* KS: two-sample Kolmogorov-Smirnov statistic (the largest gap between the two empirical CDFs,
  computed here from the sorted train values: ``scipy.stats.ks_2samp`` re-sorts per call and
  spends ~90% of its time on an exact p-value that is ~0 on tens of thousands of rows) and its
  asymptotic p-value from ``scipy.stats.kstwobign``.  The flag uses the statistic.
* ``drifted`` = PSI or KS above its threshold in either split; ``drift_level`` = none /
  moderate / high (the larger PSI at 0.1 / the threshold, or KS above its threshold).

``feature_distributions.csv``: feature, bin, bin_left, bin_right, train, val, test: the share of
each split's finite values in 30 equal bins spanning the train 0.5%-99.5% range (values beyond
it are counted in the end bins), so histograms can be drawn without the feature table.

These are diagnostics: they use validation and test rows by design and never feed the
statistics, importance or exclusions, which are train-only.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

DRIFT_COLUMNS = ["feature", "psi_val", "psi_test", "ks_val", "ks_pvalue_val", "ks_test", "ks_pvalue_test", "drifted",
                 "drift_level"]
DIST_COLUMNS = ["feature", "bin", "bin_left", "bin_right", "train", "val", "test"]
PSI_BINS = 10
PSI_FLOOR = 1e-4
HIST_BINS = 30


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS, *, is_sorted: bool = False) -> float:
    """PSI of ``actual`` against ``expected`` (finite values), bins at the expected quantiles."""
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    exp = expected if is_sorted else np.sort(expected)
    edges = np.unique(np.quantile(exp, np.linspace(0, 1, bins + 1)[1:-1]))
    # bin i holds values in [edges[i-1], edges[i]): counts of the sorted sample from its positions
    e = np.diff(np.r_[0, np.searchsorted(exp, edges, side="left"), len(exp)]) / len(exp)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.maximum(e, PSI_FLOOR), np.maximum(a, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic_sorted(a_sorted: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """KS statistic of ``b`` against ``a_sorted`` (finite values, a sorted) and the effective
    sample size n1 n2 / (n1 + n2) its asymptotic p-value needs."""
    n1, n2 = len(a_sorted), len(b)
    if n1 < 2 or n2 < 2:
        return float("nan"), float("nan")
    b_sorted = np.sort(b)
    both = np.concatenate([a_sorted, b_sorted])
    d = float(np.max(np.abs(np.searchsorted(a_sorted, both, side="right") / n1
                            - np.searchsorted(b_sorted, both, side="right") / n2)))
    return d, n1 * n2 / (n1 + n2)


def ks_pvalue(d, n_eff):
    """Asymptotic two-sample KS p-value (Kolmogorov's limiting distribution), vectorised."""
    return stats.kstwobign.sf(np.sqrt(n_eff) * d)


def ks_2samp_sorted(a_sorted: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    d, n = ks_statistic_sorted(a_sorted, b)
    return d, float(ks_pvalue(d, n))


def drift(train: np.ndarray, val: np.ndarray, test: np.ndarray, names: list[str], *, psi_threshold: float,
          ks_threshold: float) -> pd.DataFrame:
    """Inputs: finite views (NaN = missing) of the three splits, same columns."""
    rows = []
    for j in range(len(names)):  # one pass per feature (columns, not rows)
        tr = np.sort(train[:, j][~np.isnan(train[:, j])])
        va = val[:, j][~np.isnan(val[:, j])]
        te = test[:, j][~np.isnan(test[:, j])]
        rows.append((psi(tr, va, is_sorted=True), psi(tr, te, is_sorted=True), *ks_statistic_sorted(tr, va),
                     *ks_statistic_sorted(tr, te)))
    a = np.array(rows, dtype=float).reshape(len(names), 6)
    df = pd.DataFrame({"feature": names, "psi_val": a[:, 0], "psi_test": a[:, 1], "ks_val": a[:, 2],
                       "ks_pvalue_val": ks_pvalue(a[:, 2], a[:, 3]), "ks_test": a[:, 4],
                       "ks_pvalue_test": ks_pvalue(a[:, 4], a[:, 5])})
    p = df[["psi_val", "psi_test"]].max(axis=1, skipna=True)
    k = df[["ks_val", "ks_test"]].max(axis=1, skipna=True)
    high = (p > psi_threshold) | (k > ks_threshold)
    df["drifted"] = high
    df["drift_level"] = np.where(high, "high", np.where(p > 0.1, "moderate", "none"))
    return df[DRIFT_COLUMNS]


def distributions(train: np.ndarray, val: np.ndarray, test: np.ndarray, names: list[str],
                  bins: int = HIST_BINS) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lo_all, hi_all = np.nanquantile(train, [0.005, 0.995], axis=0) if len(train) else (None, None)
    feats, edges_all, shares = [], [], {"train": [], "val": [], "test": []}
    for j, f in enumerate(names):
        lo, hi = float(lo_all[j]), float(hi_all[j])
        if not np.isfinite(lo):
            continue
        if hi <= lo:
            hi = lo + (abs(lo) * 1e-6 or 1e-6)
        edges = np.linspace(lo, hi, bins + 1)
        for name, arr in (("train", train), ("val", val), ("test", test)):
            x = arr[:, j][~np.isnan(arr[:, j])]
            idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
            shares[name].append(np.bincount(idx, minlength=bins) / len(x) if len(x) else np.zeros(bins))
        feats.append(f)
        edges_all.append(edges)
    if not feats:
        return pd.DataFrame(columns=DIST_COLUMNS)
    e = np.vstack(edges_all)
    return pd.DataFrame({"feature": np.repeat(np.asarray(feats, dtype=object), bins), "bin": np.tile(np.arange(bins), len(feats)),
                         "bin_left": e[:, :-1].ravel(), "bin_right": e[:, 1:].ravel(),
                         **{k: np.concatenate(v) for k, v in shares.items()}}, columns=DIST_COLUMNS)
