"""Confidence intervals that respect autocorrelation: the stationary block bootstrap.

Method (the one used for every CI KlineLab shows):
- **Stationary bootstrap** (Politis & Romano 1994): a resample is built from blocks that start at
  uniformly random positions and have geometric lengths with mean ``b``; blocks wrap around the end
  (circularly), so every observation is equally likely to appear.
- **Block length rule**: Politis & White (2004) automatic block length with the Patton, Politis &
  White (2009) correction, as computed by ``arch.bootstrap.optimal_block_length`` (the well-kept
  reference implementation), rounded up and kept in [1, n / 4].
- **Resamples**: 1,000 by default; **seed** 0 by default, so reruns of the same data agree.
- **Interval**: the percentile interval (2.5 %, 97.5 % quantiles of the statistic over resamples).

The index generator is written by hand (a small numba kernel): ``arch``'s ``StationaryBootstrap``
draws indices in a Python loop per resample and keeps no statistic-batched API, which made 1,000
resamples of 35,040 bars take seconds; the kernel below draws the same distribution of indices and
the statistics are computed on chunks of resamples at once with NumPy.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

N_RESAMPLES = 1000
SEED = 0
ALPHA = 0.05
METHOD = "stationary block bootstrap (Politis & Romano 1994)"
BLOCK_RULE = "Politis & White (2004) automatic block length, arch.bootstrap.optimal_block_length"
_CHUNK_CELLS = 4_000_000  # index cells per chunk (int32: 16 MB)

Statistic = Callable[[np.ndarray], np.ndarray]  # (resamples, n) -> (resamples,)


@dataclass(frozen=True)
class BootstrapSpec:
    n_resamples: int = N_RESAMPLES
    seed: int = SEED
    alpha: float = ALPHA

    def describe(self, block_length: float, n: int) -> dict:
        return {"method": METHOD, "block_length_rule": BLOCK_RULE, "block_length": round(float(block_length), 3),
                "resamples": self.n_resamples, "seed": self.seed, "confidence": 1 - self.alpha, "n": int(n),
                "interval": "percentile"}


def block_length(x: np.ndarray) -> float:
    """Politis-White stationary-bootstrap block length of ``x`` (at least 1, at most n / 4)."""
    x = np.asarray(x, dtype="float64")
    n = len(x)
    if n < 8 or not np.isfinite(x).all() or np.std(x) == 0:
        return 1.0
    from arch.bootstrap import optimal_block_length

    b = float(optimal_block_length(x)["stationary"].iloc[0])
    if not math.isfinite(b):
        return 1.0
    return float(min(max(b, 1.0), max(1.0, n / 4)))


@numba.njit(cache=True)
def _stationary_indices(n: int, p: float, resamples: int, seed: int) -> np.ndarray:
    # numba's own generator, seeded here, so a given (seed, chunk) always gives the same indices;
    # blocks of geometric length (mean 1/p) from uniform starts, wrapping at the end
    np.random.seed(seed)
    out = np.empty((resamples, n), dtype=np.int32)
    for r in range(resamples):
        t = 0
        while t < n:
            idx = np.random.randint(0, n)
            length = np.random.geometric(p)
            length = min(length, n - t)
            for _ in range(length):
                out[r, t] = idx
                t += 1
                idx += 1
                if idx >= n:
                    idx = 0
    return out


@numba.njit(cache=True)
def _stationary_sums(f: np.ndarray, p: float, resamples: int, seed: int) -> np.ndarray:
    # the same resampling as _stationary_indices (the same random numbers in the same order for a seed),
    # adding up the rows of a small (n, m) matrix per resample instead of materialising the indices
    np.random.seed(seed)
    n, m = f.shape
    out = np.zeros((resamples, m))
    for r in range(resamples):
        t = 0
        while t < n:
            idx = np.random.randint(0, n)
            length = min(np.random.geometric(p), n - t)
            for _ in range(length):
                for j in range(m):
                    out[r, j] += f[idx, j]
                idx += 1
                if idx >= n:
                    idx = 0
            t += length
    return out


def stationary_sums(f: np.ndarray, b: float, resamples: int, seed: int) -> np.ndarray:
    """(resamples, m) column sums of stationary-bootstrap resamples of the rows of ``f`` (n, m)."""
    return _stationary_sums(np.ascontiguousarray(f, dtype=np.float64), 1.0 / max(float(b), 1.0), resamples, seed)


def stationary_indices(n: int, b: float, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) int32 indices of stationary-bootstrap resamples with mean block length ``b``."""
    return _stationary_indices(n, 1.0 / max(float(b), 1.0), resamples, seed)


def bootstrap_ci(x: np.ndarray, statistics: dict[str, Statistic], *, spec: BootstrapSpec = BootstrapSpec(),
                 b: float | None = None) -> tuple[dict[str, list[float | None]], dict]:
    """Percentile CIs of several statistics of one series, from the same stationary-bootstrap resamples.

    ``statistics`` maps a name to a function taking a (resamples, n) array of resampled series and
    returning one value per resample (NaN where undefined: those resamples are left out; a CI with fewer
    than half the resamples defined is None). Returns ({name: [lo, hi] | None}, description)."""
    x = np.asarray(x, dtype="float64")
    n = len(x)
    if n < 2:
        return {k: None for k in statistics}, spec.describe(1.0, n)
    if b is None:
        b = block_length(x)
    values = {k: [] for k in statistics}
    chunk = max(1, min(spec.n_resamples, _CHUNK_CELLS // n))
    done = 0
    while done < spec.n_resamples:
        r = min(chunk, spec.n_resamples - done)
        sample = x[stationary_indices(n, b, r, spec.seed * 1_000_003 + done)]
        for k, fn in statistics.items():
            values[k].append(np.asarray(fn(sample), dtype="float64"))
        done += r
    out: dict[str, list[float | None] | None] = {}
    for k, parts in values.items():
        v = np.concatenate(parts)
        v = v[np.isfinite(v)]
        if len(v) < spec.n_resamples / 2:
            out[k] = None
            continue
        lo, hi = np.quantile(v, [spec.alpha / 2, 1 - spec.alpha / 2])
        out[k] = [float(lo), float(hi)]
    return out, spec.describe(b, n)


def returns_ci(r: np.ndarray, periods_per_year: float | None = None, *, spec: BootstrapSpec = BootstrapSpec(),
               b: float | None = None) -> tuple[dict[str, list[float] | None], dict]:
    """CIs of the Sharpe ratio (annualised when ``periods_per_year`` is given) and the compounded total
    return of a per-period simple-return series; the same resampling as ``bootstrap_ci``, computed from
    per-resample moments so a year of 15m bars takes a fraction of a second."""
    r = np.asarray(r, dtype="float64")
    n = len(r)
    if n < 3 or not np.isfinite(r).all() or (r <= -1).any():
        return {"sharpe": None, "total_return": None}, spec.describe(1.0, n)
    if b is None:
        b = block_length(r)
    m = stationary_sums(np.column_stack([r, r * r, np.log1p(r)]), b, spec.n_resamples, spec.seed)
    mean = m[:, 0] / n
    var = (m[:, 1] - n * mean**2) / (n - 1)
    sd = np.sqrt(np.maximum(var, 0.0))
    scale = math.sqrt(periods_per_year) if periods_per_year else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(sd > 1e-15, mean / sd * scale, np.nan)
    total = np.expm1(m[:, 2])
    q = [spec.alpha / 2, 1 - spec.alpha / 2]
    out: dict[str, list[float] | None] = {}
    for k, v in (("sharpe", sharpe), ("total_return", total)):
        v = v[np.isfinite(v)]
        out[k] = [float(a) for a in np.quantile(v, q)] if len(v) >= spec.n_resamples / 2 else None
    return out, spec.describe(b, n)


# --- statistics over the last axis (resamples, n) ---------------------------------------------------------

def sharpe_stat(periods_per_year: float | None = None) -> Statistic:
    """Sharpe ratio of per-period returns (annualised when ``periods_per_year`` is given)."""
    scale = math.sqrt(periods_per_year) if periods_per_year else 1.0

    def f(s: np.ndarray) -> np.ndarray:
        sd = s.std(axis=-1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 0, s.mean(axis=-1) / sd * scale, np.nan)
    return f


def profit_factor_stat(s: np.ndarray) -> np.ndarray:
    """Pooled profit factor of per-trade P&L: total gains / total losses (NaN without losses)."""
    gains = np.where(s > 0, s, 0.0).sum(axis=-1)
    losses = -np.where(s < 0, s, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(losses > 0, gains / losses, np.nan)


def win_rate_stat(s: np.ndarray) -> np.ndarray:
    """Share of positive values (wins / trades)."""
    return (s > 0).mean(axis=-1)


def mean_stat(s: np.ndarray) -> np.ndarray:
    """Mean (e.g. of 0/1 correctness indicators: accuracy)."""
    return s.mean(axis=-1)
