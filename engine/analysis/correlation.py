"""Feature-feature correlation on the TRAIN rows and the highly correlated pairs.

``highly_correlated_pairs_threshold_0.95.csv`` has the seed's columns: Feature_1, Feature_2,
Correlation, Abs_Correlation (|r| > threshold, largest first).

The matrix is the pairwise-complete Pearson correlation (each pair over the rows where both
features are finite, as ``pandas.DataFrame.corr``), computed with four matrix products instead
of pandas' pair-by-pair loop: numpy has no NaN-aware correlation, so this is written here.
Columns are centred by their mean first, which keeps the sums well conditioned.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

PAIR_COLUMNS = ["Feature_1", "Feature_2", "Correlation", "Abs_Correlation"]


def correlation_matrix(finite: np.ndarray, min_rows: int = 3) -> np.ndarray:
    """Pairwise-complete Pearson r of the columns of ``finite`` (NaN = missing); NaN where undefined."""
    m = ~np.isnan(finite)
    if m.all():
        with np.errstate(all="ignore"):
            r = np.corrcoef(finite, rowvar=False)
        r = np.atleast_2d(r)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mu = np.nanmean(finite, axis=0)
        z = np.where(m, finite - np.nan_to_num(mu), 0.0)
        mf = m.astype(np.float64)
        n = mf.T @ mf                      # rows where both are finite
        sx = z.T @ mf                      # sx[i, j] = sum of x_i over those rows
        sxx = (z * z).T @ mf
        sxy = z.T @ z
        with np.errstate(all="ignore"):
            cov = sxy - sx * sx.T / n
            vi = sxx - sx * sx / n
            r = cov / np.sqrt(vi * vi.T)
        r[n < min_rows] = np.nan
    r = np.clip(r, -1.0, 1.0)
    np.fill_diagonal(r, np.where(np.isnan(np.diag(r)), np.nan, 1.0))
    return r


def correlated_pairs(r: np.ndarray, names: list[str], threshold: float) -> pd.DataFrame:
    """Pairs (i < j) with |r| > threshold, sorted by |r| descending (then by names)."""
    iu, ju = np.triu_indices(len(names), k=1)
    vals = r[iu, ju]
    hit = np.abs(np.nan_to_num(vals)) > threshold
    names_a = np.asarray(names, dtype=object)
    df = pd.DataFrame({"Feature_1": names_a[iu[hit]], "Feature_2": names_a[ju[hit]], "Correlation": vals[hit]})
    df["Abs_Correlation"] = df["Correlation"].abs()
    return df.sort_values(["Abs_Correlation", "Feature_1", "Feature_2"], ascending=[False, True, True],
                          kind="stable").reset_index(drop=True)[PAIR_COLUMNS]
