"""Per-epoch metrics: trading metrics after fees, classification and regression skill, and
the naive baselines they are judged against.  Plain numpy on whole arrays.

Trading rule (the same for both models and for the baselines): at a window's last bar take
the predicted class's position (UP long, DOWN short, FLAT nothing) for the horizon; its
P&L is ``side * future_return - fee`` (round trip).
* directional accuracy: share of trades whose side matches the sign of the realised return;
* win rate: share of trades with a positive P&L after the fee;
* profit factor: gross profit / gross loss of those trades after fees (None when no loss).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss


def trading_metrics(pred_class: np.ndarray, returns: np.ndarray, fee: float) -> dict[str, Any]:
    """``pred_class`` 0 DOWN / 1 FLAT / 2 UP; ``returns`` realised future returns (NaN = unknown)."""
    ok = np.isfinite(returns)
    side = (pred_class[ok] == 2).astype(np.float64) - (pred_class[ok] == 0)
    r = returns[ok].astype(np.float64)
    trades = side != 0
    n = int(trades.sum())
    out: dict[str, Any] = {"trades": n, "trade_rate": float(n / len(r)) if len(r) else 0.0}
    if n == 0:
        return out | {"directional_accuracy": None, "win_rate": None, "profit_factor": None, "pnl_per_trade": None,
                      "total_pnl": 0.0}
    pnl = side[trades] * r[trades] - fee
    gain, loss = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    return out | {"directional_accuracy": float(np.mean(np.sign(r[trades]) == side[trades])),
                  "win_rate": float(np.mean(pnl > 0)), "profit_factor": float(gain / loss) if loss > 0 else None,
                  "pnl_per_trade": float(pnl.mean()), "total_pnl": float(pnl.sum())}


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
    return {"n": int(len(y)), "accuracy": float(accuracy_score(y, p.argmax(1))),
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
