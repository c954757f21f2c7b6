"""Leakage audit (SPEC 4): recompute every feature on data truncated at several cut points and
compare with the values computed on the whole window before each cut.  A feature whose past
values change when later bars are added used the future: it is flagged as leaking, listed,
and left out of training sets by default (``FeatureSet.usable_features()``).

The audit runs on the last ``window`` bars of each symbol (the build records it in
``audit.json``); ``compute`` is any function ``{symbol: Bars} -> {symbol: {name: array}}``,
so a deliberately leaking definition can be audited in tests the same way."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.features.context import Bars

Compute = Callable[[dict[str, Bars]], dict[str, dict[str, np.ndarray]]]


@dataclass
class AuditResult:
    window_bars: int
    cut_points: list[str]
    rtol: float
    atol: float
    features: dict[str, dict] = field(default_factory=dict)
    leaking: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.leaking

    def summary(self) -> dict:
        return {"passed": self.passed, "n_features": len(self.features), "n_leaking": len(self.leaking),
                "leaking": list(self.leaking), "cut_points": self.cut_points, "window_bars": self.window_bars}

    def to_dict(self) -> dict:
        return {**self.summary(), "rtol": self.rtol, "atol": self.atol, "features": self.features}


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat().replace("+00:00", "Z")


def compare(full: np.ndarray, trunc: np.ndarray, rtol: float, atol: float) -> tuple[float, int]:
    """(max abs difference, number of differing values) of two aligned prefixes; a NaN on one
    side only counts as a difference (infinite)."""
    a = np.asarray(full, dtype=np.float64)
    b = np.asarray(trunc, dtype=np.float64)
    na, nb = np.isnan(a), np.isnan(b)
    nan_mismatch = na != nb
    both = ~(na | nb)
    diff = np.abs(a[both] - b[both])
    bad = diff > atol + rtol * np.abs(a[both])
    n_bad = int(bad.sum() + nan_mismatch.sum())
    max_diff = float(diff.max()) if diff.size else 0.0
    if nan_mismatch.any():
        max_diff = float("inf")
    return max_diff, n_bad


def run_audit(compute: Compute, bars: dict[str, Bars], *, window: int, cut_fractions: tuple[float, ...],
              rtol: float, atol: float, progress: Callable[[float, str], None] | None = None) -> AuditResult:
    end = max(int(b.ts[-1]) for b in bars.values())
    starts = [int(b.ts[max(len(b) - window, 0)]) for b in bars.values()]
    start = min(starts)
    win = {s: b.sliced(int(np.searchsorted(b.ts, start)), len(b)) for s, b in bars.items()}
    step = next(iter(bars.values())).step_ns
    cuts = sorted({start + int((end - start) * f) // step * step for f in cut_fractions})
    full = compute(win)
    names = list(next(iter(full.values())).keys()) if full else []
    stats = {n: {"max_abs_diff": 0.0, "differing_values": 0, "compared_values": 0} for n in names}
    for i, cut in enumerate(cuts):
        if progress:
            progress(i / len(cuts), f"audit: cut {i + 1}/{len(cuts)} at {_iso(cut)}")
        part = {s: b.truncated(cut) for s, b in win.items()}
        part = {s: b for s, b in part.items() if len(b)}
        trunc = compute(part)
        for s, feats in trunc.items():
            k = len(part[s])
            for n in names:
                d, bad = compare(full[s][n][:k], feats[n], rtol, atol)
                st = stats[n]
                st["max_abs_diff"] = max(st["max_abs_diff"], d)
                st["differing_values"] += bad
                st["compared_values"] += k
    leaking = [n for n in names if stats[n]["differing_values"] > 0]
    return AuditResult(window_bars=window, cut_points=[_iso(c) for c in cuts], rtol=rtol, atol=atol,
                       features=stats, leaking=leaking)
