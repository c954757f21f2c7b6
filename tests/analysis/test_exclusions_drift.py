"""Exclusion rules on hand-made columns; file formats; PSI / KS drift."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from config.errors import BadInput
from engine.analysis.correlation import correlation_matrix
from engine.analysis.drift import DIST_COLUMNS, DRIFT_COLUMNS, distributions, drift, ks_2samp_sorted, psi
from engine.analysis.exclusions import (
    REASONS,
    complexity,
    decide,
    parse_excluded,
    parse_feature_list,
    write_excluded,
    write_included,
)
from engine.analysis.importance import feature_importance
from engine.analysis.statistics import feature_statistics, finite_view


def _hand_made(n=4000, seed=11):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, n)
    y = (base + rng.normal(0, 1, n) > 0).astype(float)
    cols = {
        "ret": base,                                                  # simple
        "ret_smoothed_scaled": 3 * base + rng.normal(0, 0.05, n),     # r ~ 0.9999 with ret, more complex name
        "other": rng.normal(0, 1, n),
        "other_copy_neg": -rng.normal(0, 1, n) * 0 - 0,               # all zeros
        "flat": np.full(n, 7.0),                                      # constant
        "sparse": np.where(rng.random(n) < 0.05, rng.normal(0, 1, n), np.nan),  # ~95% missing, not constant
        "leaky": y + rng.normal(0, 0.01, n),
        "weak": rng.normal(0, 1, n),
    }
    return pd.DataFrame(cols), y


def _decide(df, y, **kw):
    names = list(df.columns)
    f = finite_view(df.to_numpy(float))
    st = feature_statistics(df.to_numpy(float), names, finite=f)
    imp, _ = feature_importance(f, names, y, classification=True, mi_max_rows=2000)
    args = {"leaking": ["leaky"], "corr_threshold": 0.95, "missing_threshold_pct": 90.0, "low_importance_pct": 0.0}
    args.update(kw)
    return decide(names, st, imp, correlation_matrix(f), **args), imp


def test_each_reason_on_hand_made_columns():
    df, y = _hand_made()
    ex, imp = _decide(df, y)
    assert ex.reasons["leakage"] == ["leaky"]
    assert sorted(ex.reasons["constant"]) == ["flat", "other_copy_neg"]
    assert ex.reasons["high_missing"] == ["sparse"]
    assert ex.reasons["high_correlation"] == ["ret_smoothed_scaled"]  # the simpler "ret" is kept
    assert "with ret (kept)" in ex.details["ret_smoothed_scaled"]
    assert ex.reasons["low_importance"] == []
    assert set(ex.included) == {"ret", "other", "weak"}
    assert set(ex.included).isdisjoint(ex.excluded) and len(ex.included) + len(ex.excluded) == df.shape[1]
    # the whitelist follows the importance ranking
    order = [f for f in imp["feature"] if f in ex.included]
    assert ex.included == order


def test_low_importance_and_registry_lookback_decide():
    df, y = _hand_made()
    ex, imp = _decide(df, y, low_importance_pct=40.0)
    rest = imp[imp.feature.isin(["ret", "other", "weak"])]
    cut = np.percentile(rest["combined_score"], 40)
    assert set(ex.reasons["low_importance"]) == set(rest[rest.combined_score <= cut]["feature"]) != set()
    # with registry metadata the shorter lookback wins, whatever the names say
    meta = {"ret": {"lookback": 50, "inputs": ["close"]}, "ret_smoothed_scaled": {"lookback": 1, "inputs": ["close"]}}
    ex2, _ = _decide(df, y, feature_meta=meta)
    assert ex2.reasons["high_correlation"] == ["ret"]
    assert complexity("rsi_14", {"lookback": 14}) < complexity("rsi_21", {"lookback": 21})
    assert complexity("ret_1") < complexity("ret_1_zscore_96")


def test_no_low_importance_cut_without_spread():
    names = ["a", "b", "c"]
    st = feature_statistics(np.random.default_rng(0).normal(size=(100, 3)), names)
    imp = pd.DataFrame({"feature": names, "combined_score": [0.0, 0.0, 0.0]})
    ex = decide(names, st, imp, np.eye(3), leaking=[], corr_threshold=0.95, missing_threshold_pct=90,
                low_importance_pct=5)
    assert ex.included == names and ex.excluded == []


def test_chains_keep_the_named_partner():
    """a ~ b ~ c all correlated: only the simplest stays and every detail names a kept feature."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=3000)
    df = pd.DataFrame({"a": x, "b_b": x + rng.normal(0, 0.05, 3000), "c_c_c": x + rng.normal(0, 0.1, 3000)})
    ex, _ = _decide(df, (x > 0).astype(float), leaking=[])
    assert ex.included == ["a"]
    assert all(ex.details[f].endswith("with a (kept)") for f in ("b_b", "c_c_c"))


def test_text_files_round_trip(tmp_path):
    df, y = _hand_made()
    ex, _ = _decide(df, y)
    p = tmp_path / "excluded_features.txt"
    write_excluded(p, ex, report_id="analysis-x", target="direction_4h", corr=0.95, missing=90, low=5)
    groups = parse_excluded(p.read_text())
    flat = [f for fs in groups.values() for f in fs]
    assert sorted(flat) == sorted(ex.excluded)
    assert any(t.startswith("Leakage") for t in groups) and any(t.startswith("High correlation") for t in groups)
    # seed readers: every non-comment line is a feature
    plain = [s.strip() for s in p.read_text().splitlines() if s.strip() and not s.startswith("#")]
    assert sorted(plain) == sorted(ex.excluded)
    q = tmp_path / "included_features.txt"
    write_included(q, ex.included, report_id="analysis-x", target="direction_4h")
    assert parse_feature_list(q.read_text()) == ex.included
    assert parse_feature_list("a\n  # comment\n\nb  # trailing\n") == ["a", "b"]
    with pytest.raises(BadInput, match="more than once"):
        parse_feature_list("a\nb\na\n")
    assert set(REASONS) == set(ex.reasons)


def test_psi_and_ks():
    rng = np.random.default_rng(5)
    a = rng.normal(0, 1, 20000)
    assert psi(a, rng.normal(0, 1, 5000)) < 0.01
    assert psi(a, rng.normal(0.8, 1, 5000)) > 0.25
    hours = rng.integers(0, 24, 20000).astype(float)  # many ties on the bin edges
    assert psi(hours, hours) == 0 and psi(hours, hours[:5000]) < 0.01
    # PSI by hand on the train deciles
    b = rng.normal(0.3, 1.2, 5000)
    edges = np.quantile(a, np.linspace(0, 1, 11)[1:-1])
    e = np.histogram(a, np.r_[-np.inf, edges, np.inf])[0] / len(a)
    o = np.histogram(b, np.r_[-np.inf, edges, np.inf])[0] / len(b)
    assert psi(a, b) == pytest.approx(np.sum((o - e) * np.log(o / e)), rel=1e-9)
    tr = np.column_stack([a, a * 2])
    va = np.column_stack([rng.normal(0, 1, 5000), rng.normal(0, 2, 5000)])
    te = np.column_stack([rng.normal(1.0, 1, 5000), rng.normal(0, 2, 5000)])
    d = drift(tr, va, te, ["shifts", "stable"], psi_threshold=0.2, ks_threshold=0.1)
    assert list(d.columns) == DRIFT_COLUMNS
    s = d.set_index("feature")
    ks = stats.ks_2samp(a, te[:, 0])
    assert s.loc["shifts", "ks_test"] == pytest.approx(ks.statistic, rel=1e-12)
    assert s.loc["stable", "ks_val"] == pytest.approx(stats.ks_2samp(tr[:, 1], va[:, 1]).statistic, rel=1e-12)
    # the asymptotic (Kolmogorov limit) p-value agrees with scipy's finite-n one where it is not ~0
    x, z = rng.normal(0, 1, 3000), rng.normal(0.04, 1, 2000)
    ref = stats.ks_2samp(x, z)
    assert 0.01 < ref.pvalue < 0.9 and ks_2samp_sorted(np.sort(x), z)[1] == pytest.approx(ref.pvalue, rel=0.03)
    assert bool(s.loc["shifts", "drifted"]) and s.loc["shifts", "drift_level"] == "high"
    assert not bool(s.loc["stable", "drifted"]) and s.loc["stable", "drift_level"] == "none"
    dist = distributions(tr, va, te, ["shifts", "stable"])
    assert list(dist.columns) == DIST_COLUMNS
    sums = dist.groupby("feature")[["train", "val", "test"]].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)  # every value lands in a bin (ends included)
