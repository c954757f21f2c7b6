"""Cross-asset features on shared timestamps: alignment across symbols with gaps, the sector
mean excluding the symbol itself, ranks, BTC from the workspace when it is not in the set."""
import math

import numpy as np
import pandas as pd
import pytest

from engine.features.context import Universe
from engine.features.families import cross_asset
from tests.features.conftest import make_bars

T0 = "2026-01-01"


def bars_with(close, drop=(), symbol="X"):
    ts = pd.date_range(T0, periods=len(close), freq="15min", tz="UTC")
    keep = np.setdiff1d(np.arange(len(close)), drop)
    return make_bars(np.asarray(close, dtype=float)[keep], timestamps=ts[keep], symbol=symbol)


def test_alignment_by_timestamp_across_symbols_with_gaps(cfg):
    n = 200
    rng = np.random.default_rng(0)
    btc_c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    eth_c = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    sol_c = 20 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    btc = bars_with(btc_c, drop=[100, 101], symbol="BTCUSDT")  # BTC misses two bars
    eth = bars_with(eth_c, drop=[150], symbol="ETHUSDT")  # ETH misses one
    sol = bars_with(sol_c, symbol="SOLUSDT")
    u = Universe.build({"BTCUSDT": btc, "ETHUSDT": eth, "SOLUSDT": sol}, "15m", "BTCUSDT", {},
                       {"BTCUSDT": "Majors", "ETHUSDT": "L1", "SOLUSDT": "L1"})
    out = cross_asset.compute(u, cfg)
    e = out["ETHUSDT"]
    assert len(e["btc_ret_1"]) == len(eth)  # values on ETH's own rows
    eth_rows = np.setdiff1d(np.arange(n), [150])
    for row, g in enumerate(eth_rows):
        want = math.log(btc_c[g] / btc_c[g - 1]) if g >= 1 and g not in (100, 101, 102) else math.nan
        got = e["btc_ret_1"][row]
        assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want), (row, g)
    # the SOL row right after ETH's gap: ETH's 1-bar return at 151 needs bar 150 -> NaN, not the 2-bar move
    s = out["SOLUSDT"]
    assert math.isnan(s["sector_mean_ret_1"][151]) and s["sector_mean_ret_1"][152] == pytest.approx(
        math.log(eth_c[152] / eth_c[151]))
    # the 16-bar relative strength uses the same timestamps on both sides
    g = 170
    assert s["rel_strength_btc_16"][g] == pytest.approx(math.log(sol_c[g] / sol_c[g - 16]) - math.log(btc_c[g] / btc_c[g - 16]))


def test_sector_mean_excludes_the_symbol_itself_and_falls_back_to_the_set(cfg):
    n = 60
    ts_close = {s: 10 * np.exp(np.cumsum(np.random.default_rng(i).normal(0, 0.01, n)))
                for i, s in enumerate(["ETHUSDT", "SOLUSDT", "ADAUSDT", "DOGEUSDT"])}
    bars = {s: bars_with(c, symbol=s) for s, c in ts_close.items()}
    sectors = {"ETHUSDT": "L1", "SOLUSDT": "L1", "ADAUSDT": "L1", "DOGEUSDT": "Meme"}
    u = Universe.build(bars, "15m", None, {}, sectors)
    out = cross_asset.compute(u, cfg)
    r = {s: np.log(c[1:] / c[:-1]) for s, c in ts_close.items()}
    t = 30
    assert out["ETHUSDT"]["sector_mean_ret_1"][t] == pytest.approx((r["SOLUSDT"][t - 1] + r["ADAUSDT"][t - 1]) / 2)
    # DOGE has no sector peer in the set: the mean of the other symbols, still excluding itself
    assert out["DOGEUSDT"]["sector_mean_ret_1"][t] == pytest.approx(np.mean([r[s][t - 1] for s in ("ETHUSDT", "SOLUSDT", "ADAUSDT")]))
    assert out["ETHUSDT"]["market_mean_ret_1"][t] == pytest.approx(np.mean([r[s][t - 1] for s in ("SOLUSDT", "ADAUSDT", "DOGEUSDT")]))
    assert "btc_corr_32" not in out["ETHUSDT"]  # no BTC in the set or the workspace
    r16 = {s: math.log(c[t] / c[t - 16]) for s, c in ts_close.items()}
    order = sorted(r16, key=r16.get)
    for s in ts_close:
        assert out[s]["xs_rank_ret_16"][t] == pytest.approx(order.index(s) / 3)
    assert out["ETHUSDT"]["xs_dispersion_16"][t] == pytest.approx(np.std(list(r16.values())))


def test_btc_beta_and_correlation(cfg):
    n = 400
    rng = np.random.default_rng(3)
    rb = rng.normal(0, 0.01, n)
    ra = 1.5 * rb + rng.normal(0, 0.002, n)
    btc = bars_with(100 * np.exp(np.cumsum(rb)), symbol="BTCUSDT")
    alt = bars_with(10 * np.exp(np.cumsum(ra)), symbol="AVAXUSDT")
    u = Universe.build({"AVAXUSDT": alt}, "15m", "BTCUSDT", {"BTCUSDT": btc}, {})
    out = cross_asset.compute(u, cfg)["AVAXUSDT"]
    t = 300
    x, y = rb[t - 95:t + 1], ra[t - 95:t + 1]
    assert out["btc_beta_96"][t] == pytest.approx(np.cov(x, y, ddof=0)[0, 1] / np.var(x), rel=1e-6)
    assert out["btc_corr_96"][t] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-6)
    assert "xs_rank_ret_16" not in out  # one symbol: no universe features


def test_build_loads_btc_from_the_workspace_when_not_selected(sample_ws):
    from engine.features.pipeline import plan_build

    plan = plan_build(sample_ws, ["ETHUSDT"], "15m", families=["cross_asset"], start="2026-02-01")
    assert "BTCUSDT" in plan.reference and "ohlcv-BTCUSDT-15m" in plan.parents
    names = plan.feature_names
    assert "btc_corr_96" in names and "xs_rank_ret_16" not in names
    assert plan.skipped["xs_rank_ret_16"] == "needs universe"
