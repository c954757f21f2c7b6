"""Hurst exponent, Higuchi and Katz fractal dimension on synthetic series with known answers."""
import numpy as np
import pytest

from engine.features.families.fractal import permutation_entropy, rolling_katz, variance_ratio
from engine.features.kernels import (
    higuchi_fd,
    hurst_dfa,
    hurst_rs,
    katz_fd,
    rolling_dfa,
    rolling_higuchi,
    rolling_rs,
    rolling_skew_kurt,
)
from tests.features.conftest import fgn


@pytest.mark.parametrize("h", [0.3, 0.5, 0.7])
def test_hurst_recovers_h_of_fractional_gaussian_noise(h):
    for seed in (1, 2):
        x = fgn(2 ** 16, h, np.random.default_rng(seed))
        assert abs(hurst_dfa(x) - h) < 0.05, ("DFA", h, seed, hurst_dfa(x))
        assert abs(hurst_rs(x) - h) < 0.05, ("R/S", h, seed, hurst_rs(x))


def test_hurst_is_not_2h_and_orders_persistence():
    rng = np.random.default_rng(7)
    est = [hurst_dfa(fgn(2 ** 14, h, rng)) for h in (0.3, 0.5, 0.7)]
    assert est[0] < est[1] < est[2] < 0.8  # 2H would be 1.4 for H = 0.7


def test_rolling_hurst_equals_the_whole_window_estimate():
    x = np.random.default_rng(3).standard_normal(600)
    from engine.features.kernels import dfa_exponent, rs_hurst

    roll = rolling_dfa(x, 256, (8, 16, 32, 64))
    assert np.isnan(roll[:255]).all() and not np.isnan(roll[255:]).any()
    assert roll[400] == pytest.approx(dfa_exponent(x[145:401], np.array([8, 16, 32, 64])), abs=1e-12)
    rs = rolling_rs(x, 256, (16, 32, 64, 128))
    assert rs[599] == pytest.approx(rs_hurst(x[344:600], np.array([16, 32, 64, 128])), abs=1e-12)


def test_higuchi_line_is_one_and_white_noise_is_two():
    assert higuchi_fd(np.arange(500.0) * 0.7 + 3, 8) == pytest.approx(1.0, abs=1e-9)
    noise = np.random.default_rng(0).standard_normal(20_000)
    assert higuchi_fd(noise, 8) == pytest.approx(2.0, abs=0.03)
    walk = np.cumsum(np.random.default_rng(1).standard_normal(20_000))
    assert higuchi_fd(walk, 8) == pytest.approx(1.5, abs=0.05)
    r = rolling_higuchi(np.arange(300.0), 128, 8)
    assert np.allclose(r[127:], 1.0)


def test_katz_line_is_one_and_rolling_matches_whole_window():
    assert katz_fd(np.arange(100.0) * 2 - 5) == pytest.approx(1.0, abs=1e-12)
    x = np.cumsum(np.random.default_rng(2).standard_normal(300)) + 100
    r = rolling_katz(x, 64)
    assert np.isnan(r[:63]).all()
    for t in (63, 150, 299):
        assert r[t] == pytest.approx(katz_fd(x[t - 63:t + 1]), rel=1e-9)
    # hand-computed: x = 0, 1, 3: L = 3, a = 1.5, d = 3 -> D = log10(2) / (log10(1) + log10(2)) = 1
    assert katz_fd(np.array([0.0, 1.0, 3.0])) == pytest.approx(1.0)
    # x = 0, 2, 1: L = 3, a = 1.5, d = 2 -> D = log10(2) / (log10(2/3) + log10(2))
    assert katz_fd(np.array([0.0, 2.0, 1.0])) == pytest.approx(np.log10(2) / (np.log10(2 / 3) + np.log10(2)))


def test_permutation_entropy_hand_values():
    up = np.arange(20.0)
    pe = permutation_entropy(up, 3, 5)
    assert np.isnan(pe[:6]).all() and np.allclose(pe[6:], 0.0)  # one pattern only
    # alternating 0 1 0 1 ...: patterns alternate between (0 2 1) and (1 0 2) orderings -> two equally likely
    alt = np.tile([0.0, 1.0], 20)
    pe = permutation_entropy(alt, 3, 10)
    assert pe[-1] == pytest.approx(np.log(2) / np.log(6))


def test_variance_ratio_and_moments():
    rng = np.random.default_rng(4)
    r = rng.standard_normal(5000) * 0.01
    vr = variance_ratio(r, 4, 2000)
    assert vr[-1] == pytest.approx(1.0, abs=0.15)  # random walk
    trend = r + 0.8 * np.concatenate([[0], r[:-1]])  # positively autocorrelated
    assert variance_ratio(trend, 4, 2000)[-1] > 1.3
    from scipy import stats

    sk, ku = rolling_skew_kurt(r, 64)
    assert sk[500] == pytest.approx(stats.skew(r[437:501]), rel=1e-9)
    assert ku[500] == pytest.approx(stats.kurtosis(r[437:501]), rel=1e-9)
