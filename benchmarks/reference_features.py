"""A seed-style reference implementation of the same feature families, for
benchmarks/bench_features.py only (never imported by the app).

Written the way the seed project (crypto_ai_trading's feature_engineering.py) builds its 150+
features: one pandas DataFrame per symbol, standard indicators from the `ta` package, custom
statistics (Hurst, DFA, fractal dimensions, entropy, regressions, autocorrelations) with
``rolling(window).apply(python_function, raw=True)``, targets with ``shift(-n)``.
"""
from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pandas as pd
import ta
from scipy.stats import norm, percentileofscore

# --- per-window Python functions (what the seed passes to rolling().apply) -------------------


def hurst_rs(x):
    n = len(x)
    sizes = [16, 32, 64, 128]
    rs_vals = []
    for s in sizes:
        chunks = [x[i:i + s] for i in range(0, n - s + 1, s)]
        rs = []
        for c in chunks:
            y = np.cumsum(c - c.mean())
            sd = c.std()
            if sd > 0:
                rs.append((y.max() - y.min()) / sd)
        rs_vals.append(np.mean(rs))
    return np.polyfit(np.log(sizes), np.log(rs_vals), 1)[0]


def hurst_dfa(x):
    prof = np.cumsum(x - x.mean())
    scales = [8, 16, 32, 64]
    f = []
    for s in scales:
        rms = []
        for i in range(0, len(prof) - s + 1, s):
            seg = prof[i:i + s]
            t = np.arange(s)
            coef = np.polyfit(t, seg, 1)
            rms.append(np.mean((seg - np.polyval(coef, t)) ** 2))
        f.append(np.sqrt(np.mean(rms)))
    return np.polyfit(np.log(scales), np.log(f), 1)[0]


def higuchi(x, kmax=8):
    n = len(x)
    lk = []
    for k in range(1, kmax + 1):
        lm = []
        for m in range(k):
            idx = np.arange(m, n, k)
            if len(idx) < 2:
                continue
            lm.append(np.abs(np.diff(x[idx])).sum() * (n - 1) / ((len(idx) - 1) * k) / k)
        lk.append(np.mean(lm))
    return -np.polyfit(np.log(np.arange(1, kmax + 1)), np.log(lk), 1)[0]


def katz(x):
    d = np.abs(np.diff(x))
    ll = d.sum()
    ln = np.log10(ll / d.mean())
    return ln / (np.log10(np.max(np.abs(x - x[0])) / ll) + ln)


_PERMS = {m: {p: i for i, p in enumerate(permutations(range(m)))} for m in (3, 4)}


def perm_entropy(x, m):
    counts = {}
    for i in range(len(x) - m + 1):
        key = tuple(np.argsort(x[i:i + m], kind="stable"))
        counts[key] = counts.get(key, 0) + 1
    p = np.array(list(counts.values()), dtype=float)
    p /= p.sum()
    return -(p * np.log(p)).sum() / math.log(math.factorial(m))


def slope(y):
    return np.polyfit(np.arange(len(y)), y, 1)[0]


def r2(y):
    return np.corrcoef(np.arange(len(y)), y)[0, 1] ** 2


def cmo(x):
    d = np.diff(x)
    up, dn = d[d > 0].sum(), -d[d < 0].sum()
    return 100 * (up - dn) / (up + dn) if up + dn else 0.0


def pct_rank(x):
    return percentileofscore(x, x[-1], kind="weak") / 100


def roll_cov(x):
    return np.cov(x[1:], x[:-1])[0, 1]


def variance_ratio(x, q):
    rq = pd.Series(x).rolling(q).sum().dropna().to_numpy()
    return rq.var() / (q * x.var())


def autocorr(k):
    return lambda x: pd.Series(x).autocorr(k)


def efficiency(x):
    return abs(x[-1] - x[0]) / np.abs(np.diff(x)).sum()


# --- families --------------------------------------------------------------------------------


def symbol_features(df: pd.DataFrame) -> pd.DataFrame:
    o, h, l, c, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    f = pd.DataFrame(index=df.index)
    r = np.log(c / c.shift(1))
    # returns and candle shape
    for k in (1, 2, 4, 8, 16, 32, 96):
        f[f"logret_{k}"] = np.log(c / c.shift(k))
    for k in (1, 2, 3):
        f[f"logret_1_lag{k}"] = r.shift(k)
    f["high_ret_1"] = np.log(h / c.shift(1))
    f["low_ret_1"] = np.log(l / c.shift(1))
    f["body_pct"] = (c - o) / o
    f["upper_wick_pct"] = (h - np.maximum(o, c)) / c
    f["lower_wick_pct"] = (np.minimum(o, c) - l) / c
    f["range_pct"] = (h - l) / c
    f["close_location"] = ((c - l) / (h - l)).fillna(0.5)
    f["gap_pct"] = o / c.shift(1) - 1
    f["up_ratio_16"] = (r > 0).astype(float).rolling(16).mean()
    f["ret_z_32"] = r / r.rolling(32).std(ddof=0)
    # trend
    sma = {n: ta.trend.SMAIndicator(c, n).sma_indicator() for n in (10, 20, 50, 100, 200)}
    ema = {n: ta.trend.EMAIndicator(c, n).ema_indicator() for n in (9, 21, 55, 144)}
    for n, s in sma.items():
        f[f"sma_ratio_{n}"] = c / s - 1
    for n, s in ema.items():
        f[f"ema_ratio_{n}"] = c / s - 1
    f["ema_cross_9_21"] = ema[9] / ema[21] - 1
    f["ema_cross_21_55"] = ema[21] / ema[55] - 1
    f["sma_cross_50_200"] = sma[50] / sma[200] - 1
    macd = ta.trend.MACD(c, 26, 12, 9)
    f["macd_pct"] = macd.macd() / c
    f["macd_signal_pct"] = macd.macd_signal() / c
    f["macd_hist_pct"] = macd.macd_diff() / c
    adx = ta.trend.ADXIndicator(h, l, c, 14)
    f["adx_14"] = adx.adx()
    f["adxr_14"] = (f["adx_14"] + f["adx_14"].shift(13)) / 2
    f["plus_di_14"] = adx.adx_pos()
    f["minus_di_14"] = adx.adx_neg()
    f["di_diff_14"] = f["plus_di_14"] - f["minus_di_14"]
    aroon = ta.trend.AroonIndicator(h, l, 25)
    f["aroon_up_25"] = aroon.aroon_up()
    f["aroon_down_25"] = aroon.aroon_down()
    f["aroon_osc_25"] = aroon.aroon_indicator()
    psar = ta.trend.PSARIndicator(h, l, c, 0.02, 0.2).psar()
    f["psar_dist"] = (c - psar) / c
    f["psar_trend"] = np.sign(c - psar)
    ich = ta.trend.IchimokuIndicator(h, l, 9, 26, 52)
    f["ichimoku_tenkan_dist"] = c / ich.ichimoku_conversion_line() - 1
    f["ichimoku_kijun_dist"] = c / ich.ichimoku_base_line() - 1
    span_a, span_b = ich.ichimoku_a().shift(26), ich.ichimoku_b().shift(26)
    f["ichimoku_span_a_dist"] = c / span_a - 1
    f["ichimoku_span_b_dist"] = c / span_b - 1
    f["ichimoku_cloud_width"] = (span_a - span_b) / c
    f["linreg_slope_14"] = c.rolling(14).apply(slope, raw=True) / c
    f["linreg_slope_50"] = c.rolling(50).apply(slope, raw=True) / c
    f["linreg_r2_50"] = c.rolling(50).apply(r2, raw=True)
    f["kama_ratio_30"] = c / ta.momentum.KAMAIndicator(c, 30).kama() - 1
    # momentum
    for n in (7, 14, 28):
        f[f"rsi_{n}"] = ta.momentum.RSIIndicator(c, n).rsi()
    f["rsi_14_change_5"] = f["rsi_14"] - f["rsi_14"].shift(5)
    st = ta.momentum.StochasticOscillator(h, l, c, 14, 3)
    f["stoch_k_14"] = st.stoch().rolling(3).mean()
    f["stoch_d_14"] = f["stoch_k_14"].rolling(3).mean()
    srsi = ta.momentum.StochRSIIndicator(c, 14, 3, 3)
    f["stochrsi_k_14"] = srsi.stochrsi_k()
    f["stochrsi_d_14"] = srsi.stochrsi_d()
    f["willr_14"] = ta.momentum.WilliamsRIndicator(h, l, c, 14).williams_r()
    f["cci_14"] = ta.trend.CCIIndicator(h, l, c, 14).cci()
    f["cci_20"] = ta.trend.CCIIndicator(h, l, c, 20).cci()
    f["roc_10"] = ta.momentum.ROCIndicator(c, 10).roc() / 100
    f["roc_30"] = ta.momentum.ROCIndicator(c, 30).roc() / 100
    f["mfi_14"] = ta.volume.MFIIndicator(h, l, c, v, 14).money_flow_index()
    f["ultosc_7_14_28"] = ta.momentum.UltimateOscillator(h, l, c, 7, 14, 28).ultimate_oscillator()
    f["trix_15"] = ta.trend.TRIXIndicator(c, 15).trix()
    f["cmo_14"] = c.rolling(15).apply(cmo, raw=True)
    f["mom_10_pct"] = (c - c.shift(10)) / c
    f["ppo_12_26"] = ta.momentum.PercentagePriceOscillator(c, 26, 12, 9).ppo()
    f["bop"] = ((c - o) / (h - l)).fillna(0)
    # volatility
    atr = {n: ta.volatility.AverageTrueRange(h, l, c, n).average_true_range() for n in (7, 10, 14, 28, 100)}
    for n in (7, 14, 28):
        f[f"atr_pct_{n}"] = atr[n] / c
    f["atr_ratio_14_100"] = atr[14] / atr[100]
    tr = pd.concat([h - l, (h - c.shift(1)).abs(), (l - c.shift(1)).abs()], axis=1).max(axis=1)
    f["trange_pct"] = tr / c
    for n in (20, 50):
        bb = ta.volatility.BollingerBands(c, n, 2)
        f[f"bb_width_{n}"] = (bb.bollinger_hband() - bb.bollinger_lband()) / bb.bollinger_mavg()
        if n == 20:
            f["bb_pctb_20"] = bb.bollinger_pband()
            bb_up, bb_lo = bb.bollinger_hband(), bb.bollinger_lband()
    kc = ta.volatility.KeltnerChannel(h, l, c, 20, 10, original_version=False, multiplier=2)
    f["kc_width_20"] = kc.keltner_channel_wband() / 100
    f["kc_pos_20"] = kc.keltner_channel_pband()
    f["squeeze_20"] = ((bb_up < kc.keltner_channel_hband()) & (bb_lo > kc.keltner_channel_lband())).astype(float)
    for n in (20, 55):
        dc = ta.volatility.DonchianChannel(h, l, c, n)
        f[f"dc_pos_{n}"] = dc.donchian_channel_pband()
        f[f"dc_width_{n}"] = (dc.donchian_channel_hband() - dc.donchian_channel_lband()) / c
    for n in (16, 32, 96):
        f[f"rv_{n}"] = np.sqrt((r ** 2).rolling(n).mean())
    hl, co = np.log(h / l), np.log(c / o)
    rs_term = np.log(h / c) * np.log(h / o) + np.log(l / c) * np.log(l / o)
    for n in (16, 96):
        f[f"parkinson_{n}"] = np.sqrt((hl ** 2).rolling(n).mean() / (4 * math.log(2)))
        f[f"garman_klass_{n}"] = np.sqrt((0.5 * hl ** 2 - (2 * math.log(2) - 1) * co ** 2).rolling(n).mean().clip(lower=0))
        f[f"rogers_satchell_{n}"] = np.sqrt(rs_term.rolling(n).mean())
        k = 0.34 / (1.34 + (n + 1) / (n - 1))
        f[f"yang_zhang_{n}"] = np.sqrt(np.log(o / c.shift(1)).rolling(n).var() + k * co.rolling(n).var()
                                       + (1 - k) * rs_term.rolling(n).mean())
    f["rv_ratio_16_96"] = f["rv_16"] / f["rv_96"]
    f["vol_regime_pct_960"] = f["rv_32"].rolling(960).apply(pct_rank, raw=True)
    f["range_z_96"] = (f["range_pct"] - f["range_pct"].rolling(96).mean()) / f["range_pct"].rolling(96).std(ddof=0)
    # volume
    for n in (8, 20, 96):
        f[f"volume_ratio_{n}"] = v / v.rolling(n).mean()
    lv = np.log1p(v)
    for n in (20, 96):
        f[f"volume_z_{n}"] = (lv - lv.rolling(n).mean()) / lv.rolling(n).std(ddof=0)
    f["volume_trend_5_50"] = v.rolling(5).mean() / v.rolling(50).mean()
    f["log_volume_slope_20"] = lv.rolling(20).apply(slope, raw=True)
    obv = ta.volume.OnBalanceVolumeIndicator(c, v).on_balance_volume()
    f["obv_slope_20"] = (obv - obv.shift(20)) / v.rolling(20).sum()
    f["obv_z_96"] = (obv - obv.rolling(96).mean()) / obv.rolling(96).std(ddof=0)
    f["cmf_20"] = ta.volume.ChaikinMoneyFlowIndicator(h, l, c, v, 20).chaikin_money_flow()
    ad = ta.volume.AccDistIndexIndicator(h, l, c, v).acc_dist_index()
    f["ad_slope_20"] = (ad - ad.shift(20)) / v.rolling(20).sum()
    f["adosc_3_10"] = (ad.ewm(span=3, adjust=False).mean() - ad.ewm(span=10, adjust=False).mean()) / v.rolling(10).mean()
    for n in (20, 96):
        f[f"vwap_dist_{n}"] = c / ta.volume.VolumeWeightedAveragePrice(h, l, c, v, n).volume_weighted_average_price() - 1
    f["force_index_13"] = ta.volume.ForceIndexIndicator(c / c.shift(1), v, 13).force_index() / v.rolling(96).mean()
    f["volume_price_corr_20"] = r.rolling(20).corr(lv)
    f["up_volume_share_20"] = (v * (r > 0)).rolling(20).sum() / v.rolling(20).sum()
    # microstructure
    illiq = r.abs() / (c * v)
    f["amihud_20"] = np.log(illiq.rolling(20).mean() * 1e9 + 1e-12)
    f["amihud_96"] = np.log(illiq.rolling(96).mean() * 1e9 + 1e-12)
    signed = np.sign(r) * np.sqrt(v / v.rolling(96).mean())
    for n in (50, 200):
        f[f"kyle_lambda_{n}"] = r.rolling(n).cov(signed) / signed.rolling(n).var()
    f["roll_spread_50"] = 2 * np.sqrt((-r.rolling(51).apply(roll_cov, raw=True)).clip(lower=0))
    beta = hl ** 2 + hl.shift(1) ** 2
    gamma = np.log(np.maximum(h, h.shift(1)) / np.minimum(l, l.shift(1))) ** 2
    kk = 3 - 2 * math.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / kk - np.sqrt(gamma / kk)
    f["cs_spread_20"] = (2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))).clip(lower=0).rolling(20).mean()
    buy = pd.Series(norm.cdf(r / r.rolling(96).std(ddof=0)), index=df.index)
    f["bvc_buy_frac"] = buy
    imb = (2 * buy - 1) * v
    f["bvc_imbalance_20"] = imb.rolling(20).sum() / v.rolling(20).sum()
    for n in (50, 200):
        f[f"vpin_{n}"] = imb.abs().rolling(n).sum() / v.rolling(n).sum()
    # fractal / statistical
    f["hurst_dfa_256"] = r.rolling(256).apply(hurst_dfa, raw=True)
    f["hurst_rs_256"] = r.rolling(256).apply(hurst_rs, raw=True)
    f["higuchi_fd_128"] = np.log(c).rolling(128).apply(higuchi, raw=True)
    f["katz_fd_64"] = c.rolling(64).apply(katz, raw=True)
    for n in (10, 30):
        f[f"efficiency_ratio_{n}"] = c.rolling(n + 1).apply(efficiency, raw=True)
    f["perm_entropy_3_64"] = c.rolling(66).apply(lambda x: perm_entropy(x, 3), raw=True)
    f["perm_entropy_4_128"] = c.rolling(131).apply(lambda x: perm_entropy(x, 4), raw=True)
    for k in (1, 2, 5):
        f[f"acf{k}_64"] = r.rolling(64).apply(autocorr(k), raw=True)
    f["acf1_256"] = r.rolling(256).apply(autocorr(1), raw=True)
    f["variance_ratio_4_128"] = r.rolling(128).apply(lambda x: variance_ratio(x, 4), raw=True)
    f["variance_ratio_16_256"] = r.rolling(256).apply(lambda x: variance_ratio(x, 16), raw=True)
    f["skew_64"] = r.rolling(64).skew()
    f["kurt_64"] = r.rolling(64).kurt()
    f["price_z_64"] = (c - c.rolling(64).mean()) / c.rolling(64).std(ddof=0)
    # time
    t = df["timestamp"]
    hour = t.dt.hour + t.dt.minute / 60
    dow = t.dt.dayofweek
    f["hour_sin"], f["hour_cos"] = np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)
    f["dow_sin"], f["dow_cos"] = np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)
    f["session_asia"] = (hour < 8).astype(float)
    f["session_europe"] = ((hour >= 7) & (hour < 16)).astype(float)
    f["session_us"] = ((hour >= 13) & (hour < 21)).astype(float)
    f["is_weekend"] = (dow >= 5).astype(float)
    f["minutes_to_funding"] = (480 - ((hour * 60 + 15) % 480)) % 480
    return f


def cross_asset(closes: pd.DataFrame, sectors: dict[str, str], btc: str = "BTCUSDT") -> dict[str, pd.DataFrame]:
    """closes: timestamp-indexed wide frame, one column per symbol."""
    r1 = np.log(closes / closes.shift(1))
    r4, r16, r96 = (np.log(closes / closes.shift(k)) for k in (4, 16, 96))
    rank16 = r16.rank(axis=1, pct=False).sub(1).div(r16.notna().sum(axis=1) - 1, axis=0)
    rank96 = r96.rank(axis=1, pct=False).sub(1).div(r96.notna().sum(axis=1) - 1, axis=0)
    disp = r16.std(axis=1, ddof=0)
    out = {}
    for s in closes.columns:
        f = pd.DataFrame(index=closes.index)
        f["btc_corr_32"] = r1[s].rolling(32).corr(r1[btc])
        f["btc_corr_96"] = r1[s].rolling(96).corr(r1[btc])
        f["btc_beta_96"] = r1[s].rolling(96).cov(r1[btc]) / r1[btc].rolling(96).var()
        f["rel_strength_btc_16"] = r16[s] - r16[btc]
        f["rel_strength_btc_96"] = r96[s] - r96[btc]
        f["btc_ret_1"], f["btc_ret_4"], f["btc_ret_16"] = r1[btc], r4[btc], r16[btc]
        peers = [p for p in closes.columns if p != s and sectors.get(p) is not None and sectors.get(p) == sectors.get(s)]
        peers = peers or [p for p in closes.columns if p != s]
        f["sector_mean_ret_1"] = r1[peers].mean(axis=1)
        f["sector_mean_ret_16"] = r16[peers].mean(axis=1)
        f["sector_rel_16"] = r16[s] - f["sector_mean_ret_16"]
        f["market_mean_ret_1"] = r1.drop(columns=[s]).mean(axis=1)
        f["xs_rank_ret_16"], f["xs_rank_ret_96"], f["xs_dispersion_16"] = rank16[s], rank96[s], disp
        out[s] = f
    return out


def targets(df: pd.DataFrame, bars: dict[str, int], thresholds: dict[str, float], fee: float) -> pd.DataFrame:
    h, l, c = df["high"], df["low"], df["close"]
    t = pd.DataFrame(index=df.index)
    for hz, n in bars.items():
        ret = c.shift(-n) / c - 1
        t[f"future_return_{hz}"] = ret
        thr = thresholds[hz]
        t[f"direction_{hz}"] = np.where(ret.isna(), np.nan, np.where(ret > thr, 2, np.where(ret < -thr, 0, 1)))

    def fmax(n):
        return h[::-1].rolling(n).max()[::-1].shift(-1)

    def fmin(n):
        return l[::-1].rolling(n).min()[::-1].shift(-1)

    for side, x, hz in [("long", 1, "4h"), ("long", 2, "4h"), ("long", 3, "12h"), ("long", 5, "12h"),
                        ("short", 1, "4h"), ("short", 2, "4h"), ("short", 3, "12h"), ("short", 5, "12h")]:
        n = bars[hz]
        if side == "long":
            t[f"long_reach_{x}pct_{hz}"] = (fmax(n) >= c * (1 + x / 100)).astype(float).where(fmax(n).notna())
        else:
            t[f"short_reach_{x}pct_{hz}"] = (fmin(n) <= c * (1 - x / 100)).astype(float).where(fmin(n).notna())
    for hz in ("1h", "4h"):
        t[f"max_drawdown_{hz}"] = fmin(bars[hz]) / c - 1
        t[f"max_rally_{hz}"] = fmax(bars[hz]) / c - 1
    r = np.log(c / c.shift(1))
    t["future_volatility_4h"] = np.sqrt((r ** 2)[::-1].rolling(bars["4h"]).mean()[::-1].shift(-1))
    t["risk_reward_4h"] = t["max_rally_4h"] / (-t["max_drawdown_4h"]).clip(lower=1e-4)
    r4 = t["future_return_4h"]
    t["best_action_4h"] = np.where(r4.isna(), np.nan, np.where(r4 > 2 * fee, 2, np.where(r4 < -2 * fee, 0, 1)))
    n12 = bars["12h"]
    hv = h.to_numpy()
    t["bars_to_peak_12h"] = [np.argmax(hv[i + 1:i + n12 + 1]) + 1 if i + n12 < len(hv) else np.nan for i in range(len(hv))]
    return t
