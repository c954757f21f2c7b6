"""Selection-bias corrections for any search over strategy configurations (backtest sweeps now,
a future Optuna tuner too): which way a metric is better, the deflated Sharpe ratio of the chosen
configuration, and the probability of backtest overfitting by CSCV.

* **Metric direction** (:data:`METRIC_DIRECTION`): the one table saying whether a metric is
  maximised or minimised. ``max_drawdown`` is stored negative (-0.2 = a 20 % drawdown), so "max"
  picks the shallowest drawdown; fees, slippage, funding paid and drawdown durations are minimised.
* **Deflated Sharpe ratio** (Bailey & Lopez de Prado 2014, "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", J. Portfolio Management 40(5), eq. 2 and the
  expected maximum of N trials):
      SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e))),  g = Euler-Mascheroni
      DSR = Z( (SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2) )
  with per-period (not annualised) Sharpe ratios, N = the number of trials (cells that traded), V
  the variance of their per-period Sharpe ratios, skew and (Pearson, non-excess) kurtosis of the
  chosen configuration's T per-period returns.  With a single trial there is no selection:
  SR0 = 0 and the figure is the plain probabilistic Sharpe ratio against zero.
* **PBO** (Bailey, Borwein, Lopez de Prado & Zhu 2017, "The Probability of Backtest Overfitting",
  J. Computational Finance 20(4)): the (T x N) per-period returns are cut into S equal blocks in
  time (the first T mod S rows are dropped, as in the pypbo reference implementation); for every
  one of the C(S, S/2) ways to pick S/2 blocks as in-sample (the rest out-of-sample), the
  configuration with the best in-sample Sharpe is found, its out-of-sample rank r among the N
  (average rank for ties) gives w = r / (N + 1) and the logit l = ln(w / (1 - w)); PBO = the share
  of combinations with l <= 0 (the in-sample winner is at or below the out-of-sample median).

Written by hand (numpy / scipy only): no well-kept Python library offers these.  The CSCV loop is
vectorised: per-block sums and sums of squares are computed once, every combination's in- and
out-of-sample Sharpe ratios come from one matrix product of the block-membership masks, so
12,870 combinations x 1,000 configurations take well under a second.  Both estimators are tested
against published figures (tests/stats/test_selection.py).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats

from config.errors import BadInput

# "max": higher is better; "min": lower is better; metrics without a direction cannot select
METRIC_DIRECTION: dict[str, str] = {
    "total_return": "max", "cagr": "max", "sharpe": "max", "sortino": "max", "calmar": "max",
    "max_drawdown": "max",  # negative fractions: closer to 0 (a shallower drawdown) is better
    "max_drawdown_duration_bars": "min", "max_drawdown_duration_days": "min",
    "win_rate": "max", "profit_factor": "max", "expectancy": "max", "avg_trade_return": "max",
    "fees_paid": "min", "slippage_paid": "min", "funding_paid": "min", "final_value": "max",
    "excess_return": "max",
    # training-style metrics a future tuner may select on
    "accuracy": "max", "macro_f1": "max", "loss": "min", "val_loss": "min",
}
NO_DIRECTION = ("trades", "closed_trades", "open_trades", "exposure", "buy_and_hold_return")
EULER_GAMMA = 0.5772156649015329
DEFAULT_BLOCKS = 16
MAX_COMBINATIONS = 200_000
DSR_METHOD = ("deflated Sharpe ratio (Bailey & Lopez de Prado 2014): probabilistic Sharpe ratio of the chosen "
              "configuration's per-period returns against the expected maximum Sharpe ratio of N zero-skill trials")
PBO_METHOD = ("probability of backtest overfitting by combinatorially symmetric cross-validation "
              "(Bailey, Borwein, Lopez de Prado & Zhu 2017), per-period Sharpe ratio as the performance measure")


def metric_direction(metric: str) -> str:
    """"max" or "min" for a selectable metric; BadInput for one without a better direction."""
    if metric in METRIC_DIRECTION:
        return METRIC_DIRECTION[metric]
    if metric in NO_DIRECTION:
        raise BadInput(f"{metric} has no better direction and cannot pick a best cell",
                       hint="rank by sharpe, total_return, max_drawdown, fees_paid, ... (see docs/CONTRACTS.md)")
    raise BadInput(f"unknown selection metric {metric!r}", hint=f"use one of {', '.join(METRIC_DIRECTION)}")


def best_index(values, direction: str, eligible=None) -> int | None:
    """Position of the best finite value ("max" / "min") among ``eligible`` positions; None when none."""
    v = np.asarray(values, dtype="float64")
    ok = np.isfinite(v) if eligible is None else (np.isfinite(v) & np.asarray(eligible, dtype=bool))
    if not ok.any():
        return None
    masked = np.where(ok, v if direction == "max" else -v, -np.inf)
    return int(np.argmax(masked))


def per_period_sharpe(returns: np.ndarray) -> np.ndarray:
    """mean / std (ddof 1) of each column of (T, N) per-period returns; 0 where a column never moves."""
    r = np.asarray(returns, dtype="float64")
    if r.ndim == 1:
        r = r[:, None]
    mean = r.mean(axis=0)
    sd = r.std(axis=0, ddof=1) if len(r) > 1 else np.zeros(r.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 1e-15, mean / sd, 0.0)


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """E[max SR] of ``n_trials`` zero-skill trials whose Sharpe ratios have ``variance`` (2014 paper)."""
    if n_trials <= 1 or variance <= 0:
        return 0.0
    z = stats.norm.ppf
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * z(1 - 1 / n_trials) + EULER_GAMMA * z(1 - 1 / (n_trials * math.e)))


def probabilistic_sharpe(sr: float, t: int, skew: float, kurtosis: float, benchmark: float = 0.0) -> float | None:
    """P(true SR > benchmark) given an observed per-period ``sr`` over ``t`` periods (Pearson kurtosis)."""
    denom = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if t < 2 or not all(map(math.isfinite, (sr, skew, kurtosis, benchmark))) or denom <= 0:
        return None
    return float(stats.norm.cdf((sr - benchmark) * math.sqrt(t - 1) / math.sqrt(denom)))


def deflated_sharpe(chosen_returns: np.ndarray, trial_sharpes: np.ndarray, n_trials: int | None = None) -> dict:
    """DSR of the chosen configuration; ``trial_sharpes``: per-period Sharpe ratios of the N trials whose
    Sharpe is defined (the chosen one included); ``n_trials``: N when more were tried than have a Sharpe
    (e.g. a sweep's cells that wiped out the account: tried, but with no Sharpe to enter the variance).
    Returns {value (None when undefined), inputs..., method}."""
    r = np.asarray(chosen_returns, dtype="float64")
    sr_n = np.asarray(trial_sharpes, dtype="float64")
    sr_n = sr_n[np.isfinite(sr_n)]
    n, t = max(len(sr_n), int(n_trials or 0)), len(r)
    out = {"value": None, "sharpe": None, "sr0": None, "n_trials": int(n), "sharpe_variance": None, "skewness": None,
           "kurtosis": None, "bars": int(t), "method": DSR_METHOD,
           "note": "per-period (not annualised) Sharpe ratios; kurtosis is Pearson's (3 for a normal distribution)"}
    if t < 3 or n < 1 or not np.isfinite(r).all() or r.std() <= 1e-15:
        out["reason"] = "the chosen configuration's returns never vary (or fewer than 3 periods)"
        return out
    sr = float(per_period_sharpe(r)[0])
    var = float(np.var(sr_n, ddof=1)) if len(sr_n) > 1 else 0.0
    skew = float(stats.skew(r, bias=False))
    kurt = float(stats.kurtosis(r, fisher=False, bias=False))
    sr0 = expected_max_sharpe(n, var)
    out.update({"sharpe": sr, "sr0": float(sr0), "sharpe_variance": var, "skewness": skew, "kurtosis": kurt,
                "value": probabilistic_sharpe(sr, t, skew, kurt, sr0)})
    if n == 1:
        out["note"] += "; a single trial: no selection, the figure is the probabilistic Sharpe ratio against 0"
    return out


def _rank_in_rows(values: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """Average rank (1 = lowest, scipy.stats.rankdata 'average') of values[i, pick[i]] within row i."""
    v = values[np.arange(len(values)), pick][:, None]
    less = (values < v).sum(axis=1)
    equal = (values == v).sum(axis=1)
    return less + (equal + 1) / 2.0


def pbo_cscv(returns: np.ndarray, blocks: int = DEFAULT_BLOCKS) -> dict:
    """PBO of choosing the best-Sharpe column of (T, N) per-period ``returns`` (see the module doc).
    Returns {value (None when undefined), combinations, blocks, block_bars, n_configurations, logits
    summary, oos_loss_probability, method}."""
    r = np.asarray(returns, dtype="float64")
    if blocks < 2 or blocks % 2:
        raise BadInput(f"the PBO needs an even number of blocks >= 2, got {blocks}", hint="16 is the paper's choice")
    n_comb = math.comb(blocks, blocks // 2)
    if n_comb > MAX_COMBINATIONS:
        raise BadInput(f"{blocks} PBO blocks make {n_comb:,} combinations (at most {MAX_COMBINATIONS:,})",
                       hint="use 16 blocks or fewer")
    out = {"value": None, "blocks": int(blocks), "combinations": int(n_comb), "block_bars": None,
           "n_configurations": int(r.shape[1]) if r.ndim == 2 else 0, "logits": None,
           "oos_loss_probability": None, "method": PBO_METHOD}
    if r.ndim != 2 or r.shape[1] < 2:
        out["reason"] = "fewer than 2 configurations traded: there is no selection to overfit"
        return out
    t, n = r.shape
    size = t // blocks
    if size < 2:
        out["reason"] = f"{t} periods are too few for {blocks} blocks"
        return out
    r = r[t - size * blocks:]  # drop the first T mod S rows (pypbo does the same)
    out["block_bars"] = int(size)
    rb = r.reshape(blocks, size, n)
    s1, s2 = rb.sum(axis=1), (rb * rb).sum(axis=1)  # (blocks, N)
    tot1, tot2 = s1.sum(axis=0), s2.sum(axis=0)
    half = size * blocks // 2
    masks = np.zeros((n_comb, blocks))
    for i, c in enumerate(itertools.combinations(range(blocks), blocks // 2)):
        masks[i, list(c)] = 1.0

    def sharpe(a1, a2):
        mean = a1 / half
        var = np.maximum((a2 - half * mean**2) / (half - 1), 0.0)
        sd = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 1e-15, mean / sd, 0.0)

    logits = np.empty(n_comb)
    at_or_below = np.empty(n_comb, dtype=bool)  # w <= 1/2 (logit <= 0), compared exactly on the ranks
    oos_best = np.empty(n_comb)
    step = max(1, 4_000_000 // max(n, 1))
    for a in range(0, n_comb, step):
        m = masks[a:a + step]
        i1, i2 = m @ s1, m @ s2
        r_is, r_oos = sharpe(i1, i2), sharpe(tot1 - i1, tot2 - i2)
        star = np.argmax(r_is, axis=1)  # the first best on ties, as numpy / pypbo
        rank = _rank_in_rows(r_oos, star)
        at_or_below[a:a + step] = 2 * rank <= n + 1
        w = rank / (n + 1)
        logits[a:a + step] = np.log(w / (1 - w))
        oos_best[a:a + step] = r_oos[np.arange(len(star)), star]
    q = np.quantile(logits, [0.05, 0.25, 0.5, 0.75, 0.95])
    out.update({"value": float(at_or_below.mean()),
                "logits": {"mean": float(logits.mean()), "std": float(logits.std()), "min": float(logits.min()),
                           "q05": float(q[0]), "q25": float(q[1]), "median": float(q[2]), "q75": float(q[3]),
                           "q95": float(q[4]), "max": float(logits.max())},
                "oos_loss_probability": float((oos_best < 0).mean())})
    return out
