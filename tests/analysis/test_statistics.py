"""feature_statistics / outliers / by-class statistics against numpy, scipy and pandas on small tables."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.analysis.by_class import BY_CLASS_COLUMNS, by_class, tercile_classes
from engine.analysis.outliers import OUTLIER_COLUMNS, outliers
from engine.analysis.statistics import STAT_COLUMNS, feature_statistics, finite_view
from tests.analysis.helpers import direction_target, real_features


def _table():
    rng = np.random.default_rng(7)
    a = rng.standard_t(4, 500)
    a[[3, 17, 40]] = np.nan
    a[[5]] = np.inf
    a[[6]] = -np.inf
    b = rng.exponential(1.0, 500)
    b[:50] = 0.0
    const = np.full(500, 2.5)
    allnan = np.full(500, np.nan)
    return np.column_stack([a, b, const, allnan]), ["a", "b", "const", "allnan"]


def test_statistics_match_numpy_scipy_pandas():
    X, names = _table()
    df = feature_statistics(X, names)
    assert list(df.columns) == STAT_COLUMNS
    s = df.set_index("feature")
    a = X[:, 0]
    fin = a[np.isfinite(a)]
    assert s.loc["a", "count"] == 497 and s.loc["a", "missing"] == 3 and s.loc["a", "infinite"] == 2
    assert s.loc["a", "missing_pct"] == pytest.approx(0.6)
    assert s.loc["a", "infinite_pct"] == pytest.approx(2 / 497 * 100)
    assert s.loc["a", "mean"] == pytest.approx(fin.mean())
    assert s.loc["a", "std"] == pytest.approx(fin.std(ddof=1))
    assert (s.loc["a", "min"], s.loc["a", "max"]) == (fin.min(), fin.max())
    assert [s.loc["a", k] for k in ("q25", "median", "q75")] == pytest.approx(list(np.quantile(fin, [0.25, 0.5, 0.75])))
    assert s.loc["a", "skewness"] == pytest.approx(stats.skew(fin, bias=False))
    assert s.loc["a", "skewness"] == pytest.approx(pd.Series(fin).skew())
    assert s.loc["a", "kurtosis"] == pytest.approx(pd.Series(fin).kurt())
    assert s.loc["a", "normality_p_value"] == pytest.approx(stats.normaltest(fin).pvalue)
    assert s.loc["a", "is_normal"] == (stats.normaltest(fin).pvalue > 0.05)
    assert s.loc["b", "zeros"] == 50 and s.loc["b", "zeros_pct"] == pytest.approx(10.0)
    # a constant column has no skewness / normality test; an all-NaN one has no values at all
    assert np.isnan(s.loc["const", "skewness"]) and np.isnan(s.loc["const", "normality_p_value"])
    assert s.loc["const", "std"] == 0 and s.loc["const", "min"] == s.loc["const", "max"] == 2.5
    assert s.loc["allnan", "count"] == 0 and s.loc["allnan", "missing_pct"] == 100 and np.isnan(s.loc["allnan", "mean"])


def test_outliers_match_manual_counts():
    X, names = _table()
    f = finite_view(X)
    st = feature_statistics(X, names, finite=f).set_index("feature")
    df = outliers(f, names, st["q25"].to_numpy(), st["q75"].to_numpy())
    assert list(df.columns) == OUTLIER_COLUMNS
    assert df["iqr_outliers_pct"].is_monotonic_decreasing
    o = df.set_index("feature")
    fin = X[:, 0][np.isfinite(X[:, 0])]
    q1, q3 = np.quantile(fin, [0.25, 0.75])
    iqr_n = int(((fin < q1 - 1.5 * (q3 - q1)) | (fin > q3 + 1.5 * (q3 - q1))).sum())
    z_n = int((np.abs(stats.zscore(fin)) > 3).sum())
    assert o.loc["a", "iqr_outliers"] == iqr_n > 0
    assert o.loc["a", "zscore_outliers"] == z_n > 0
    assert o.loc["a", "iqr_outliers_pct"] == pytest.approx(iqr_n / len(fin) * 100)
    assert o.loc["a", "total_outliers_zscore"] == z_n
    assert o.loc["const", "iqr_outliers"] == 0 and o.loc["const", "zscore_outliers"] == 0
    assert o.loc["allnan", "iqr_outliers"] == 0


def test_by_class_matches_pandas_groupby_and_eta_squared():
    feats = real_features(rows=4000)
    y = direction_target(rows=4000)
    f = finite_view(feats.to_numpy(float))
    names = list(feats.columns)
    df = by_class(f, names, y, {0: "DOWN", 1: "FLAT", 2: "UP"})
    assert list(df.columns) == BY_CLASS_COLUMNS
    assert len(df) == 3 * len(names)
    ok = np.isfinite(y)
    ref = feats[ok].groupby(y[ok].astype(int))["rsi_14"]
    got = df[df.feature == "rsi_14"].set_index("class")
    for stat in ("count", "mean", "std", "median", "min", "max"):
        np.testing.assert_allclose(got[stat].to_numpy(float), getattr(ref, stat)().to_numpy(float), rtol=1e-10)
    np.testing.assert_allclose(got["q25"], ref.quantile(0.25).to_numpy(), rtol=1e-10)
    assert list(got["class_name"]) == ["DOWN", "FLAT", "UP"]
    # eta^2 = between-class SS / total SS, from the raw values
    x = feats["rsi_14"].to_numpy()[ok]
    cls = y[ok]
    good = np.isfinite(x)
    x, cls = x[good], cls[good]
    between = sum((cls == k).sum() * (x[cls == k].mean() - x.mean()) ** 2 for k in (0, 1, 2))
    assert got["separation_score"].iloc[0] == pytest.approx(between / ((x - x.mean()) ** 2).sum())


def test_regression_targets_are_cut_at_terciles():
    y = np.r_[np.arange(300, dtype=float), [np.nan] * 5]
    cls, names = tercile_classes(y)
    assert np.isnan(cls[-5:]).all()
    counts = np.bincount(cls[:300].astype(int))
    assert counts.tolist() == [100, 100, 100]
    assert names[0].startswith("low") and names[2].startswith("high")


def test_normality_test_on_a_fixed_sample_of_long_columns():
    rng = np.random.default_rng(3)
    x = rng.standard_t(8, 7000)
    df = feature_statistics(x[:, None], ["t8"])
    rows = np.sort(np.random.default_rng(42).choice(7000, 5000, replace=False))
    assert df["normality_p_value"].iloc[0] == pytest.approx(stats.normaltest(x[rows]).pvalue)
    assert df["skewness"].iloc[0] == pytest.approx(stats.skew(x, bias=False))  # the moments use every row
