"""Selection-bias corrections (engine/stats/selection.py) against published figures: the deflated
Sharpe ratio's numerical example of Bailey & Lopez de Prado (2014) and the output of the pypbo
reference implementation of CSCV / PBO on fixed matrices."""
from __future__ import annotations

import math

import numpy as np
import pytest

from config.errors import BadInput
from engine.stats.selection import (
    best_index,
    deflated_sharpe,
    expected_max_sharpe,
    metric_direction,
    pbo_cscv,
    per_period_sharpe,
    probabilistic_sharpe,
)


def test_dsr_matches_the_papers_numerical_example():
    # Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", section "A numerical example": N = 100
    # trials, V[SR_n] = 1/2 annualised, 5 years of daily returns (T = 1,250, 250 a year), best annualised
    # SR 2.5, skewness -3, kurtosis 10 -> E[max SR] = 0.1132 (per day) and DSR = 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, sr0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    # pypbo's dsr() (esvhd/pypbo, pbo.py) is the same formula: sharpe_std * expected_max(N) as the target
    assert probabilistic_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 0.0) > dsr  # deflation lowers it


def test_deflated_sharpe_from_returns_uses_per_period_moments():
    rng = np.random.default_rng(3)
    r = rng.standard_t(5, 2000) * 0.01 + 0.002
    trials = np.r_[per_period_sharpe(r), rng.normal(0, 0.03, 49)]
    d = deflated_sharpe(r, trials)
    assert d["n_trials"] == 50 and d["bars"] == 2000
    assert d["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1))
    assert d["sharpe_variance"] == pytest.approx(np.var(trials, ddof=1))
    assert d["kurtosis"] > 3.5  # Pearson kurtosis of a t(5): fat tails
    expect = probabilistic_sharpe(d["sharpe"], 2000, d["skewness"], d["kurtosis"], expected_max_sharpe(50, d["sharpe_variance"]))
    assert d["value"] == pytest.approx(expect) and 0 <= d["value"] <= 1
    flat = deflated_sharpe(np.zeros(100), trials)  # a configuration that never moves has no Sharpe
    assert flat["value"] is None and "never vary" in flat["reason"]
    one = deflated_sharpe(r, per_period_sharpe(r))  # a single trial: PSR against 0
    assert one["sr0"] == 0.0 and one["value"] == pytest.approx(probabilistic_sharpe(one["sharpe"], 2000, one["skewness"],
                                                                                    one["kurtosis"], 0.0))


# Figures produced by pypbo's pbo() (github.com/esvhd/pypbo, pypbo/pbo.py at 12fc196, the non-parallel path,
# metric_func = mean / std(ddof=1), threshold 0) on the same matrices: (pbo, mean logit, median logit,
# probability of an out-of-sample loss).
PYPBO_CASES = {
    "noise_200x40_S4": (0.5, 0.07040244440365635, 0.0, 0.5, 6),
    "skill_1003x25_S8": (0.0, 3.2188758248682023, 3.2188758248682015, 0.0, 70),
    "noise_330x12_S16": (0.6812742812742812, -0.5162059406226908, -0.47000362924573547, 0.401010101010101, 12870),
}


def _case(name: str) -> tuple[np.ndarray, int]:
    if name == "noise_200x40_S4":
        return np.random.default_rng(852).normal(0, 1, (200, 40)), 4
    if name == "skill_1003x25_S8":  # 1003 rows: the first 3 are dropped (T mod S)
        m = np.random.default_rng(7).normal(0, 0.01, (1003, 25))
        m[:, :5] += np.linspace(0.0, 0.004, 5)
        return m, 8
    return np.random.default_rng(11).normal(0.0002, 0.01, (330, 12)), 16


@pytest.mark.parametrize("name", list(PYPBO_CASES))
def test_pbo_matches_the_pypbo_reference_output(name):
    m, s = _case(name)
    pbo, mean_logit, median_logit, oos_loss, combos = PYPBO_CASES[name]
    r = pbo_cscv(m, s)
    assert r["value"] == pytest.approx(pbo, abs=1e-12)
    assert r["combinations"] == combos == math.comb(s, s // 2)
    assert r["logits"]["mean"] == pytest.approx(mean_logit, abs=1e-9)
    assert r["logits"]["median"] == pytest.approx(median_logit, abs=1e-9)
    assert r["oos_loss_probability"] == pytest.approx(oos_loss, abs=1e-12)
    assert r["block_bars"] == len(m) // s


def test_pbo_of_noise_is_high_and_of_a_persistent_edge_low():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (1600, 50))
    assert pbo_cscv(noise)["value"] > 0.3
    edge = noise.copy()
    edge[:, 7] += 0.004
    assert pbo_cscv(edge)["value"] < 0.05
    assert pbo_cscv(noise[:, :1])["value"] is None  # one configuration: nothing to overfit
    assert pbo_cscv(noise[:20], 16)["value"] is None  # too few rows for 16 blocks
    with pytest.raises(BadInput, match="even number"):
        pbo_cscv(noise, 5)


def test_metric_directions_and_best_index():
    assert metric_direction("sharpe") == "max" and metric_direction("fees_paid") == "min"
    assert metric_direction("max_drawdown") == "max"  # negative: closer to 0 is better
    assert metric_direction("max_drawdown_duration_days") == "min"
    with pytest.raises(BadInput, match="no better direction"):
        metric_direction("trades")
    with pytest.raises(BadInput, match="unknown selection metric"):
        metric_direction("nonsense")
    v = [3.0, np.nan, 1.0, 2.0]
    assert best_index(v, "max") == 0 and best_index(v, "min") == 2
    assert best_index(v, "min", eligible=[True, True, False, True]) == 3
    assert best_index([np.nan, np.inf], "max") is None
