"""What a trader would get from Stage 2: figures over ALL Stage 1 signal bars of a split, not only
over the ones that later turned out to be pivots.

* **Signal-level truth**: every signal bar of the split (Stage 1 let it through) has a true class in
  five: HH, LH, HL, LL (0..3) when it was a ZigZag pivot, else **"no pivot" (4)**.  Stage 2 never
  predicts "no pivot", so such a bar always counts as wrong.  ``accuracy_signals`` = correct / signals;
  ``macro_f1_signals`` = the unweighted mean of the per-class F1 over the classes present in the truth
  or the predictions (sklearn's ``f1_score(average="macro")`` default; "no pivot" is one of them as
  soon as a signal bar was not a pivot, and its F1 is 0).  ``accuracy_pivots`` is the old figure over
  the signal bars that were pivots only (information the trader does not have at the bar).
* **Baselines** on the same bars (each predicts one of the four pivot types, like the model):
  ``majority``: the most common pivot type of the train split's Stage 2 samples;
  ``previous_pivot``: the type of the last pivot CONFIRMED at or before the bar (confirm_time <= bar;
  no confirmed pivot yet: the majority class);
  ``swing_extreme_20``: the bar is a swing-high candidate when its high is the highest high of the
  last 20 bars (itself included), a swing-low candidate when its low is the lowest low; both or
  neither: the side of the close (close location (close - low) / (high - low) >= 0.5: high, else low;
  a zero-range bar: high).  A high is HH when it is above the high of the last confirmed swing-high
  pivot (HH/LH, confirm_time <= bar), else LH (no confirmed swing high yet: HH); a low is HL when it is
  above the low of the last confirmed swing-low pivot (HL/LL), else LL (none yet: LL).
  (ZigZag pivots are placed on highs and lows, so the swing prices compared are the pivot bars'
  high / low.)
* **Uncertainty**: 95 % stationary block bootstrap (engine.stats.bootstrap) over the signal bars in
  time order: accuracy from 0/1 correctness (``mean_stat``), macro-F1 from the (true, predicted) pairs.

Written here by hand: the baselines and the vectorised macro-F1 over resamples (sklearn has no
batched F1); the single-sample macro-F1 is sklearn's and the tests check the batched one against it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.stage2.data import LABEL_NAMES
from engine.stats.bootstrap import bootstrap_ci, mean_stat

NO_PIVOT = 4
SIGNAL_CLASSES = LABEL_NAMES + ["no_pivot"]
SWING_BARS = 20
BASELINES = ("majority", "previous_pivot", "swing_extreme_20")
MIN_SAMPLE = 30
_CODE = 8  # (true, predicted) pairs are encoded as true * 8 + predicted for the bootstrap

NO_PIVOT_NOTE = ("accuracy_signals / macro_f1_signals cover every signal bar of the split; a signal bar that was not a "
                 "pivot is its own 'no pivot' class, which Stage 2 never predicts, so it counts as wrong. "
                 "accuracy_pivots covers only the signal bars that later turned out to be pivots (not knowable at the bar).")
BASELINE_RULES = {
    "majority": "the most common pivot type among the train split's Stage 2 samples",
    "previous_pivot": "the type of the last pivot confirmed at or before the bar (confirm_time <= bar); none yet: majority",
    "swing_extreme_20": ("high = highest high of the last 20 bars -> HH if above the last confirmed swing-high pivot's high "
                         "else LH; low = lowest low of the last 20 bars -> HL if above the last confirmed swing-low "
                         "pivot's low else LL; both or neither: the side of the close ((close - low) / (high - low) >= 0.5: high)"),
}


def signal_truth(pivot_label: np.ndarray) -> np.ndarray:
    """0..3 at pivots, 4 ("no pivot") elsewhere."""
    lab = np.asarray(pivot_label, dtype="int64")
    return np.where(lab >= 0, lab, NO_PIVOT)


def _last_confirmed(ts_ns: np.ndarray, confirm_ns: np.ndarray, select: np.ndarray) -> np.ndarray:
    """Per bar: the row index of the selected pivot with the latest confirm time <= the bar (-1: none)."""
    rows = np.flatnonzero(select & (confirm_ns >= 0))
    if len(rows) == 0:
        return np.full(len(ts_ns), -1, dtype="int64")
    order = np.lexsort((ts_ns[rows], confirm_ns[rows]))  # by confirm time, then pivot time
    rows = rows[order]
    k = np.searchsorted(confirm_ns[rows], ts_ns, side="right") - 1
    return np.where(k >= 0, rows[np.maximum(k, 0)], -1)


def previous_pivot_class(ts_ns: np.ndarray, pivot_label: np.ndarray, confirm_ns: np.ndarray, fallback: int) -> np.ndarray:
    lab = np.asarray(pivot_label, dtype="int64")
    last = _last_confirmed(ts_ns, confirm_ns, lab >= 0)
    return np.where(last >= 0, lab[np.maximum(last, 0)], fallback).astype("int64")


def swing_extreme_class(ts_ns: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                        pivot_label: np.ndarray, confirm_ns: np.ndarray, window: int = SWING_BARS) -> np.ndarray:
    """The ``swing_extreme_20`` rule of the module docstring, for every bar."""
    high, low, close = (np.asarray(a, dtype="float64") for a in (high, low, close))
    lab = np.asarray(pivot_label, dtype="int64")
    hi_max = pd.Series(high).rolling(window, min_periods=1).max().to_numpy()
    lo_min = pd.Series(low).rolling(window, min_periods=1).min().to_numpy()
    is_hi, is_lo = high >= hi_max, low <= lo_min
    rng = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        loc = np.where(rng > 0, (close - low) / rng, 1.0)
    side_high = np.where(is_hi != is_lo, is_hi, loc >= 0.5)
    last_hi = _last_confirmed(ts_ns, confirm_ns, (lab == 0) | (lab == 1))
    last_lo = _last_confirmed(ts_ns, confirm_ns, (lab == 2) | (lab == 3))
    ref_hi = np.where(last_hi >= 0, high[np.maximum(last_hi, 0)], np.nan)
    ref_lo = np.where(last_lo >= 0, low[np.maximum(last_lo, 0)], np.nan)
    pred_hi = np.where(np.isnan(ref_hi) | (high > ref_hi), 0, 1)
    pred_lo = np.where(~np.isnan(ref_lo) & (low > ref_lo), 2, 3)
    return np.where(side_high, pred_hi, pred_lo).astype("int64")


# -- figures -------------------------------------------------------------------------------------------
def macro_f1(truth: np.ndarray, pred: np.ndarray) -> float | None:
    from sklearn.metrics import f1_score

    if len(truth) == 0:
        return None
    return float(f1_score(truth, pred, average="macro", zero_division=0))


def macro_f1_stat(codes: np.ndarray) -> np.ndarray:
    """Macro-F1 per resample of encoded (true * 8 + predicted) pairs, (resamples, n) -> (resamples,):
    per class 2TP / (2TP + FP + FN), averaged over the classes present in the resample's truth or
    predictions (sklearn's macro average with zero_division=0)."""
    c = np.asarray(codes).astype("int64")
    t, p = c // _CODE, c % _CODE
    total = np.zeros(c.shape[:-1])
    present = np.zeros(c.shape[:-1])
    for k in range(NO_PIVOT + 1):
        tk, pk = t == k, p == k
        tp = (tk & pk).sum(axis=-1)
        denom = tk.sum(axis=-1) + pk.sum(axis=-1)  # 2TP + FP + FN
        has = denom > 0
        total += np.where(has, 2.0 * tp / np.maximum(denom, 1), 0.0)
        present += has
    return np.where(present > 0, total / np.maximum(present, 1), np.nan)


def _acc(truth: np.ndarray, pred: np.ndarray) -> float | None:
    return float((truth == pred).mean()) if len(truth) else None


def split_evidence(name: str, truth: np.ndarray, pred: np.ndarray, baselines: dict[str, np.ndarray], *,
                   bars: int, days: float) -> dict[str, Any]:
    """Figures of one split over its signal bars (in time order): ``truth`` 0..4, ``pred`` 0..3."""
    truth, pred = np.asarray(truth, dtype="int64"), np.asarray(pred, dtype="int64")
    n = len(truth)
    piv = truth != NO_PIVOT
    n_piv = int(piv.sum())
    out: dict[str, Any] = {
        "signals": n, "pivots": n_piv, "no_pivot": n - n_piv,
        "accuracy_signals": _acc(truth, pred), "macro_f1_signals": macro_f1(truth, pred),
        "accuracy_pivots": _acc(truth[piv], pred[piv]), "macro_f1_pivots": macro_f1(truth[piv], pred[piv]),
        "class_shares": {c: (float((truth == k).mean()) if n else None) for k, c in enumerate(SIGNAL_CLASSES)},
        "predicted_shares": {c: (float((pred == k).mean()) if n else None) for k, c in enumerate(LABEL_NAMES)},
        "baselines": {b: _acc(truth, p) for b, p in baselines.items()},
        "baselines_pivots": {b: _acc(truth[piv], p[piv]) for b, p in baselines.items()},
        "baselines_macro_f1_signals": {b: macro_f1(truth, p) for b, p in baselines.items()},
        "sample": {"signals": n, "pivots": n_piv, "bars": int(bars), "days": round(float(days), 2)},
    }
    with np.errstate(all="ignore"):  # the block-length rule divides by zero on constant stretches (handled there)
        ci, desc = bootstrap_ci((truth == pred).astype("float64"), {"accuracy_signals": mean_stat})
        ci_f1, _ = bootstrap_ci((truth * _CODE + pred).astype("float64"), {"macro_f1_signals": macro_f1_stat})
        ci_piv, desc_piv = bootstrap_ci((truth[piv] == pred[piv]).astype("float64"), {"accuracy_pivots": mean_stat})
    out["uncertainty"] = ci | ci_f1 | ci_piv | {"method": desc, "method_pivots": desc_piv}
    out["warnings"] = split_warnings(name, out)
    return out


def split_warnings(name: str, ev: dict[str, Any]) -> list[str]:
    w: list[str] = []
    n, n_piv, days = ev["signals"], ev["pivots"], ev["sample"]["days"]
    if n < MIN_SAMPLE:
        w.append(f"{name}: only {n} signal bars (fewer than {MIN_SAMPLE}): the accuracy over signals is not reliable")
    if n_piv < MIN_SAMPLE:
        w.append(f"{name}: only {n_piv} signal bars were pivots (fewer than {MIN_SAMPLE}): the pivot-only accuracy is not reliable")
    if days < 30:
        w.append(f"{name}: the split covers {days:.1f} days (fewer than 30)")
    base = {k: v for k, v in ev["baselines"].items() if v is not None}
    ci = ev["uncertainty"].get("accuracy_signals")
    acc = ev["accuracy_signals"]
    if base and acc is not None:
        best = max(base, key=base.get)
        if ci and ci[0] <= base[best]:
            w.append(f"{name}: the 95% CI of the accuracy over signals [{ci[0]:.3f}, {ci[1]:.3f}] includes or lies below "
                     f"the best baseline ({best} {base[best]:.3f}): no evidence of skill beyond it")
        elif ci is None and acc <= base[best]:
            w.append(f"{name}: the accuracy over signals {acc:.3f} does not beat the best baseline ({best} {base[best]:.3f})")
    if n and ev["no_pivot"] / n >= 0.5:
        w.append(f"{name}: {ev['no_pivot']} of {n} signal bars were not pivots; Stage 2 is wrong on all of them")
    return w


def baseline_predictions(ts_ns: np.ndarray, pivot_label: np.ndarray, confirm_ns: np.ndarray, majority: int,
                         candles: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Each baseline's prediction for every bar (``candles``: high, low, close aligned to the bars;
    None leaves the price heuristic out)."""
    n = len(ts_ns)
    out = {"majority": np.full(n, majority, dtype="int64"),
           "previous_pivot": previous_pivot_class(ts_ns, pivot_label, confirm_ns, majority)}
    if candles is not None:
        out["swing_extreme_20"] = swing_extreme_class(ts_ns, candles["high"].to_numpy(), candles["low"].to_numpy(),
                                                      candles["close"].to_numpy(), pivot_label, confirm_ns)
    return out
