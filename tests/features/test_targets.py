"""Every target's formula on a hand-made series; nulls at the end and across gaps."""
import numpy as np
import pandas as pd
import pytest

from engine.features.targets import TARGET_NAMES, compute_targets, max_horizon_bars, target_meta

NS_15M = 900 * 10 ** 9


def ts(n, tf_ns=NS_15M, gaps=()):
    t = np.arange(n, dtype=np.int64) * tf_ns + 1_700_000_000 * 10 ** 9 // tf_ns * tf_ns
    for g in gaps:  # shift everything from row g on by one bar: a missing bar before row g
        t[g:] += tf_ns
    return t


def series(n=120, seed=0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    high = close * (1 + rng.uniform(0, 0.004, n))
    low = close * (1 - rng.uniform(0, 0.004, n))
    return high, low, close


def test_24_fixed_names_and_meta(cfg):
    assert len(TARGET_NAMES) == 24 and len(set(TARGET_NAMES)) == 24
    m = target_meta("15m", cfg)
    assert [m[f"future_return_{h}"]["horizon_bars"] for h in ("15m", "1h", "4h", "12h")] == [1, 4, 16, 48]
    m1h = target_meta("1h", cfg)  # at 1h the 15m horizon is 1 bar, names stay
    assert [m1h[f"direction_{h}"]["horizon_bars"] for h in ("15m", "1h", "4h", "12h")] == [1, 1, 4, 12]
    assert max_horizon_bars("15m") == 48 and max_horizon_bars("1h") == 12
    types = {n: x["type"] for n, x in m.items()}
    assert sum(t == "binary" for t in types.values()) == 8
    assert {n for n, t in types.items() if t == "multiclass"} == {f"direction_{h}" for h in ("15m", "1h", "4h", "12h")} | {"best_action_4h"}


def test_every_target_formula_by_hand(cfg):
    high, low, close = series()
    n = len(close)
    t = compute_targets(ts(n), high, low, close, "15m", cfg)
    assert list(t) == TARGET_NAMES
    i = 30  # a row with every horizon inside the data
    for hz, h in (("15m", 1), ("1h", 4), ("4h", 16), ("12h", 48)):
        r = close[i + h] / close[i] - 1
        assert t[f"future_return_{hz}"][i] == pytest.approx(r)
        thr = cfg.direction_threshold_pct[hz] / 100
        assert t[f"direction_{hz}"][i] == (2 if r > thr else 0 if r < -thr else 1)
    for side, x, hz, h in (("long", 1, "4h", 16), ("long", 2, "4h", 16), ("long", 3, "12h", 48), ("long", 5, "12h", 48),
                           ("short", 1, "4h", 16), ("short", 2, "4h", 16), ("short", 3, "12h", 48), ("short", 5, "12h", 48)):
        fut_hi, fut_lo = max(high[i + 1:i + h + 1]), min(low[i + 1:i + h + 1])
        hit = fut_hi >= close[i] * (1 + x / 100) if side == "long" else fut_lo <= close[i] * (1 - x / 100)
        assert t[f"{side}_reach_{x}pct_{hz}"][i] == float(hit)
    for hz, h in (("1h", 4), ("4h", 16)):
        assert t[f"max_drawdown_{hz}"][i] == pytest.approx(min(low[i + 1:i + h + 1]) / close[i] - 1)
        assert t[f"max_rally_{hz}"][i] == pytest.approx(max(high[i + 1:i + h + 1]) / close[i] - 1)
    r1 = [np.log(close[k] / close[k - 1]) for k in range(i + 1, i + 17)]
    assert t["future_volatility_4h"][i] == pytest.approx(np.sqrt(np.mean(np.square(r1))))
    dd, ru = min(low[i + 1:i + 17]) / close[i] - 1, max(high[i + 1:i + 17]) / close[i] - 1
    assert t["risk_reward_4h"][i] == pytest.approx(ru / max(-dd, 1e-4))
    r4 = close[i + 16] / close[i] - 1
    from engine.costs import load_costs

    cm = load_costs()  # the one cost model: a spot symbol's round trip is 2 x (taker fee + slippage)
    cost = 2 * (cm.spot_taker + cm.slippage)
    assert t["best_action_4h"][i] == (2 if r4 > cost else 0 if r4 < -cost else 1)
    assert t["bars_to_peak_12h"][i] == int(np.argmax(high[i + 1:i + 49])) + 1


def test_classes_and_reach_on_a_designed_path(cfg):
    # flat at 100, then +1.2 % at row 5 and a spike high of 102.5 at row 10, then -3 %
    close = np.full(80, 100.0)
    close[5:] = 101.2
    close[40:] = 97.0
    high, low = close.copy(), close.copy()
    high[10] = 102.5
    t = compute_targets(ts(80), high, low, close, "15m", cfg)
    assert t["direction_15m"][4] == 2 and t["direction_15m"][0] == 1 and t["direction_15m"][39] == 0
    assert t["long_reach_1pct_4h"][0] == 1 and t["long_reach_2pct_4h"][0] == 1  # 102.5 >= 102
    assert t["long_reach_2pct_4h"][10] == 0  # row 10's own high is not in its future
    assert t["bars_to_peak_12h"][0] == 10
    assert t["best_action_4h"][0] == 2 and t["best_action_4h"][30] == 0
    assert t["short_reach_3pct_12h"][30] == 1 and t["short_reach_5pct_12h"][30] == 0


def test_rows_past_the_end_are_null_never_filled(cfg):
    high, low, close = series(200)
    t = compute_targets(ts(200), high, low, close, "15m", cfg)
    meta = target_meta("15m", cfg)
    for name, v in t.items():
        h = meta[name]["horizon_bars"]
        assert np.isnan(v[-h:]).all(), name
        assert not np.isnan(v[:-h]).any(), name


def test_rows_whose_horizon_crosses_a_gap_are_null(cfg):
    high, low, close = series(100)
    t = compute_targets(ts(100, gaps=(50,)), high, low, close, "15m", cfg)
    r = t["future_return_1h"]  # 4 bars
    assert np.isnan(r[46:50]).all()  # t + 4 lies after the missing bar
    assert not np.isnan(r[45]) and not np.isnan(r[50])
    assert np.isnan(t["future_return_15m"][49]) and not np.isnan(t["future_return_15m"][48])


def test_a_target_uses_only_the_future_rows(cfg):
    high, low, close = series(150)
    base = compute_targets(ts(150), high, low, close, "15m", cfg)
    i = 60
    h2, l2, c2 = high.copy(), low.copy(), close.copy()
    h2[:i] *= 1.5  # changing the past (before t) changes nothing at t
    l2[:i] *= 0.5
    c2[:i] *= 1.3
    other = compute_targets(ts(150), h2, l2, c2, "15m", cfg)
    for n in TARGET_NAMES:
        assert base[n][i] == pytest.approx(other[n][i], nan_ok=True), n
    h3 = high.copy()
    h3[i + 49:] *= 3  # beyond the longest horizon: nothing at t changes
    far = compute_targets(ts(150), h3, low, close, "15m", cfg)
    for n in TARGET_NAMES:
        assert base[n][i] == pytest.approx(far[n][i], nan_ok=True), n


def test_one_hour_timeframe_scales_horizons(cfg):
    high, low, close = series(50)
    t = compute_targets(ts(50, 3600 * 10 ** 9), high, low, close, "1h", cfg)
    assert t["future_return_15m"][10] == pytest.approx(close[11] / close[10] - 1)  # at least one bar
    assert t["future_return_1h"][10] == pytest.approx(close[11] / close[10] - 1)
    assert t["future_return_4h"][10] == pytest.approx(close[14] / close[10] - 1)
    assert np.isnan(t["bars_to_peak_12h"][-12:]).all() and not np.isnan(t["bars_to_peak_12h"][-13])
    assert pd.notna(t["future_volatility_4h"][0])
