"""``plots/``: PNG images of the main charts for readers without a browser (matplotlib, Agg
backend; kaleido would need a Chrome download).  Layout as the seed's: ``plots/distributions/``
and ``plots/by_class/`` per top feature, plus importance, correlation, drift and exclusions."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.analysis.view import ReportView  # noqa: E402
from engine.plots.analysis import REASON_COLORS, SPLIT_COLORS  # noqa: E402

DPI = 90


def safe_name(feature: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", feature)[:120] or "feature"


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def importance_png(v: ReportView, path: Path, top_n: int) -> Path:
    d = v.importance.nsmallest(top_n, "rank").iloc[::-1]
    fig, ax = plt.subplots(layout="constrained", figsize=(9, max(3.0, 0.25 * len(d) + 1)))
    ax.barh(d["feature"], 0.5 * d["mi_normalized"], color="#1f77b4", label="mutual information (half)")
    ax.barh(d["feature"], 0.5 * d["f_normalized"], left=0.5 * d["mi_normalized"], color="#ff7f0e", label="F-score (half)")
    ax.set_xlabel("combined score (0-100)")
    ax.set_title(f"Top {len(d)} features for {v.meta.get('target', '')}")
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    return _save(fig, path)


def correlation_png(v: ReportView, path: Path, features: list[str]) -> Path:
    c = v.corr.loc[features, features].to_numpy()
    fig, ax = plt.subplots(layout="constrained", figsize=(0.28 * len(features) + 3, 0.28 * len(features) + 2))
    im = ax.imshow(c, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(features)), features, rotation=90, fontsize=6)
    ax.set_yticks(range(len(features)), features, fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.7, label="r")
    ax.set_title("Correlation of the top features (train)")
    return _save(fig, path)


def drift_png(v: ReportView, path: Path, top_n: int, threshold: float) -> Path:
    d = v.drift.assign(_m=v.drift[["psi_val", "psi_test"]].max(axis=1)).nlargest(top_n, "_m").iloc[::-1]
    y = np.arange(len(d))
    fig, ax = plt.subplots(layout="constrained", figsize=(9, max(3.0, 0.28 * len(d) + 1)))
    ax.barh(y - 0.2, d["psi_val"], height=0.4, color=SPLIT_COLORS["val"], label="train -> val")
    ax.barh(y + 0.2, d["psi_test"], height=0.4, color=SPLIT_COLORS["test"], label="train -> test")
    ax.axvline(threshold, color="red", ls="--", lw=1)
    ax.set_yticks(y, d["feature"], fontsize=7)
    ax.set_xlabel("PSI")
    ax.set_title("Largest drift (PSI)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def exclusions_png(v: ReportView, path: Path) -> Path:
    counts = v.reason_counts()
    names, vals = ["included", *counts], [len(v.included), *counts.values()]
    fig, ax = plt.subplots(layout="constrained", figsize=(8, 3.2))
    ax.bar(names, vals, color=["#2ca02c", *(REASON_COLORS[r] for r in counts)])
    for i, val in enumerate(vals):
        ax.text(i, val, str(val), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("features")
    ax.set_title("Features kept and excluded (by reason)")
    ax.tick_params(axis="x", labelsize=8)
    return _save(fig, path)


def distribution_png(v: ReportView, path: Path, feature: str) -> Path:
    d = v.distributions[v.distributions["feature"] == feature]
    fig, ax = plt.subplots(figsize=(6, 3.2))  # fixed margins: a layout engine doubles the drawing time
    for split, color in SPLIT_COLORS.items():
        ax.stairs(d[split].to_numpy(), np.r_[d["bin_left"].to_numpy(), d["bin_right"].to_numpy()[-1:]],
                  label=split, color=color, fill=split == "train", alpha=0.45 if split == "train" else 1.0)
    ax.set_title(f"{feature}: share of rows per bin", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def by_class_png(v: ReportView, path: Path, feature: str) -> Path:
    d = v.by_class[v.by_class["feature"] == feature]
    stats = [{"label": str(n), "q1": r.q25, "med": r.median, "q3": r.q75, "whislo": r.q05, "whishi": r.q95,
              "mean": r.mean, "fliers": []} for n, r in zip(d["class_name"], d.itertuples())]
    fig, ax = plt.subplots(figsize=(6, 3.2))  # fixed margins: a layout engine doubles the drawing time
    ax.bxp(stats, showmeans=True, meanline=True)  # drawn from the stored quantiles
    ax.set_title(f"{feature} by class (whiskers 5%-95%)", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    return _save(fig, path)


def write_plots(v: ReportView, folder: Path, *, on_file: Callable[[str], None] | None = None) -> list[Path]:
    opts = v.meta.get("options", {})
    top_n, per_feature = int(opts.get("top_n", 30)), int(opts.get("plots_top", 12))
    top = v.top_features(top_n)
    out = [importance_png(v, folder / "importance.png", top_n), exclusions_png(v, folder / "exclusions.png")]
    if len(v.corr):
        out.append(correlation_png(v, folder / "correlation_heatmap.png", [f for f in top if f in v.corr.index]))
    if len(v.drift):
        out.append(drift_png(v, folder / "drift.png", top_n, float(opts.get("psi_threshold", 0.2))))
    has_dist = set(v.distributions["feature"]) if len(v.distributions) else set()
    for f in top[:per_feature]:
        if f in has_dist:
            out.append(distribution_png(v, folder / "distributions" / f"{safe_name(f)}_distribution.png", f))
        out.append(by_class_png(v, folder / "by_class" / f"{safe_name(f)}_by_class.png", f))
        if on_file:
            on_file(f)
    return out
