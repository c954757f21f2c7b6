"""The one rolling kernel of the fractal measures (engine/features/kernels.py `_rolling_measure`)
gives bit-identical results to the three per-measure loops it replaced, re-written here in Python
around the same per-window numba functions."""
import numpy as np
import pytest

from engine.features.kernels import (
    _log_expected_rs,
    _rs_hurst,
    dfa_exponent,
    higuchi_fd,
    rolling_dfa,
    rolling_higuchi,
    rolling_rs,
)


def _old_loop(x, w, measure):
    # the loop each of _rolling_dfa / _rolling_rs / _rolling_higuchi had (before the merge)
    out = np.full(x.shape[0], np.nan)
    for t in range(w - 1, x.shape[0]):
        win = x[t - w + 1:t + 1]
        if np.isnan(win).any():
            continue
        out[t] = measure(win)
    return out


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(20260417)
    r = rng.standard_normal(1400) * 0.01
    r[[5, 700, 701, 1300]] = np.nan  # windows holding a NaN give NaN
    lc = np.cumsum(rng.standard_normal(1400))
    lc[[40, 900]] = np.nan
    return r, lc


@pytest.mark.parametrize("scales", [(8, 16, 32, 64), (4, 10, 50)])
def test_rolling_dfa_matches_the_old_loop(series, scales):
    r, _ = series
    s = np.asarray(scales, dtype=np.int64)
    new = rolling_dfa(r, 256, scales)
    assert np.array_equal(new, _old_loop(r, 256, lambda win: dfa_exponent(win, s)), equal_nan=True)
    assert np.isfinite(new).sum() > 400 and np.isnan(new[:255]).all()


@pytest.mark.parametrize("sizes", [(16, 32, 64, 128), (8, 20, 40)])
def test_rolling_rs_matches_the_old_loop(series, sizes):
    r, _ = series
    s = np.asarray(sizes, dtype=np.int64)
    log_ers = _log_expected_rs(s)
    new = rolling_rs(r, 256, sizes)
    assert np.array_equal(new, _old_loop(r, 256, lambda win: _rs_hurst(win, s, log_ers)), equal_nan=True)
    assert np.isfinite(new).sum() > 400


@pytest.mark.parametrize(("w", "kmax"), [(128, 8), (64, 5)])
def test_rolling_higuchi_matches_the_old_loop(series, w, kmax):
    _, lc = series
    new = rolling_higuchi(lc, w, kmax)
    assert np.array_equal(new, _old_loop(lc, w, lambda win: higuchi_fd(win, kmax)), equal_nan=True)
    assert np.isfinite(new).sum() > 1000 and np.isnan(new[900:900 + w]).all()


def test_a_truncated_series_gives_the_same_prefix(series):
    r, lc = series
    for f, x in ((rolling_dfa, r), (rolling_rs, r), (rolling_higuchi, lc)):
        full = f(x, 128)
        assert np.array_equal(f(x[:800], 128), full[:800], equal_nan=True)  # causal: no look-ahead
