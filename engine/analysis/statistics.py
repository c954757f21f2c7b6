"""``feature_statistics.csv``: per-feature descriptive statistics of the TRAIN rows.

Columns are the seed's (analysts' notebooks read them): feature, count, missing, missing_pct,
zeros, zeros_pct, infinite, infinite_pct, mean, std, min, max, median, q25, q75, skewness,
kurtosis, normality_p_value, is_normal.

Conventions (as the seed, made precise):
* ``count`` = values that are not NaN (infinities included); ``missing_pct`` is of all rows,
  ``zeros_pct`` and ``infinite_pct`` are of ``count``.
* Moments and quantiles use the finite values only: mean, sample std (ddof=1), linear
  quantiles (numpy / pandas default), bias-corrected skewness and excess kurtosis (pandas'
  ``skew()`` / ``kurt()``, scipy ``bias=False``).
* Normality: D'Agostino-Pearson K^2 test (``scipy.stats.normaltest``) on up to 5,000 train values
  (a fixed random sample of the rows, as the seed capped its Shapiro-Wilk test at 5,000: on tens of
  thousands of rows any test rejects every real feature); ``is_normal`` = p > 0.05.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

NORMALITY_ROWS = 5_000
STAT_COLUMNS = ["feature", "count", "missing", "missing_pct", "zeros", "zeros_pct", "infinite", "infinite_pct", "mean",
                "std", "min", "max", "median", "q25", "q75", "skewness", "kurtosis", "normality_p_value", "is_normal"]


def finite_view(values: np.ndarray) -> np.ndarray:
    """float64 copy with +-inf replaced by NaN (the 'finite values' every moment is taken on)."""
    v = np.array(values, dtype=np.float64, copy=True)
    v[np.isinf(v)] = np.nan
    return v


def _pct(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(den) > 0, num / np.maximum(den, 1) * 100.0, 0.0)


def feature_statistics(values: np.ndarray, names: list[str], *, finite: np.ndarray | None = None) -> pd.DataFrame:
    """Statistics of each column of ``values`` (rows x features).  ``finite`` may pass a
    precomputed :func:`finite_view` of ``values``."""
    n = values.shape[0]
    nan = np.isnan(values)
    inf = np.isinf(values)
    missing = nan.sum(axis=0)
    count = n - missing
    infinite = inf.sum(axis=0)
    zeros = (values == 0).sum(axis=0)
    f = finite_view(values) if finite is None else finite
    n_fin = count - infinite
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # all-NaN / constant / tiny columns give NaN, reported as such
        mean = np.nanmean(f, axis=0)
        std = np.nanstd(f, axis=0, ddof=1)
        mn, mx = np.nanmin(f, axis=0), np.nanmax(f, axis=0)
        q25, med, q75 = np.nanquantile(f, [0.25, 0.5, 0.75], axis=0)
        skew = np.asarray(stats.skew(f, axis=0, bias=False, nan_policy="omit"), dtype=float)
        kurt = np.asarray(stats.kurtosis(f, axis=0, bias=False, nan_policy="omit"), dtype=float)
        pval = np.full(len(names), np.nan)
        ok = (n_fin >= 20) & (mx > mn)  # K^2 needs a few values and some spread
        if ok.any():
            rows = np.sort(np.random.default_rng(42).choice(n, NORMALITY_ROWS, replace=False)) if n > NORMALITY_ROWS else slice(None)
            pval[ok] = np.asarray(stats.normaltest(f[rows][:, ok], axis=0, nan_policy="omit").pvalue, dtype=float)
    std = np.where(n_fin >= 2, std, np.nan)
    return pd.DataFrame({
        "feature": names, "count": count, "missing": missing, "missing_pct": _pct(missing, n),
        "zeros": zeros, "zeros_pct": _pct(zeros, count), "infinite": infinite, "infinite_pct": _pct(infinite, count),
        "mean": mean, "std": std, "min": mn, "max": mx, "median": med, "q25": q25, "q75": q75,
        "skewness": skew, "kurtosis": kurt, "normality_p_value": pval,
        "is_normal": pd.array(np.where(np.isnan(pval), None, pval > 0.05), dtype="boolean"),
    }, columns=STAT_COLUMNS)
