"""Indicator values: TA-Lib's where the indicator is TA-Lib's; custom ones against values
computed by hand (plain Python) on small inputs."""
import math

import numpy as np
import pandas as pd
import pytest
import talib

from engine.features.families import funding, microstructure, momentum, returns, time, trend, volatility, volume
from tests.features.conftest import make_bars, real_bars


@pytest.fixture(scope="module")
def btc():
    return real_bars("BTCUSDT", 1500)


def eq(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_trend_and_momentum_agree_with_talib(btc, cfg):
    h, l, c, v = btc.high, btc.low, btc.close, btc.volume
    tr, mo = trend.compute(btc, cfg), momentum.compute(btc, cfg)
    eq(tr["sma_ratio_50"], c / talib.SMA(c, 50) - 1)
    eq(tr["ema_ratio_21"], c / talib.EMA(c, 21) - 1)
    macd, _sig, hist = talib.MACD(c, 12, 26, 9)
    eq(tr["macd_pct"] * c, macd)
    eq(tr["macd_hist_pct"] * c, hist)
    eq(tr["adx_14"], talib.ADX(h, l, c, 14))
    eq(tr["minus_di_14"], talib.MINUS_DI(h, l, c, 14))
    eq(tr["aroon_osc_25"], talib.AROONOSC(h, l, 25))
    eq(tr["psar_dist"], (c - talib.SAR(h, l, 0.02, 0.2)) / c)
    eq(tr["linreg_slope_14"] * c, talib.LINEARREG_SLOPE(c, 14))
    # R^2 from slope and variances equals the squared correlation with time
    r2 = talib.CORREL(np.arange(len(c), dtype=float), c, 50) ** 2
    np.testing.assert_allclose(tr["linreg_r2_50"][100:], r2[100:], atol=1e-6)
    eq(mo["rsi_14"], talib.RSI(c, 14))
    k, d = talib.STOCH(h, l, c, 14, 3, 0, 3, 0)
    eq(mo["stoch_k_14"], k)
    eq(mo["stoch_d_14"], d)
    eq(mo["willr_14"], talib.WILLR(h, l, c, 14))
    eq(mo["cci_20"], talib.CCI(h, l, c, 20))
    eq(mo["mfi_14"], talib.MFI(h, l, c, v, 14))
    eq(mo["ultosc_7_14_28"], talib.ULTOSC(h, l, c, 7, 14, 28))
    eq(mo["trix_15"], talib.TRIX(c, 15))
    eq(mo["cmo_14"], talib.CMO(c, 14))
    eq(mo["roc_10"], talib.ROCP(c, 10))


def test_volatility_and_volume_agree_with_talib(btc, cfg):
    h, l, c, v = btc.high, btc.low, btc.close, btc.volume
    vo, vu = volatility.compute(btc, cfg), volume.compute(btc, cfg)
    eq(vo["atr_pct_14"] * c, talib.ATR(h, l, c, 14))
    eq(vo["trange_pct"] * c, talib.TRANGE(h, l, c))
    up, mid, lo = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    eq(vo["bb_width_20"], (up - lo) / mid)
    eq(vo["bb_pctb_20"], (c - lo) / (up - lo))
    eq(vo["dc_width_20"], (talib.MAX(h, 20) - talib.MIN(l, 20)) / c)
    obv = talib.OBV(c, v)
    i = 700
    eq(vu["obv_slope_20"][i], (obv[i] - obv[i - 20]) / v[i - 19:i + 1].sum())
    w = obv[i - 95:i + 1]
    assert vu["obv_z_96"][i] == pytest.approx((obv[i] - w.mean()) / w.std())
    ad = talib.AD(h, l, c, v)
    assert vu["ad_slope_20"][i] == pytest.approx((ad[i] - ad[i - 20]) / v[i - 19:i + 1].sum())
    eq(vu["volume_ratio_20"], v / talib.SMA(v, 20))


def test_returns_and_candle_shape_by_hand(cfg):
    o = [10.0, 10.5, 11.0, 10.0, 10.2]
    h = [11.0, 11.0, 11.5, 10.5, 10.2]
    l = [9.5, 10.0, 10.5, 9.0, 10.2]
    c = [10.5, 10.8, 10.6, 9.5, 10.2]
    b = make_bars(c, open_=o, high=h, low=l)
    r = returns.compute(b, cfg)
    assert np.isnan(r["logret_1"][0]) and r["logret_1"][2] == pytest.approx(math.log(10.6 / 10.8))
    assert r["logret_4"][4] == pytest.approx(math.log(10.2 / 10.5))
    assert r["logret_1_lag1"][3] == pytest.approx(math.log(10.6 / 10.8))
    assert r["body_pct"][1] == pytest.approx((10.8 - 10.5) / 10.5)
    assert r["upper_wick_pct"][2] == pytest.approx((11.5 - 11.0) / 10.6)
    assert r["lower_wick_pct"][3] == pytest.approx((9.5 - 9.0) / 9.5)
    assert r["range_pct"][0] == pytest.approx(1.5 / 10.5)
    assert r["close_location"][0] == pytest.approx((10.5 - 9.5) / 1.5)
    assert r["close_location"][4] == 0.5  # zero-range bar
    assert r["gap_pct"][2] == pytest.approx(11.0 / 10.8 - 1)
    assert r["high_ret_1"][1] == pytest.approx(math.log(11.0 / 10.5))
    # up ratio over 16 bars on a longer series
    c2 = np.array([1, 2, 1, 2, 3, 4, 3, 2, 3, 4, 5, 6, 5, 4, 5, 6, 7, 8.0])
    r2 = returns.compute(make_bars(c2), cfg)
    ups = sum(c2[k] > c2[k - 1] for k in range(2, 18))
    assert r2["up_ratio_16"][17] == pytest.approx(ups / 16) and np.isnan(r2["up_ratio_16"][15])


def test_range_volatility_estimators_by_hand(cfg):
    rng = np.random.default_rng(5)
    n = 40
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.concatenate([[100], c[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    h = np.maximum(o, c) * np.exp(rng.uniform(0, 0.01, n))
    l = np.minimum(o, c) * np.exp(-rng.uniform(0, 0.01, n))
    b = make_bars(c, open_=o, high=h, low=l)
    vo = volatility.compute(b, cfg)
    t, m = 30, 16
    idx = range(t - m + 1, t + 1)
    park = math.sqrt(sum(math.log(h[i] / l[i]) ** 2 for i in idx) / m / (4 * math.log(2)))
    gk = math.sqrt(sum(0.5 * math.log(h[i] / l[i]) ** 2 - (2 * math.log(2) - 1) * math.log(c[i] / o[i]) ** 2 for i in idx) / m)
    rs_terms = [math.log(h[i] / c[i]) * math.log(h[i] / o[i]) + math.log(l[i] / c[i]) * math.log(l[i] / o[i]) for i in idx]
    rs = math.sqrt(sum(rs_terms) / m)
    ov = [math.log(o[i] / c[i - 1]) for i in idx]
    oc = [math.log(c[i] / o[i]) for i in idx]
    k = 0.34 / (1.34 + (m + 1) / (m - 1))
    yz = math.sqrt(np.var(ov, ddof=1) + k * np.var(oc, ddof=1) + (1 - k) * sum(rs_terms) / m)
    rv = math.sqrt(sum(math.log(c[i] / c[i - 1]) ** 2 for i in idx) / m)
    assert vo["parkinson_16"][t] == pytest.approx(park, rel=1e-9)
    assert vo["garman_klass_16"][t] == pytest.approx(gk, rel=1e-9)
    assert vo["rogers_satchell_16"][t] == pytest.approx(rs, rel=1e-9)
    assert vo["yang_zhang_16"][t] == pytest.approx(yz, rel=1e-9)
    assert vo["rv_16"][t] == pytest.approx(rv, rel=1e-9)


def test_volume_and_microstructure_by_hand(cfg):
    rng = np.random.default_rng(6)
    n = 300
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.005, n)))
    o = np.concatenate([[50], c[:-1]])
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.004, n))
    l = np.minimum(o, c) * (1 - rng.uniform(0, 0.004, n))
    v = rng.uniform(100, 1000, n)
    b = make_bars(c, open_=o, high=h, low=l, volume=v)
    vu, mi = volume.compute(b, cfg), microstructure.compute(b, cfg)
    t = 250
    w = range(t - 19, t + 1)
    tp = [(h[i] + l[i] + c[i]) / 3 for i in w]
    vwap = sum(tp[j] * v[i] for j, i in enumerate(w)) / sum(v[i] for i in w)
    assert vu["vwap_dist_20"][t] == pytest.approx(c[t] / vwap - 1, rel=1e-9)
    mfv = sum(((c[i] - l[i]) - (h[i] - c[i])) / (h[i] - l[i]) * v[i] for i in w)
    assert vu["cmf_20"][t] == pytest.approx(mfv / sum(v[i] for i in w), rel=1e-9)
    r = [math.nan] + [math.log(c[i] / c[i - 1]) for i in range(1, n)]
    ami = np.mean([abs(r[i]) / (c[i] * v[i]) for i in w])
    assert mi["amihud_20"][t] == pytest.approx(math.log(ami * 1e9 + 1e-12), rel=1e-9)
    x = [r[i] for i in range(t - 49, t + 1)]
    y = [r[i - 1] for i in range(t - 49, t + 1)]
    cov = np.mean(np.multiply(x, y)) - np.mean(x) * np.mean(y)
    assert mi["roll_spread_50"][t] == pytest.approx(2 * math.sqrt(max(-cov, 0.0)), abs=1e-12)
    # Corwin-Schultz two-bar estimate, averaged over 20 bars
    est = []
    for i in w:
        beta = math.log(h[i] / l[i]) ** 2 + math.log(h[i - 1] / l[i - 1]) ** 2
        gamma = math.log(max(h[i], h[i - 1]) / min(l[i], l[i - 1])) ** 2
        kk = 3 - 2 * math.sqrt(2)
        alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / kk - math.sqrt(gamma / kk)
        est.append(max(2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha)), 0.0))
    assert mi["cs_spread_20"][t] == pytest.approx(np.mean(est), rel=1e-9)
    # bulk volume classification: Phi(r / sigma of the last 96 returns)
    from statistics import NormalDist

    win = [r[i] for i in range(t - 95, t + 1)]
    sigma = np.std(win)
    assert mi["bvc_buy_frac"][t] == pytest.approx(NormalDist().cdf(r[t] / sigma), rel=1e-9)


def test_taker_buy_features_when_present_and_fallback_without(cfg):
    b = make_bars(np.linspace(10, 11, 200), volume=np.full(200, 10.0))
    without = microstructure.compute(b, cfg)
    assert "taker_buy_ratio" not in without and "bvc_imbalance_20" in without
    b.optional["taker_buy_base"] = np.full(200, 7.0)
    with_tb = microstructure.compute(b, cfg)
    assert with_tb["taker_buy_ratio"][5] == pytest.approx(0.7)
    assert with_tb["taker_imbalance_20"][50] == pytest.approx((2 * 7 - 10) / 10)


def test_time_features_on_known_timestamps(cfg):
    ts = pd.DatetimeIndex(["2026-01-05 07:45", "2026-01-10 13:00", "2026-01-11 23:45"], tz="UTC")  # Mon, Sat, Sun
    b = make_bars([1.0, 1.0, 1.0], timestamps=ts)
    t = time.compute(b, cfg)
    assert t["hour_sin"][1] == pytest.approx(math.sin(2 * math.pi * 13 / 24))
    assert t["dow_cos"][0] == pytest.approx(1.0) and t["is_weekend"].tolist() == [0, 1, 1]
    assert t["session_asia"].tolist() == [1, 0, 0] and t["session_europe"].tolist() == [1, 1, 0]
    assert t["session_us"].tolist() == [0, 1, 0]
    # bar 07:45 closes at 08:00 = a funding time -> 0; 13:00 closes 13:15 -> 165 min to 16:00; 23:45 -> 0
    assert t["minutes_to_funding"].tolist() == [0.0, 165.0, 0.0]


def test_funding_features_use_settled_rates_only(cfg):
    ts = pd.date_range("2026-01-01", periods=8 * 4 * 3, freq="15min", tz="UTC")  # 3 days of 15m bars
    b = make_bars(np.ones(len(ts)), timestamps=ts)
    settle = pd.date_range("2025-12-31 16:00", periods=10, freq="8h", tz="UTC")
    rates = np.arange(10) * 1e-4
    b.funding = pd.DataFrame({"timestamp": settle.as_unit("ns").asi8, "funding_rate": rates})
    f = funding.compute(b, cfg)
    # bar 00:00 of Jan 1 sees the settlement at 00:00 (index 1); bar 07:45 still index 1; 08:00 -> index 2
    assert f["funding_rate"][0] == pytest.approx(1e-4) and f["funding_rate"][31] == pytest.approx(1e-4)
    assert f["funding_rate"][32] == pytest.approx(2e-4)
    assert f["funding_mean_3"][32] == pytest.approx(np.mean(rates[0:3]))
    assert np.isnan(f["funding_mean_3"][0])  # only two settlements known at that bar
    assert f["funding_change"][32] == pytest.approx(1e-4)
    b.funding = None
    assert funding.compute(b, cfg) == {}
