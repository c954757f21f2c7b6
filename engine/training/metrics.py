"""Per-epoch metrics: trading metrics after fees, classification and regression skill, and
the naive baselines they are judged against.  Plain numpy on whole arrays.

Trading rule (the same for both models and for the baselines): at a window's last bar take
the predicted class's position (UP long, DOWN short, FLAT nothing) for the horizon; its
P&L is ``side * future_return - fee`` (round trip).
* directional accuracy: share of trades whose side matches the sign of the realised return;
* win rate: share of trades with a positive P&L after the fee;
* profit factor: gross profit / gross loss of those trades after fees (None when no loss).

Headlines are POOLED: the profit factor of a split is total gains / total losses over all its
trades (every horizon, every walk-forward fold), the win rate wins / trades over the same trades;
never a mean of per-horizon or per-fold ratios (those stay available beside it).
:func:`trading_evidence` adds the sample (trades, independent trades = non-overlapping holding
periods, days), a stationary-block-bootstrap CI (``engine.stats.bootstrap``) over the pooled trade
P&L in time order, and the standard warnings.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss


def trade_pnl(pred_class: np.ndarray, returns: np.ndarray, fee: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions of the trades in the inputs, their side +1 / -1, their P&L after the round-trip ``fee``)."""
    side = (pred_class == 2).astype(np.float64) - (pred_class == 0)
    idx = np.flatnonzero(np.isfinite(returns) & (side != 0))
    return idx, side[idx], side[idx] * returns[idx].astype(np.float64) - fee


def trading_metrics(pred_class: np.ndarray, returns: np.ndarray, fee: float) -> dict[str, Any]:
    """``pred_class`` 0 DOWN / 1 FLAT / 2 UP; ``returns`` realised future returns (NaN = unknown).
    Besides the ratios it returns the additive parts (``gross_profit``, ``gross_loss``, ``wins``,
    ``trades``, ``hits``, ``valid``) from which :func:`pool` builds pooled figures."""
    ok = np.isfinite(returns)
    idx, side, pnl = trade_pnl(pred_class, returns, fee)
    n = len(idx)
    hits = int(np.sum(np.sign(returns[idx]) == side)) if n else 0
    return pool([{"trades": n, "valid": int(ok.sum()), "wins": int(np.sum(pnl > 0)), "hits": hits,
                  "gross_profit": float(pnl[pnl > 0].sum()), "gross_loss": float(-pnl[pnl < 0].sum()),
                  "total_pnl": float(pnl.sum())}])


ADDITIVE = ("trades", "valid", "wins", "hits", "gross_profit", "gross_loss", "total_pnl")


def pool(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled trading figures over several sets of trades (horizons, folds): sums of the additive
    parts, then the ratios of the sums (profit factor = total gains / total losses; None when
    there is no loss or no trade)."""
    s = {k: sum(p.get(k) or 0 for p in parts) for k in ADDITIVE}
    s["trades"], s["valid"], s["wins"], s["hits"] = (int(s[k]) for k in ("trades", "valid", "wins", "hits"))
    n = s["trades"]
    return s | {"trade_rate": float(n / s["valid"]) if s["valid"] else 0.0,
                "directional_accuracy": float(s["hits"] / n) if n else None,
                "win_rate": float(s["wins"] / n) if n else None,
                "profit_factor": float(s["gross_profit"] / s["gross_loss"]) if n and s["gross_loss"] > 0 else None,
                "pnl_per_trade": float(s["total_pnl"] / n) if n else None}


def classification_metrics(proba: np.ndarray, labels: np.ndarray, prior: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro F1 and log loss of ``proba`` (N, k) against ``labels`` (NaN = unknown),
    with the baselines: the train majority class (accuracy) and the train class frequencies
    (log loss)."""
    ok = np.isfinite(labels)
    y = labels[ok].astype(int)
    p = np.clip(proba[ok].astype(np.float64), 1e-7, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    k = proba.shape[1]
    if len(y) == 0:
        return {"n": 0}
    prior = np.clip(np.asarray(prior, dtype=np.float64), 1e-7, 1.0)
    prior = prior / prior.sum()
    labels_k = list(range(k))
    return {"n": len(y), "accuracy": float(accuracy_score(y, p.argmax(1))),
            "macro_f1": float(f1_score(y, p.argmax(1), labels=labels_k, average="macro", zero_division=0)),
            "log_loss": float(log_loss(y, p, labels=labels_k)),
            "baseline_accuracy": float(np.mean(y == int(np.argmax(prior)))),
            "baseline_log_loss": float(log_loss(y, np.broadcast_to(prior, p.shape), labels=labels_k))}


def binary_metrics(p1: np.ndarray, labels: np.ndarray, prior1: float) -> dict[str, Any]:
    proba = np.column_stack([1 - p1, p1])
    return classification_metrics(proba, labels, np.array([1 - prior1, prior1]))


def regression_metrics(pred: np.ndarray, truth: np.ndarray, baseline: float) -> dict[str, Any]:
    """MSE and MAE against the truth, and the MSE of a constant ``baseline`` (0 for returns:
    the zero-return forecast; the train median otherwise).  ``skill`` = 1 - mse / baseline mse."""
    ok = np.isfinite(truth)
    if not ok.any():
        return {"n": 0}
    e = pred[ok].astype(np.float64) - truth[ok]
    mse = float(np.mean(e ** 2))
    base = float(np.mean((truth[ok] - baseline) ** 2))
    corr = float(np.corrcoef(pred[ok], truth[ok])[0, 1]) if ok.sum() > 2 and np.std(pred[ok]) > 0 else None
    return {"n": int(ok.sum()), "mse": mse, "mae": float(np.mean(np.abs(e))), "baseline_mse": base,
            "skill": float(1 - mse / base) if base > 0 else None, "corr": corr}


def class_prior(labels: np.ndarray, k: int) -> np.ndarray:
    y = labels[np.isfinite(labels)].astype(int)
    return np.bincount(y, minlength=k).astype(np.float64) / max(len(y), 1)


def mean_of(values: list[Any]) -> float | None:
    v = [float(x) for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


# -- evidence: sample sizes, bootstrap CIs and warnings of a split's final figures ------------------------------
MIN_TRADES = 30
MIN_DAYS = 30


def independent_trades(start_ns: np.ndarray, hold_ns: np.ndarray, symbols: np.ndarray) -> int:
    """The largest number of trades whose holding periods [start, start + hold) do not overlap, per
    symbol (interval scheduling: greedily take the trade that ends first), summed over symbols.
    Written by hand: a few lines of the textbook greedy algorithm, no library offers it."""
    total = 0
    for s in np.unique(symbols):
        m = symbols == s
        st, en = start_ns[m], start_ns[m] + hold_ns[m]
        order = np.argsort(en, kind="stable")
        free = np.iinfo(np.int64).min
        for a, b in zip(st[order].tolist(), en[order].tolist()):
            if a >= free:
                total += 1
                free = b
    return total


def _per_bar(t_ns: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Column sums of the rows sharing a timestamp, in time order (``t_ns`` sorted or not)."""
    if len(t_ns) == 0:
        return np.zeros((0, cols.shape[1]))
    u, inv = np.unique(t_ns, return_inverse=True)
    out = np.zeros((len(u), cols.shape[1]))
    np.add.at(out, inv, cols.astype(np.float64))
    return out


def _fmt_ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:.3g}, {ci[1]:.3g}]"


def trading_evidence(trades: pd.DataFrame, *, days: float, windows: int, split: str) -> dict[str, Any]:
    """Pooled trading figures of one split with their sample, uncertainty and warnings.

    ``trades``: one row per trade (every horizon, every fold) with ``timestamp`` (UTC, the window's
    last bar), ``symbol``, ``horizon``, ``hold_seconds`` (the horizon's length) and ``pnl`` (after the
    round-trip cost). The CI is a stationary block bootstrap of the pooled P&L in time order."""
    from engine.stats.sums import sums_ci

    t = trades.sort_values(["timestamp", "hold_seconds", "symbol"], kind="stable") if len(trades) else trades
    pnl = t["pnl"].to_numpy("float64") if len(t) else np.zeros(0)
    start = t["timestamp"].to_numpy("datetime64[ns]").astype("int64") if len(t) else np.zeros(0, "int64")
    hold = (t["hold_seconds"].to_numpy("int64") * 1_000_000_000) if len(t) else np.zeros(0, "int64")
    sym = t["symbol"].astype(str).to_numpy() if len(t) else np.zeros(0, dtype=object)
    n = len(pnl)
    pos, neg = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    out: dict[str, Any] = {
        "profit_factor": float(pos / neg) if n and neg > 0 else None,
        "win_rate": float(np.mean(pnl > 0)) if n else None,
        "pnl_per_trade": float(pnl.mean()) if n else None,
        "trades": n, "independent_trades": independent_trades(start, hold, sym) if n else 0,
        "gross_profit": float(pos), "gross_loss": float(neg)}
    by_h = {}
    for h, g in (t.groupby("horizon", sort=False) if n else []):
        gp = g["pnl"].to_numpy("float64")
        gpos, gneg = gp[gp > 0].sum(), -gp[gp < 0].sum()
        by_h[str(h)] = {"trades": len(gp), "independent_trades": independent_trades(
            g["timestamp"].to_numpy("datetime64[ns]").astype("int64"), g["hold_seconds"].to_numpy("int64") * 1_000_000_000,
            g["symbol"].astype(str).to_numpy()), "profit_factor": float(gpos / gneg) if gneg > 0 else None,
            "win_rate": float(np.mean(gp > 0)), "pnl_per_trade": float(gp.mean())}
    out["by_horizon"] = by_h
    # the resampled unit is the bar a trade opens at (all its symbols and horizons together: trades opened
    # on the same bar are strongly dependent); per bar: gains, losses, wins, trades, P&L, in time order
    f = _per_bar(start, np.column_stack([np.maximum(pnl, 0), np.maximum(-pnl, 0), (pnl > 0), np.ones(n), pnl]))
    ci, desc = sums_ci(f, {"profit_factor": lambda s, _: np.where(s[:, 1] > 0, s[:, 0] / s[:, 1], np.nan),
                           "win_rate": lambda s, _: s[:, 2] / s[:, 3], "pnl_per_trade": lambda s, _: s[:, 4] / s[:, 3]},
                       block_series=f[:, 4])
    desc["units"] = f"{len(f)} bars with trades (a resampled bar brings all trades opened on it)"
    out["sample"] = {"windows": int(windows), "days": round(float(days), 3), "trades": n,
                     "independent_trades": out["independent_trades"]}
    out["uncertainty"] = ci | {"method": desc | {"over": "pooled trades (all horizons, symbols and folds), resampled by "
                                                         "the bar they open at, in time order"}}
    w = []
    if days < MIN_DAYS:
        w.append(f"{split}: the period covers {days:.1f} days (fewer than {MIN_DAYS})")
    if n < MIN_TRADES:
        w.append(f"{split}: only {n} trades (fewer than {MIN_TRADES}): profit factor and win rate are mostly noise")
    if n and out["independent_trades"] < n:
        w.append(f"{split}: the {n} trades overlap (a window every bar, holding periods of several bars): only "
                 f"{out['independent_trades']} have non-overlapping holding periods, so the trades are not independent")
    if n and out["profit_factor"] is None:
        w.append(f"{split}: no losing trade, the profit factor is undefined")
    pf_ci = ci.get("profit_factor")
    if pf_ci is not None and pf_ci[0] <= 1 <= pf_ci[1]:
        w.append(f"{split}: the 95 % CI of the profit factor {_fmt_ci(pf_ci)} includes 1 (break-even)")
    pt = ci.get("pnl_per_trade")
    if pt is not None and pt[0] <= 0 <= pt[1]:
        w.append(f"{split}: the 95 % CI of the P&L per trade {_fmt_ci(pt)} includes zero")
    out["warnings"] = w
    return out


def _macro_f1_stat(k: int):
    """Macro-F1 from per-class sums: columns 1 + 3c .. 3 + 3c are tp_c, (y == c), (pred == c); a class
    absent from both labels and predictions scores 0 (sklearn's zero_division=0 with labels 0..k-1)."""
    def f(s: np.ndarray, n: int) -> np.ndarray:
        f1 = np.zeros(len(s))
        for c in range(k):
            tp, yc, pc = s[:, 1 + 3 * c], s[:, 2 + 3 * c], s[:, 3 + 3 * c]
            denom = yc + pc
            f1 += np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        return f1 / k
    return f


def classification_evidence(y: np.ndarray, pred: np.ndarray, k: int, baseline_accuracy: float | None,
                            split: str, t_ns: np.ndarray | None = None) -> dict[str, Any]:
    """Pooled accuracy and macro-F1 (sklearn's definition: labels 0..k-1, zero_division 0) of time-ordered
    (label, prediction) pairs, with stationary-bootstrap CIs: the block length comes from the 0/1
    correctness series; each resample keeps the pairs together (per-class counts are summed per resample)."""
    from engine.stats.sums import sums_ci

    y, pred = np.asarray(y, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    n = len(y)
    if n == 0:
        return {"predictions": 0, "uncertainty": {"accuracy": None, "macro_f1": None}, "warnings": []}
    correct = (y == pred).astype(np.float64)
    cols = [correct]
    for c in range(k):
        cols += [((y == c) & (pred == c)).astype(np.float64), (y == c).astype(np.float64), (pred == c).astype(np.float64)]
    cols.append(np.ones(n))
    f = np.column_stack(cols)
    if t_ns is not None:  # resample bars (every prediction made at a bar together), as the trading CIs do
        f = _per_bar(np.asarray(t_ns), f)
    ci, desc = sums_ci(f, {"accuracy": lambda s, _: s[:, 0] / s[:, -1], "macro_f1": _macro_f1_stat(k)},
                       block_series=f[:, 0] / f[:, -1])
    out = {"accuracy": float(correct.mean()), "macro_f1": float(f1_score(y, pred, labels=list(range(k)), average="macro",
                                                                         zero_division=0)),
           "predictions": n, "uncertainty": ci | {"method": desc | {"over": "(label, prediction) pairs in time order" if t_ns is None else
                                                      "bars in time order, each with all its (label, prediction) pairs"}},
           "warnings": []}
    a = ci.get("accuracy")
    if a is not None and baseline_accuracy is not None and a[0] <= baseline_accuracy <= a[1]:
        out["warnings"].append(f"{split}: the 95 % CI of the accuracy {_fmt_ci(a)} includes the majority-class "
                               f"baseline {baseline_accuracy:.3f}")
    return out
