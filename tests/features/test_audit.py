"""Leakage audit: the whole registry (every family, optional inputs included) has zero leaks;
deliberately leaking definitions are caught."""
import numpy as np
import pandas as pd

from engine.features.audit import compare, run_audit
from engine.features.context import Bars
from engine.features.kernels import shift
from engine.features.pipeline import compute_features
from engine.features.registry import registry
from tests.features.conftest import real_bars

N = 2500


def _full_input_bars() -> dict[str, Bars]:
    f = pd.read_parquet("engine/data/sample/BTC_USDT_USDT-1h-funding_rate.parquet")
    fund = pd.DataFrame({"timestamp": f["date"].astype("int64").to_numpy(), "funding_rate": f["open"].to_numpy()})
    out = {}
    for i, s in enumerate(["BTCUSDT", "ETHUSDT", "SOLUSDT"]):
        b = real_bars(s, N)
        rng = np.random.default_rng(i)
        b.optional["taker_buy_base"] = b.volume * rng.uniform(0.3, 0.7, len(b))
        b.optional["trades"] = np.maximum(1.0, np.round(b.volume * 7))
        b.funding = fund
        out[s] = b
    return out


def test_the_whole_registry_has_zero_leaks(cfg):
    bars = _full_input_bars()
    feats = list(registry().features.values())
    assert all(f.available(set.intersection(*(b.inputs() for b in bars.values())) | {"btc", "universe"}) for f in feats)

    def compute(b):
        return compute_features(b, {}, "15m", feats, cfg)

    res = run_audit(compute, bars, window=N, cut_fractions=(0.45, 0.7, 0.93), rtol=cfg.audit_rtol, atol=cfg.audit_atol)
    assert len(res.features) == len(registry()) >= 150
    assert res.leaking == [], res.leaking
    assert len(res.cut_points) == 3
    assert all(s["compared_values"] > 0 for s in res.features.values())


def test_leaking_definitions_are_flagged(cfg):
    bars = {"BTCUSDT": real_bars("BTCUSDT", 1200)}

    def compute(b):
        out = {}
        for s, x in b.items():
            c = x.close
            out[s] = {
                "honest_sma_10": pd.Series(c).rolling(10).mean().to_numpy(),
                "centered_mean_11": pd.Series(c).rolling(11, center=True).mean().to_numpy(),  # uses 5 future bars
                "chikou_span": shift(c, -26) / c - 1,  # Ichimoku's lagging line: the close 26 bars ahead
                "full_series_z": (c - c.mean()) / c.std(),  # normalised with statistics of the whole series
            }
        return out

    res = run_audit(compute, bars, window=1200, cut_fractions=(0.5, 0.8), rtol=1e-9, atol=1e-12)
    assert set(res.leaking) == {"centered_mean_11", "chikou_span", "full_series_z"}
    assert res.features["honest_sma_10"]["differing_values"] == 0
    assert res.features["chikou_span"]["max_abs_diff"] == float("inf")  # NaN on one side
    assert not res.passed and res.summary()["n_leaking"] == 3


def test_compare_counts_nan_mismatches_and_tolerates_nothing_else():
    a = np.array([1.0, 2.0, np.nan, 4.0])
    assert compare(a, a.copy(), 1e-9, 1e-12) == (0.0, 0)
    b = a.copy()
    b[1] = 2.0 + 1e-6
    d, n = compare(a, b, 1e-9, 1e-12)
    assert n == 1 and abs(d - 1e-6) < 1e-12
    b = a.copy()
    b[2] = 3.0
    assert compare(a, b, 1e-9, 1e-12)[1] == 1
