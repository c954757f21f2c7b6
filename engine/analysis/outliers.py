"""``outliers_analysis.csv``: IQR (1.5 x) and |z| > 3 outlier counts of the TRAIN rows.

Columns: the seed's (feature, iqr_outliers, iqr_outliers_pct, zscore_outliers,
zscore_outliers_pct, total_outliers_iqr, total_outliers_zscore) plus the IQR fences
iqr_lower_bound / iqr_upper_bound.  Finite values only; percentages are of the finite values.
A zero IQR (or zero std) gives no outliers, as in the seed.  z uses the population std
(ddof=0), as ``scipy.stats.zscore``.  Sorted by iqr_outliers_pct, largest first.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

OUTLIER_COLUMNS = ["feature", "iqr_outliers", "iqr_outliers_pct", "zscore_outliers", "zscore_outliers_pct",
                   "total_outliers_iqr", "total_outliers_zscore", "iqr_lower_bound", "iqr_upper_bound"]


def outliers(finite: np.ndarray, names: list[str], q25: np.ndarray, q75: np.ndarray) -> pd.DataFrame:
    """``finite``: train values with NaN for missing / infinite; ``q25`` / ``q75`` from the statistics."""
    n_fin = (~np.isnan(finite)).sum(axis=0)
    iqr = q75 - q25
    lo, hi = q25 - 1.5 * iqr, q75 + 1.5 * iqr
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")  # all-NaN columns: no outliers
        iqr_n = np.where(iqr > 0, ((finite < lo) | (finite > hi)).sum(axis=0), 0)
        mean = np.nanmean(finite, axis=0)
        std = np.nanstd(finite, axis=0)
        z_n = np.where(std > 0, (np.abs(finite - mean) > 3 * std).sum(axis=0), 0)
        den = np.maximum(n_fin, 1)
    df = pd.DataFrame({"feature": names, "iqr_outliers": iqr_n, "iqr_outliers_pct": iqr_n / den * 100.0,
                       "zscore_outliers": z_n, "zscore_outliers_pct": z_n / den * 100.0,
                       "total_outliers_iqr": iqr_n, "total_outliers_zscore": z_n,
                       "iqr_lower_bound": lo, "iqr_upper_bound": hi})
    return df.sort_values(["iqr_outliers_pct", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)
