"""Importance against sklearn / numpy; the NaN-aware correlation matrix against pandas; pairs."""
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import f_classif, f_regression, mutual_info_classif

from engine.analysis.correlation import PAIR_COLUMNS, correlated_pairs, correlation_matrix
from engine.analysis.importance import IMPORTANCE_COLUMNS, feature_importance, impute_median
from engine.analysis.statistics import finite_view
from tests.analysis.helpers import future_return, real_features


def _informative(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = np.column_stack([y + rng.normal(0, 0.5, n), rng.normal(0, 1, n), np.full(n, 4.0), rng.normal(0, 1, n)])
    X[::10, 1] = np.nan
    return X, y.astype(float), ["signal", "noise_nan", "const", "noise"]


def test_importance_matches_sklearn_and_ranks_the_signal_first():
    X, y, names = _informative()
    df, n_mi = feature_importance(X, names, y, classification=True, mi_max_rows=100_000)
    assert list(df.columns) == IMPORTANCE_COLUMNS and n_mi == len(y)
    assert df["feature"].iloc[0] == "signal" and df["rank"].tolist() == [1, 2, 3, 4]
    d = df.set_index("feature")
    Xi = impute_median(X)
    f, p = f_classif(Xi[:, [0, 1, 3]], y.astype(int))
    assert d.loc[["signal", "noise_nan", "noise"], "f_score"].to_numpy() == pytest.approx(f)
    assert d.loc[["signal", "noise_nan", "noise"], "f_pvalue"].to_numpy() == pytest.approx(p)
    mi = mutual_info_classif(Xi, y.astype(int), discrete_features=False, n_neighbors=3, random_state=42)
    assert d.loc["signal", "mutual_info"] == pytest.approx(mi[0])
    assert d.loc["const", "mutual_info"] == 0 and d.loc["const", "f_score"] == 0 and d.loc["const", "f_pvalue"] == 1
    ok = ~np.isnan(X[:, 1])
    assert d.loc["noise_nan", "correlation_with_target"] == pytest.approx(np.corrcoef(X[ok, 1], y[ok])[0, 1])
    full, _ = feature_importance(X[:, [0, 3]], ["signal", "noise"], y, classification=True, mi_max_rows=500)
    assert full.set_index("feature").loc["signal", "correlation_with_target"] == pytest.approx(np.corrcoef(X[:, 0], y)[0, 1])
    assert np.isnan(d.loc["const", "correlation_with_target"])
    assert d.loc["signal", "mi_normalized"] == 100 and d.loc["signal", "f_normalized"] == 100
    assert d["combined_score"].to_numpy() == pytest.approx(0.5 * d["mi_normalized"] + 0.5 * d["f_normalized"])


def test_mi_sample_cap_and_regression_targets():
    feats = real_features(rows=6000)
    y = future_return(rows=6000)
    f = finite_view(feats.to_numpy(float))
    df, n_mi = feature_importance(f, list(feats.columns), y, classification=False, mi_max_rows=1000)
    assert n_mi == 1000
    keep = np.isfinite(y)
    fr, _ = f_regression(impute_median(f[keep]), y[keep])
    assert df.set_index("feature").loc[list(feats.columns), "f_score"].to_numpy() == pytest.approx(fr)
    again, _ = feature_importance(f, list(feats.columns), y, classification=False, mi_max_rows=1000)
    pd.testing.assert_frame_equal(df, again)  # the sample is deterministic


def test_rows_without_target_are_dropped():
    X, y, names = _informative()
    y2 = y.copy()
    y2[:500] = np.nan
    a, _ = feature_importance(X, names, y2, classification=True, mi_max_rows=100_000)
    b, _ = feature_importance(X[500:], names, y[500:], classification=True, mi_max_rows=100_000)
    pd.testing.assert_frame_equal(a.drop(columns=["mutual_info", "mi_normalized", "combined_score", "rank"]).sort_values("feature").reset_index(drop=True),
                                  b.drop(columns=["mutual_info", "mi_normalized", "combined_score", "rank"]).sort_values("feature").reset_index(drop=True))


def test_correlation_matrix_is_pandas_pairwise_pearson():
    feats = real_features(rows=5000)
    rng = np.random.default_rng(1)
    feats.loc[rng.choice(5000, 600, replace=False), "ret_1"] = np.nan
    feats["const"] = 1.0
    r = correlation_matrix(finite_view(feats.to_numpy(float)))
    ref = feats.corr().to_numpy()
    np.testing.assert_allclose(r, ref, atol=1e-9, equal_nan=True)
    full = real_features(rows=5000).dropna()
    np.testing.assert_allclose(correlation_matrix(full.to_numpy(float)), full.corr().to_numpy(), atol=1e-12)


def test_pairs_above_threshold_in_the_seed_layout():
    feats = real_features(rows=5000)
    names = list(feats.columns)
    r = correlation_matrix(finite_view(feats.to_numpy(float)))
    pairs = correlated_pairs(r, names, 0.95)
    assert list(pairs.columns) == PAIR_COLUMNS
    ref = feats.corr().where(np.triu(np.ones((len(names),) * 2, bool), 1)).stack()
    expected = {tuple(sorted(k)) for k, v in ref.items() if abs(v) > 0.95}
    assert {tuple(sorted(p)) for p in pairs[["Feature_1", "Feature_2"]].itertuples(index=False)} == expected
    assert expected == {("rsi_14", "rsi_21"), ("ema_ratio_20", "sma_ratio_20")}
    assert pairs["Abs_Correlation"].is_monotonic_decreasing
    assert (pairs["Abs_Correlation"] == pairs["Correlation"].abs()).all()
