"""Array helpers shared by the families: causal shifts, NaN-aware rolling sums (prefix sums,
so a value at row t depends only on rows <= t and a truncated series gives bit-identical
prefixes), window views, and the numba kernels for what no library offers (rolling DFA /
R-S Hurst, Higuchi fractal dimension, rolling percentile rank).

Windows always end at the current row: ``rolling_*(x, w)[t]`` uses ``x[t-w+1 .. t]``.
Every helper returns float64 arrays with NaN where a value is not defined.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# numba kernels are compiled once and cached on disk (__pycache__), nogil so threads can overlap them
JIT = {"cache": True, "nogil": True}


def shift(x: np.ndarray, k: int) -> np.ndarray:
    """``x[t-k]`` at row t (k > 0: the past), NaN where that row does not exist."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full_like(x, np.nan)
    if k == 0:
        out[:] = x
    elif k > 0:
        out[k:] = x[:-k]
    else:
        out[:k] = x[-k:]
    return out


def safe_div(a, b) -> np.ndarray:
    """a / b with NaN (not inf) where b is 0 or either side is NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=(b != 0) & np.isfinite(b))
    return out


def log_ratio(a, b) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64))
    r[~np.isfinite(r)] = np.nan
    return r


def rolling_sum(x: np.ndarray, w: int, min_count: int | None = None) -> np.ndarray:
    """NaN-aware rolling sum over the last ``w`` rows (NaNs ignored); NaN until ``min_count``
    (default ``w``) valid values are in the window.  Prefix sums: causal and truncation-exact."""
    x = np.asarray(x, dtype=np.float64)
    valid = ~np.isnan(x)
    cs = np.concatenate(([0.0], np.cumsum(np.where(valid, x, 0.0))))
    cn = np.concatenate(([0], np.cumsum(valid)))
    n = len(x)
    idx = np.arange(n)
    lo = np.maximum(idx + 1 - w, 0)
    s = cs[idx + 1] - cs[lo]
    c = cn[idx + 1] - cn[lo]
    need = w if min_count is None else min_count
    s[(c < need) | (idx < w - 1)] = np.nan
    return s


def rolling_count(x: np.ndarray, w: int) -> np.ndarray:
    valid = ~np.isnan(np.asarray(x, dtype=np.float64))
    cn = np.concatenate(([0], np.cumsum(valid)))
    idx = np.arange(len(valid))
    out = (cn[idx + 1] - cn[np.maximum(idx + 1 - w, 0)]).astype(np.float64)
    out[idx < w - 1] = np.nan
    return out


def rolling_mean(x: np.ndarray, w: int, min_count: int | None = None) -> np.ndarray:
    need = w if min_count is None else min_count
    return rolling_sum(x, w, need) / np.maximum(rolling_count(x, w), 1)


def rolling_moments(x: np.ndarray, y: np.ndarray, w: int, min_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise-complete rolling (cov, var_x, var_y, n) over the last ``w`` rows (population
    moments of the rows where both x and y are defined; NaN until ``min_count`` such rows)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    both = ~(np.isnan(x) | np.isnan(y))
    xm = np.where(both, x, np.nan)
    ym = np.where(both, y, np.nan)
    n = rolling_count(xm, w)
    sx, sy = rolling_sum(xm, w, min_count), rolling_sum(ym, w, min_count)
    sxx, syy, sxy = rolling_sum(xm * xm, w, min_count), rolling_sum(ym * ym, w, min_count), rolling_sum(xm * ym, w, min_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = sx / n, sy / n
        cov = sxy / n - mx * my
        vx = np.maximum(sxx / n - mx * mx, 0.0)
        vy = np.maximum(syy / n - my * my, 0.0)
    return cov, vx, vy, n


def rolling_corr(x, y, w: int, min_count: int | None = None) -> np.ndarray:
    cov, vx, vy, _ = rolling_moments(x, y, w, w if min_count is None else min_count)
    return np.clip(safe_div(cov, np.sqrt(vx * vy)), -1.0, 1.0)


def rolling_beta(y, x, w: int, min_count: int | None = None) -> np.ndarray:
    """OLS slope of y on x over the window: cov(x, y) / var(x)."""
    cov, vx, _vy, _ = rolling_moments(x, y, w, w if min_count is None else min_count)
    return safe_div(cov, vx)


def windows(x: np.ndarray, w: int) -> np.ndarray:
    """Read-only (n-w+1, w) view of the windows ending at rows w-1 .. n-1."""
    return np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float64), w)


def window_mean_std(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact rolling mean and population std per window (two passes per window, no prefix
    sums: safe for levels such as prices or OBV whose squares would swamp a running sum).
    A window holding a NaN gives NaN."""
    return _window_mean_std(np.ascontiguousarray(x, dtype=np.float64), int(w))


def zscore(x: np.ndarray, w: int) -> np.ndarray:
    """(x - rolling mean) / rolling population std over the last ``w`` rows (exact per window)."""
    m, sd = window_mean_std(x, w)
    return safe_div(np.asarray(x, dtype=np.float64) - m, sd)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(x)


# --- numba kernels ---------------------------------------------------------------------------

@njit(**JIT)
def _linfit_rss(y, start, s):
    """Residual sum of squares of the least-squares line through y[start:start+s] (t = 0..s-1)."""
    tbar = (s - 1) / 2.0
    stt = s * (s * s - 1) / 12.0
    sy = 0.0
    sty = 0.0
    syy = 0.0
    for i in range(s):
        v = y[start + i]
        sy += v
        sty += i * v
        syy += v * v
    ybar = sy / s
    syy_c = syy - s * ybar * ybar
    sty_c = sty - tbar * sy
    rss = syy_c - sty_c * sty_c / stt
    return max(0.0, rss)


@njit(**JIT)
def _slope(xs, ys, k):
    mx = 0.0
    my = 0.0
    for i in range(k):
        mx += xs[i]
        my += ys[i]
    mx /= k
    my /= k
    sxy = 0.0
    sxx = 0.0
    for i in range(k):
        sxy += (xs[i] - mx) * (ys[i] - my)
        sxx += (xs[i] - mx) ** 2
    return sxy / sxx if sxx > 0 else np.nan


@njit(**JIT)
def dfa_exponent(x, scales):
    """DFA-1 fluctuation exponent of the increments ``x`` (fGn with Hurst H gives alpha = H):
    profile = cumsum(x - mean); for each scale s, RMS of the linear-detrended profile in
    non-overlapping segments; alpha = slope of log F(s) on log s (Peng et al. 1994)."""
    n = x.shape[0]
    m = 0.0
    for i in range(n):
        m += x[i]
    m /= n
    prof = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc += x[i] - m
        prof[i] = acc
    k = scales.shape[0]
    lx = np.empty(k)
    ly = np.empty(k)
    used = 0
    for j in range(k):
        s = scales[j]
        segs = n // s
        if segs < 1 or s < 4:
            continue
        tot = 0.0
        for g in range(segs):
            tot += _linfit_rss(prof, g * s, s)
        f2 = tot / (segs * s)
        if f2 <= 0.0:
            continue
        lx[used] = math.log(s)
        ly[used] = 0.5 * math.log(f2)
        used += 1
    if used < 2:
        return np.nan
    return _slope(lx, ly, used)


@njit(**JIT)
def _expected_rs(n):
    """Anis-Lloyd expected R/S of n i.i.d. normal increments, with Peters' (n-0.5)/n factor."""
    acc = 0.0
    for i in range(1, n):
        acc += math.sqrt((n - i) / i)
    if n <= 340:
        g = math.exp(math.lgamma((n - 1) / 2.0) - math.lgamma(n / 2.0)) / math.sqrt(math.pi)
    else:
        g = 1.0 / math.sqrt(n * math.pi / 2.0)
    return (n - 0.5) / n * g * acc


@njit(**JIT)
def rs_hurst(x, sizes):
    return _rs_hurst(x, sizes, _log_expected_rs(sizes))


@njit(**JIT)
def _log_expected_rs(sizes):
    out = np.empty(sizes.shape[0])
    for j in range(sizes.shape[0]):
        out[j] = math.log(_expected_rs(sizes[j])) if sizes[j] >= 8 else np.nan
    return out


@njit(**JIT)
def _rs_hurst(x, sizes, log_ers):
    """Corrected rescaled-range Hurst exponent of the increments ``x``: average R/S over
    non-overlapping blocks of each size n, then H = 0.5 + slope of
    log(R/S) - log(E[R/S]) on log n (Anis & Lloyd 1976, Peters 1994): removes the small-n bias
    of the plain R/S slope.  Never returns 2H (one of the seed's mistakes)."""
    total = x.shape[0]
    k = sizes.shape[0]
    lx = np.empty(k)
    ly = np.empty(k)
    used = 0
    for j in range(k):
        n = sizes[j]
        blocks = total // n
        if blocks < 1 or n < 8:
            continue
        acc = 0.0
        cnt = 0
        for b in range(blocks):
            st = b * n
            m = 0.0
            for i in range(n):
                m += x[st + i]
            m /= n
            cum = 0.0
            mx = 0.0
            mn = 0.0
            ss = 0.0
            for i in range(n):
                d = x[st + i] - m
                cum += d
                mx = max(mx, cum)
                mn = min(mn, cum)
                ss += d * d
            sd = math.sqrt(ss / n)
            if sd > 0:
                acc += (mx - mn) / sd
                cnt += 1
        if cnt == 0:
            continue
        rs = acc / cnt
        lx[used] = math.log(n)
        ly[used] = math.log(rs) - log_ers[j]
        used += 1
    if used < 2:
        return np.nan
    return 0.5 + _slope(lx, ly, used)


@njit(**JIT)
def higuchi_fd(x, kmax):
    """Higuchi (1988) fractal dimension of the curve ``x``: a straight line gives 1, white
    noise close to 2.  D = -slope of log L(k) on log k, k = 1..kmax."""
    n = x.shape[0]
    lx = np.empty(kmax)
    ly = np.empty(kmax)
    used = 0
    for k in range(1, kmax + 1):
        lk = 0.0
        cnt = 0
        for m in range(k):
            steps = (n - 1 - m) // k
            if steps < 1:
                continue
            s = 0.0
            for i in range(1, steps + 1):
                s += abs(x[m + i * k] - x[m + (i - 1) * k])
            lk += s * (n - 1) / (steps * k) / k
            cnt += 1
        if cnt == 0 or lk <= 0:
            continue
        lx[used] = math.log(k)
        ly[used] = math.log(lk / cnt)
        used += 1
    if used < 2:
        return np.nan
    return -_slope(lx, ly, used)


# what the one rolling loop computes on each window (a compile-time switch inside the kernel)
_DFA, _RS, _HIGUCHI = 0, 1, 2


@njit(**JIT)
def _rolling_measure(x, w, kind, params):
    """The one rolling loop of the fractal measures: ``out[t]`` = the measure of the window
    ``x[t-w+1 .. t]`` (NaN if it holds a NaN or t < w-1).  ``kind`` picks the measure and
    ``params`` its integer parameters: DFA scales, R/S block sizes, or ``[kmax]`` for Higuchi.
    (Written by hand: numba cannot cache a kernel that takes another jitted function as an
    argument, so the measure is chosen by a switch; pandas' rolling().apply would call back into
    Python per window.)"""
    n = x.shape[0]
    out = np.full(n, np.nan)
    log_ers = _log_expected_rs(params) if kind == _RS else np.empty(0)
    for t in range(w - 1, n):
        win = x[t - w + 1:t + 1]
        if np.isnan(win).any():
            continue
        if kind == _DFA:
            out[t] = dfa_exponent(win, params)
        elif kind == _RS:
            out[t] = _rs_hurst(win, params, log_ers)
        else:
            out[t] = higuchi_fd(win, params[0])
    return out


@njit(**JIT)
def _rolling_rank_pct(x, w):
    """Fraction of the last ``w`` values (current included) that are <= the current one."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(w - 1, n):
        v = x[t]
        if np.isnan(v):
            continue
        le = 0
        cnt = 0
        for i in range(t - w + 1, t + 1):
            u = x[i]
            if not np.isnan(u):
                cnt += 1
                if u <= v:
                    le += 1
        if cnt >= w // 2:
            out[t] = le / cnt
    return out


@njit(**JIT)
def _window_mean_std(x, w):
    n = x.shape[0]
    mean = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    for t in range(w - 1, n):
        m = 0.0
        for i in range(t - w + 1, t + 1):
            m += x[i]
        m /= w
        if np.isnan(m):
            continue
        v = 0.0
        for i in range(t - w + 1, t + 1):
            d = x[i] - m
            v += d * d
        mean[t] = m
        sd[t] = math.sqrt(v / w)
    return mean, sd


@njit(**JIT)
def _window_skew_kurt(x, w):
    n = x.shape[0]
    skew = np.full(n, np.nan)
    kurt = np.full(n, np.nan)
    for t in range(w - 1, n):
        m = 0.0
        for i in range(t - w + 1, t + 1):
            m += x[i]
        m /= w
        if np.isnan(m):
            continue
        m2 = 0.0
        m3 = 0.0
        m4 = 0.0
        for i in range(t - w + 1, t + 1):
            d = x[i] - m
            d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        m2 /= w
        m3 /= w
        m4 /= w
        if m2 > 0:
            skew[t] = m3 / m2 ** 1.5
            kurt[t] = m4 / (m2 * m2) - 3.0
    return skew, kurt


@njit(**JIT)
def _rolling_pattern_entropy(codes, k, w, start):
    """Normalised Shannon entropy of the counts of codes (0..k-1, -1 = none) in the last w rows."""
    n = codes.shape[0]
    out = np.full(n, np.nan)
    counts = np.zeros(k, np.int64)
    logk = math.log(k)
    for t in range(n):
        c = codes[t]
        if c >= 0:
            counts[c] += 1
        if t >= w:
            old = codes[t - w]
            if old >= 0:
                counts[old] -= 1
        if t >= start:
            h = 0.0
            for j in range(k):
                if counts[j] > 0:
                    p = counts[j] / w
                    h -= p * math.log(p)
            out[t] = h / logk
    return out


def rolling_skew_kurt(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling skewness and excess kurtosis (population moments, exact per window)."""
    return _window_skew_kurt(np.ascontiguousarray(x, dtype=np.float64), int(w))


def rolling_pattern_entropy(codes: np.ndarray, k: int, w: int, start: int) -> np.ndarray:
    return _rolling_pattern_entropy(np.ascontiguousarray(codes, dtype=np.int64), int(k), int(w), int(start))


def _rolling(x: np.ndarray, w: int, kind: int, params) -> np.ndarray:
    return _rolling_measure(np.ascontiguousarray(x, dtype=np.float64), int(w), kind, np.asarray(params, dtype=np.int64))


def rolling_dfa(x: np.ndarray, w: int, scales=(8, 16, 32, 64)) -> np.ndarray:
    """Rolling DFA-1 Hurst exponent (:func:`dfa_exponent`) of the last ``w`` increments."""
    return _rolling(x, w, _DFA, scales)


def rolling_rs(x: np.ndarray, w: int, sizes=(16, 32, 64, 128)) -> np.ndarray:
    """Rolling corrected R/S Hurst exponent (:func:`rs_hurst`) of the last ``w`` increments."""
    return _rolling(x, w, _RS, sizes)


def rolling_higuchi(x: np.ndarray, w: int, kmax: int = 8) -> np.ndarray:
    """Rolling Higuchi fractal dimension (:func:`higuchi_fd`) of the last ``w`` values."""
    return _rolling(x, w, _HIGUCHI, [int(kmax)])


def rolling_rank_pct(x: np.ndarray, w: int) -> np.ndarray:
    return _rolling_rank_pct(np.ascontiguousarray(x, dtype=np.float64), int(w))


def hurst_dfa(x: np.ndarray, min_scale: int = 16, max_scale: int | None = None, n_scales: int = 12) -> float:
    """Hurst exponent of a whole series of increments by DFA-1 over log-spaced scales."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    max_scale = max_scale or len(x) // 4
    scales = np.unique(np.geomspace(min_scale, max_scale, n_scales).astype(np.int64))
    return float(dfa_exponent(x, scales))


def hurst_rs(x: np.ndarray, min_size: int | None = None, max_size: int | None = None, n_sizes: int = 12) -> float:
    """Hurst exponent of a whole series of increments by corrected R/S over log-spaced block
    sizes (default 64 .. n/16: at least 16 blocks per size keeps the average R/S stable)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    max_size = max_size or max(len(x) // 16, 16)
    min_size = min_size or min(64, max(8, max_size // 8))
    sizes = np.unique(np.geomspace(min_size, max_size, n_sizes).astype(np.int64))
    return float(rs_hurst(x, sizes))


def katz_fd(x: np.ndarray) -> float:
    """Katz (1988) fractal dimension of a whole curve (as in the antropy package):
    L = total length, a = mean step, d = largest distance from the first point;
    D = log10(L/a) / (log10(d/L) + log10(L/a)).  A straight line gives 1."""
    x = np.asarray(x, dtype=np.float64)
    steps = np.abs(np.diff(x))
    total = steps.sum()
    d = np.max(np.abs(x[1:] - x[0]))
    ln = np.log10(total / steps.mean())
    return float(ln / (np.log10(d / total) + ln))
