"""Stage 1 filtering: a bar is a *signal* when P(pivot) = 1 - P(class 0, "no pivot") reaches
the threshold.  (The seed's filter read the wrong probability column; here the signal always
comes from :func:`engine.stage2.stage1.signal_probability`.)  The pass rate per split tells
how selective the filter is; the seed expects 3-5 %."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.splits import SPLITS
from engine.stage2.stage1 import signal_probability


def check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not 0.0 <= t <= 1.0 or not np.isfinite(t):
        raise BadInput(f"signal threshold must be between 0 and 1, got {threshold}")
    return t


def signal_mask(signal_prob: np.ndarray, threshold: float) -> np.ndarray:
    """True where the probability exists and is >= threshold."""
    s = np.asarray(signal_prob, dtype="float64")
    return np.isfinite(s) & (s >= threshold)


def pass_rates(signal_prob: np.ndarray, split: np.ndarray, threshold: float) -> dict[str, dict[str, Any]]:
    """Per split: bars, bars with a Stage 1 probability, signals and pass rate (signals / bars scored)."""
    s = np.asarray(signal_prob, dtype="float64")
    sig = signal_mask(s, threshold)
    out = {}
    for name in SPLITS:
        m = split == name
        scored = int((m & np.isfinite(s)).sum())
        n_sig = int((m & sig).sum())
        out[name] = {"bars": int(m.sum()), "scored": scored, "signals": n_sig,
                     "pass_rate": n_sig / scored if scored else None}
    return out


def threshold_for_rate(signal_prob: np.ndarray, rate: float) -> float | None:
    """The threshold that lets about ``rate`` (0..1) of the scored bars through."""
    if not 0 < rate < 1:
        raise BadInput(f"target pass rate must be between 0 and 1 (exclusive), got {rate}")
    s = np.asarray(signal_prob, dtype="float64")
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return None
    return float(np.quantile(s, 1.0 - rate))


def pass_rate_curve(signal_prob: np.ndarray, split: np.ndarray, thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """Pass rate of each split over a grid of thresholds (sorted values + searchsorted, no loop over bars)."""
    th = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype="float64")
    s = np.asarray(signal_prob, dtype="float64")
    rows = []
    for name in SPLITS:
        v = np.sort(s[(split == name) & np.isfinite(s)])
        if len(v) == 0:
            continue
        passed = len(v) - np.searchsorted(v, th, side="left")
        rows.append(pd.DataFrame({"threshold": th, "split": name, "pass_rate": passed / len(v), "signals": passed}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["threshold", "split", "pass_rate", "signals"])


def split_metrics(proba: np.ndarray, y: np.ndarray, pivot: np.ndarray, split: np.ndarray, labelled: np.ndarray, *,
                  threshold: float) -> dict[str, Any]:
    """Stage 1 quality per split on labelled, scored bars: accuracy of the class, ROC AUC of the
    signal probability for "is a pivot", precision / recall / pass rate of the filter at ``threshold``,
    with the sample behind them (``bars`` scored, real ``pivots`` among them)."""
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    sig = signal_probability(proba)
    scored = np.isfinite(sig) & labelled
    out: dict[str, Any] = {}
    for name in SPLITS:
        m = scored & (split == name)
        if not m.any():
            continue
        pred = np.nanargmax(np.nan_to_num(proba[m], nan=-1.0), axis=1)
        passed = sig[m] >= threshold
        d = {"accuracy": float((pred == y[m]).mean()), "pass_rate": float(passed.mean()),
             "pivot_rate": float(pivot[m].mean()), "bars": int(m.sum()), "pivots": int(pivot[m].sum())}
        if 0 < pivot[m].sum() < m.sum():
            d["auc"] = float(roc_auc_score(pivot[m], sig[m]))
        d["pivot_precision"] = float(precision_score(pivot[m], passed, zero_division=0))
        d["pivot_recall"] = float(recall_score(pivot[m], passed, zero_division=0))
        out[name] = d
    return out


def explore_threshold(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """What a threshold does on stored Stage 1 probabilities (``split``, ``signal_prob``, ``pivot``
    columns, as in a stage1 ``probabilities.parquet`` or a stage2 ``signals.parquet``): per split
    the bars scored, signals, pass rate, real pivots among the signals (the Stage 2 samples) and
    the share of all pivots the filter keeps."""
    t = check_threshold(threshold)
    s = frame["signal_prob"].to_numpy(dtype="float64")
    split = frame["split"].to_numpy()
    piv = frame["pivot"].to_numpy() == 1
    sig = signal_mask(s, t)
    scored = np.isfinite(s)
    rows = []
    for name in SPLITS:
        m = split == name
        n_scored, n_sig, n_piv = int((m & scored).sum()), int((m & sig).sum()), int((m & scored & piv).sum())
        kept = int((m & sig & piv).sum())
        rows.append({"split": name, "scored": n_scored, "signals": n_sig,
                     "pass_rate": n_sig / n_scored if n_scored else np.nan, "stage2_samples": kept,
                     "pivot_precision": kept / n_sig if n_sig else np.nan,
                     "pivots_kept": kept / n_piv if n_piv else np.nan})
    return pd.DataFrame(rows)
