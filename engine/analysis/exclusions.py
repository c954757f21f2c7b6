"""Which features to leave out of training, and why; the editable whitelist.

Reasons, decided in this order on the TRAIN statistics (a feature gets its first reason):
1. ``leakage``          - failed the feature set's leakage audit;
2. ``constant``         - constant or all-zero on the train rows (or no finite value at all);
3. ``high_missing``     - missing in more than ``missing_threshold_pct`` % of the train rows;
4. ``high_correlation`` - |r| > threshold with a simpler feature that is kept: the features are
   visited from the simplest (fewer bars of lookback, then fewer inputs, then earlier in the
   feature registry, then the shorter / less composite name) and each is kept unless it is highly correlated with one already kept; so of
   every correlated pair the simpler, more basic feature stays (the seed's rule), and the
   feature named as "kept" really is kept;
5. ``low_importance``   - among the rest, combined importance score in the bottom
   ``low_importance_pct`` % (0 turns this off).

``excluded_features.txt`` keeps the seed's format (``#`` comment lines, one feature per line,
grouped by reason); ``included_features.txt`` is the whitelist training reads (one feature per
line, ``#`` comments and blank lines ignored), which the user may edit.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput

REASONS = ("leakage", "constant", "high_missing", "high_correlation", "low_importance")
REASON_TITLES = {
    "leakage": "Leakage: failed the leakage audit (values change when future bars are removed)",
    "constant": "Constant or all-zero on the train rows",
    "high_missing": "High missing share on the train rows (> {missing:g}%)",
    "high_correlation": "High correlation (|r| > {corr:g}) with a simpler feature that is kept",
    "low_importance": "Low importance (bottom {low:g}% by combined_score)",
}


@dataclass
class Exclusions:
    reasons: dict[str, list[str]] = field(default_factory=lambda: {r: [] for r in REASONS})
    details: dict[str, str] = field(default_factory=dict)   # feature -> why, in words
    included: list[str] = field(default_factory=list)       # whitelist, by importance rank

    @property
    def excluded(self) -> list[str]:
        return [f for r in REASONS for f in self.reasons[r]]

    def table(self) -> pd.DataFrame:
        rows = [{"feature": f, "reason": r, "detail": self.details.get(f, "")} for r in REASONS for f in self.reasons[r]]
        return pd.DataFrame(rows, columns=["feature", "reason", "detail"])


def complexity(name: str, meta: dict[str, Any] | None = None) -> tuple:
    """Sort key: smaller = simpler / more basic.  Bars of lookback, then number of inputs, then
    the position in the feature registry (which declares a family's basic indicators first),
    all when known; then the name (fewer parts, shorter) and the name itself for a stable order."""
    m = meta or {}

    def num(key: str) -> float:
        v = m.get(key)
        return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else 0.0

    inputs = m.get("inputs")
    return (num("lookback"), len(inputs) if isinstance(inputs, (list, tuple)) else 0, num("position"),
            name.count("_"), len(name), name)


def decide(names: list[str], stats: pd.DataFrame, importance: pd.DataFrame, corr: np.ndarray, *,
           leaking: Iterable[str], corr_threshold: float, missing_threshold_pct: float, low_importance_pct: float,
           feature_meta: dict[str, dict] | None = None) -> Exclusions:
    ex = Exclusions()
    meta = feature_meta or {}
    out: dict[str, str] = {}   # feature -> reason

    def mark(feature: str, reason: str, detail: str) -> None:
        if feature not in out:
            out[feature] = reason
            ex.details[feature] = detail

    leak = set(leaking)
    for f in names:
        if f in leak:
            mark(f, "leakage", "listed as leaking by the feature set's audit")
    st = stats.set_index("feature")
    for f in names:
        s = st.loc[f]
        fin = s["count"] - s["infinite"]
        if fin == 0:
            mark(f, "constant", "no finite value on the train rows")
        elif s["zeros_pct"] >= 99.99:
            mark(f, "constant", f"{s['zeros_pct']:.2f}% zeros")
        elif s["min"] == s["max"]:
            mark(f, "constant", f"always {s['min']:.6g}")
    for f in names:
        mp = st.loc[f, "missing_pct"]
        if mp > missing_threshold_pct:
            mark(f, "high_missing", f"{mp:.1f}% missing")
    # simplest first: a feature is kept unless it is highly correlated with one already kept
    idx = {n: i for i, n in enumerate(names)}
    kept: list[int] = []
    for f in sorted((n for n in names if n not in out), key=lambda n: complexity(n, meta.get(n))):
        i = idx[f]
        if kept:
            r = corr[i, kept]
            a = np.abs(np.nan_to_num(r))
            j = int(np.argmax(a))
            if a[j] > corr_threshold:
                mark(f, "high_correlation", f"r = {r[j]:+.4f} with {names[kept[j]]} (kept)")
                continue
        kept.append(i)
    if low_importance_pct > 0:
        rest = importance[~importance["feature"].isin(list(out))]
        cut = float(np.percentile(rest["combined_score"], low_importance_pct)) if len(rest) else 0.0
        if len(rest) and cut < rest["combined_score"].max():  # no spread (all scores equal): nothing is "low"
            for f, sc in rest[["feature", "combined_score"]].itertuples(index=False):
                if sc <= cut:
                    mark(f, "low_importance", f"combined_score {sc:.3f} <= {cut:.3f} (bottom {low_importance_pct:g}%)")
    for f in names:  # keep the feature set's order inside each reason
        if f in out:
            ex.reasons[out[f]].append(f)
    ranked = importance["feature"].tolist()
    unranked = set(names) - set(ranked)
    ex.included = [f for f in ranked if f not in out] + [f for f in names if f not in out and f in unranked]
    return ex


def write_excluded(path: Path, ex: Exclusions, *, report_id: str, target: str, corr: float, missing: float,
                   low: float) -> None:
    lines = ["# Features to exclude from training, grouped by reason (KlineLab feature analysis)",
             f"# report {report_id}, target {target}; computed on the TRAIN split only",
             "# One feature per line; lines starting with # and blank lines are ignored.", ""]
    total = 0
    for r in REASONS:
        feats = ex.reasons[r]
        if not feats:
            continue
        title = REASON_TITLES[r].format(corr=corr, missing=missing, low=low)
        lines += ["# " + "=" * 60, f"# {title}", f"# Count: {len(feats)}", "# " + "=" * 60, *feats, ""]
        total += len(feats)
    lines += ["# " + "=" * 60, f"# Total excluded: {total}", "# " + "=" * 60]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_included(path: Path, features: list[str], *, report_id: str, target: str, note: str = "") -> None:
    head = ["# Features training uses with this report (`--report ID`): the whitelist.",
            f"# report {report_id}, target {target}; ordered by importance rank.",
            "# Edit freely: one feature per line; lines starting with # and blank lines are ignored."]
    if note:
        head.append(f"# {note}")
    path.write_text("\n".join(head + [""] + list(features)) + "\n", encoding="utf-8")


def parse_feature_list(text: str, *, source: str = "feature list") -> list[str]:
    """Names from a whitelist / exclusion file: one per line, ``#`` comments (whole-line or
    trailing) and blank lines ignored; duplicates are an error naming them."""
    names = []
    for line in text.splitlines():
        s = line.split("#", 1)[0].strip()
        if s:
            names.append(s)
    dup = sorted({n for n in names if names.count(n) > 1}) if len(set(names)) != len(names) else []
    if dup:
        raise BadInput(f"{source} lists {', '.join(dup[:5])} more than once", hint="keep one line per feature")
    return names


def parse_excluded(text: str) -> dict[str, list[str]]:
    """Grouped ``excluded_features.txt`` -> {section title: [features]} (seed files too)."""
    groups: dict[str, list[str]] = {}
    title = "excluded"
    prev_rule = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            body = s.lstrip("#").strip()
            if prev_rule and body and not set(body) <= {"="}:
                title = body
            prev_rule = bool(body) and set(body) <= {"="}
            continue
        prev_rule = False
        if s:
            groups.setdefault(title, []).append(s)
    return groups
