"""``plots/``: PNG images of the main charts for readers without a browser (matplotlib, Agg
backend; kaleido would need a Chrome download): importance.png, correlation_heatmap.png, drift.png, and distributions.png / by_class.png with one panel per top
feature (the seed wrote one file per feature into distributions/ and by_class/; a grid draws the
same charts in a fraction of the time)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from engine.analysis.view import ReportView
from engine.plots.analysis import SPLIT_COLORS

DPI = 90


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


def _grid(n: int, title: str):
    cols = 3
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.6 * rows + 0.6), squeeze=False)
    fig.subplots_adjust(left=0.05, right=0.99, top=1 - 0.85 / (2.6 * rows + 0.6), bottom=0.06, hspace=0.55, wspace=0.2)
    fig.suptitle(title, fontsize=11)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def distributions_png(v: ReportView, path: Path, features: list[str]) -> Path:
    """Share of train / val / test rows per bin, one panel per feature."""
    fig, axes = _grid(len(features), "Distributions of the top features (share of rows per bin)")
    for ax, f in zip(axes, features):
        d = v.distributions[v.distributions["feature"] == f]
        edges = np.r_[d["bin_left"].to_numpy(), d["bin_right"].to_numpy()[-1:]]
        for split, color in SPLIT_COLORS.items():
            ax.stairs(d[split].to_numpy(), edges, label=split, color=color, fill=split == "train",
                      alpha=0.45 if split == "train" else 1.0)
        ax.set_title(f, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_yticks([])  # shares: the shapes matter, not the numbers
    axes[0].legend(fontsize=6)
    return _save(fig, path)


def by_class_png(v: ReportView, path: Path, features: list[str]) -> Path:
    """Box per class from the stored quantiles (box = quartiles, whiskers 5%-95%, line = median,
    dashed = mean), one panel per feature; drawn as bars and line collections (four artists a
    panel: ``Axes.bxp`` makes a dozen per box, which triples the drawing time)."""
    fig, axes = _grid(len(features), "Top features by class (box = quartiles, whiskers 5%-95%, dashed = mean)")
    for ax, f in zip(axes, features):
        d = v.by_class[v.by_class["feature"] == f]
        x = np.arange(len(d))
        ax.vlines(x, d["q05"], d["q95"], color="#555", lw=1)
        ax.bar(x, d["q75"] - d["q25"], bottom=d["q25"], width=0.5, color="#9ecae1", edgecolor="#1f77b4")
        ax.hlines(d["median"], x - 0.25, x + 0.25, color="#08306b", lw=1.5)
        ax.hlines(d["mean"], x - 0.25, x + 0.25, color="#d62728", lw=1, linestyles="dashed")
        ax.set_xticks(x, [str(n) for n in d["class_name"]])
        ax.set_title(f, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.yaxis.set_major_locator(MaxNLocator(4))
    return _save(fig, path)


def write_plots(v: ReportView, folder: Path) -> list[Path]:
    opts = v.meta.get("options", {})
    top_n, per_feature = int(opts.get("top_n", 30)), int(opts.get("plots_top", 9))
    top = v.top_features(top_n)
    out = [importance_png(v, folder / "importance.png", top_n)]
    if len(v.corr):
        out.append(correlation_png(v, folder / "correlation_heatmap.png", [f for f in top if f in v.corr.index]))
    if len(v.drift):
        out.append(drift_png(v, folder / "drift.png", top_n, float(opts.get("psi_threshold", 0.2))))
    feats = top[:per_feature]
    if feats and len(v.distributions):
        binned = set(v.distributions["feature"])
        out.append(distributions_png(v, folder / "distributions.png", [f for f in feats if f in binned]))
    if feats and {"q25", "q75"} <= set(v.by_class.columns):
        out.append(by_class_png(v, folder / "by_class.png", feats))
    return out
