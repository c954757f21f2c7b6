"""The 24 targets (SPEC 4, names fixed in docs/CONTRACTS.md).

Horizons 15m / 1h / 4h / 12h become bars of the timeframe (``bars_for``, at least 1).  A
target at row t uses rows t+1 .. t+h only (and close_t, known at t).  A row whose horizon
runs past the end of the data, or across a gap in the bars (row t+h is not exactly h bars of
time later), is null — never filled with 0 or FLAT.

Definitions (fractions, not percent):
* future_return_<h>   close_{t+h} / close_t - 1
* direction_<h>       0 DOWN (< -thr_h), 1 FLAT, 2 UP (> thr_h); thr from config (0.15/0.3/0.7/1.0 %)
* long_reach_<x>pct_<h>  1 if max(high_{t+1..t+h}) >= close_t (1 + x) else 0
* short_reach_<x>pct_<h> 1 if min(low_{t+1..t+h}) <= close_t (1 - x) else 0
* max_drawdown_<h>    min(low_{t+1..t+h}) / close_t - 1   (<= 0 unless price only rose)
* max_rally_<h>       max(high_{t+1..t+h}) / close_t - 1
* future_volatility_4h  sqrt(mean(r_{t+1..t+h}^2)), r = one-bar log returns (defined for h = 1)
* risk_reward_4h      max_rally_4h / max(-max_drawdown_4h, 1e-4)   (1 bp floor on the risk)
* best_action_4h      2 LONG if future_return_4h > cost, 0 SHORT if < -cost, else 1 FLAT; cost = the round
                      trip 2 x (fee + slippage) of the symbol's market from the one cost model
                      (``engine.costs``; ``targets.fee_pct_per_side`` in features.yaml overrides the fee)
* bars_to_peak_12h    1 .. h: bars from t to the first bar of the highest high in t+1 .. t+h
"""
from __future__ import annotations

import numpy as np

from engine.data.timeframes import bars_for, tf_seconds
from engine.features.config import HORIZONS, FeaturesConfig
from engine.features.context import NS

REACH = [("long", 1, "4h"), ("long", 2, "4h"), ("long", 3, "12h"), ("long", 5, "12h"),
         ("short", 1, "4h"), ("short", 2, "4h"), ("short", 3, "12h"), ("short", 5, "12h")]

TARGET_NAMES: list[str] = (
    [f"future_return_{h}" for h in HORIZONS]
    + [f"direction_{h}" for h in HORIZONS]
    + [f"{side}_reach_{x}pct_{h}" for side, x, h in REACH]
    + ["max_drawdown_1h", "max_drawdown_4h", "max_rally_1h", "max_rally_4h"]
    + ["future_volatility_4h", "risk_reward_4h", "best_action_4h", "bars_to_peak_12h"]
)
assert len(TARGET_NAMES) == 24 and len(set(TARGET_NAMES)) == 24

RISK_FLOOR = 1e-4


def _horizon_of(name: str) -> str:
    return name.rsplit("_", 1)[1]


def best_action_cost(cfg: FeaturesConfig, symbol: str | None = None, costs=None) -> float:
    """Round-trip cost of ``best_action_4h`` for ``symbol``: 2 x (fee + slippage), the fee of its market
    from the cost model unless ``targets.fee_pct_per_side`` overrides it."""
    from engine.costs import load_costs, market_of

    cm = costs or load_costs()
    fee = cm.fee(market_of(symbol or "")) if cfg.fee_pct_per_side is None else cfg.fee_pct_per_side / 100
    return 2 * (fee + cm.slippage)


def target_meta(timeframe: str, cfg: FeaturesConfig, costs_by_symbol: dict[str, float] | None = None) -> dict[str, dict]:
    """``costs_by_symbol``: the round trip ``best_action_4h`` used per symbol (``cost`` is the highest)."""
    meta = {}
    for name in TARGET_NAMES:
        h = _horizon_of(name)
        m: dict = {"horizon": h, "horizon_bars": bars_for(h, timeframe)}
        if name.startswith("direction_"):
            m.update(type="multiclass", classes=["DOWN", "FLAT", "UP"], threshold=cfg.direction_threshold_pct[h] / 100)
        elif name == "best_action_4h":
            by = dict(costs_by_symbol or {})
            m.update(type="multiclass", classes=["SHORT", "FLAT", "LONG"],
                     cost=max(by.values()) if by else best_action_cost(cfg), cost_by_symbol=by)
        elif "_reach_" in name:
            m.update(type="binary", classes=["NO", "YES"], level=int(name.split("_")[2].rstrip("pct")) / 100)
        else:
            m["type"] = "regression"
        meta[name] = m
    return meta


def max_horizon_bars(timeframe: str) -> int:
    return max(bars_for(h, timeframe) for h in HORIZONS)


def _future_window(x: np.ndarray, h: int) -> np.ndarray:
    """(n, h) array whose row t holds x[t+1 .. t+h] (NaN past the end)."""
    n = len(x)
    pad = np.concatenate([x, np.full(h, np.nan)])
    return np.lib.stride_tricks.sliding_window_view(pad[1:], h)[:n]


def compute_targets(ts: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, timeframe: str,
                    cfg: FeaturesConfig, cost: float | None = None) -> dict[str, np.ndarray]:
    """{target: float64 array} with NaN where the target is unknown (past the end or across a gap).
    ``cost``: the round trip of ``best_action_4h`` (default :func:`best_action_cost` of a spot symbol)."""
    n = len(close)
    step = tf_seconds(timeframe) * NS
    out: dict[str, np.ndarray] = {}
    cache: dict[int, tuple] = {}

    def window(h: int):
        if h not in cache:
            ok = np.zeros(n, dtype=bool)
            ok[: max(n - h, 0)] = (ts[h:] - ts[: n - h]) == h * step if n > h else False
            fh, fl = _future_window(high, h), _future_window(low, h)
            mx = np.where(ok, fh.max(axis=1), np.nan) if n else np.empty(0)
            mn = np.where(ok, fl.min(axis=1), np.nan) if n else np.empty(0)
            fc = np.full(n, np.nan)
            fc[: max(n - h, 0)] = close[h:]
            fc[~ok] = np.nan
            cache[h] = (ok, mx, mn, fc)
        return cache[h]

    def label(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return np.where(ok, values, np.nan)

    for hz in HORIZONS:
        h = bars_for(hz, timeframe)
        ok, mx, mn, fc = window(h)
        ret = fc / close - 1.0
        out[f"future_return_{hz}"] = ret
        thr = cfg.direction_threshold_pct[hz] / 100
        out[f"direction_{hz}"] = label(np.where(ret > thr, 2.0, np.where(ret < -thr, 0.0, 1.0)), ok)
    for side, x, hz in REACH:
        ok, mx, mn, fc = window(bars_for(hz, timeframe))
        hit = mx >= close * (1 + x / 100) if side == "long" else mn <= close * (1 - x / 100)
        out[f"{side}_reach_{x}pct_{hz}"] = label(hit.astype(np.float64), ok)
    for hz in ("1h", "4h"):
        ok, mx, mn, fc = window(bars_for(hz, timeframe))
        out[f"max_drawdown_{hz}"] = mn / close - 1.0
        out[f"max_rally_{hz}"] = mx / close - 1.0
    h4 = bars_for("4h", timeframe)
    ok4 = window(h4)[0]
    r = np.full(n, np.nan)
    r[1:] = np.log(close[1:] / close[:-1])
    out["future_volatility_4h"] = label(np.sqrt(np.mean(_future_window(r, h4) ** 2, axis=1)), ok4)
    out["risk_reward_4h"] = out["max_rally_4h"] / np.maximum(-out["max_drawdown_4h"], RISK_FLOOR)
    cost = best_action_cost(cfg) if cost is None else float(cost)
    ret4 = out["future_return_4h"]
    out["best_action_4h"] = label(np.where(ret4 > cost, 2.0, np.where(ret4 < -cost, 0.0, 1.0)), ok4)
    h12 = bars_for("12h", timeframe)
    ok12 = window(h12)[0]
    fh = _future_window(high, h12)
    peak = np.full(n, np.nan)
    if n > h12:
        peak[: n - h12] = fh[: n - h12].argmax(axis=1) + 1  # argmax: the first bar reaching the peak
    out["bars_to_peak_12h"] = label(peak, ok12)
    return {k: out[k] for k in TARGET_NAMES}
