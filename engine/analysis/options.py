"""Options of a feature-analysis report, validated when built (bad values are BadInput)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from config.errors import BadInput

# Mutual information uses a k-nearest-neighbour estimator whose cost grows faster than linearly
# with the rows; on long tables it is estimated on a deterministic random sample of at most this
# many TRAIN rows (the F-score, correlations and every statistic use all train rows).  Measured on
# ETHUSDT 15m (23,834 train rows x 171 features, direction_4h): the combined score's rank
# correlation with the all-rows estimate is 0.76 at 6,000 rows, 0.81 at 8,000, 0.83 at 10,000 (two
# different 10,000-row samples agree only to 0.79: the k-NN estimate is noisy at any size), and the
# 20 best features are the same at every size; MI is still about 40% of the report's time at 6,000.
# Raise it with --mi-max-rows when the ranking of weak features matters more than speed.
DEFAULT_MI_MAX_ROWS = 6_000


@dataclass(frozen=True)
class AnalysisOptions:
    corr_threshold: float = 0.95        # |Pearson r| above which a pair is "highly correlated"
    missing_threshold_pct: float = 90.0  # exclude features missing in more than this % of train rows
    low_importance_pct: float = 5.0     # exclude the bottom % by combined score (0 = off)
    mi_max_rows: int = DEFAULT_MI_MAX_ROWS
    min_class_rows: int = 20            # every class of a class target needs this many train rows
    psi_threshold: float = 0.2          # drift flag: PSI above this (train vs val or test)
    ks_threshold: float = 0.1           # drift flag: KS statistic above this
    top_n: int = 30                     # features shown in the charts (by importance)
    plots_top: int = 9                  # panels of plots/distributions.png and plots/by_class.png
    random_state: int = 42

    def __post_init__(self) -> None:
        checks = [
            (0.0 < self.corr_threshold < 1.0, f"correlation threshold must be in (0, 1), got {self.corr_threshold}"),
            (0.0 <= self.missing_threshold_pct <= 100.0, f"missing threshold must be a percentage, got {self.missing_threshold_pct}"),
            (0.0 <= self.low_importance_pct < 100.0, f"low-importance percentile must be in [0, 100), got {self.low_importance_pct}"),
            (self.mi_max_rows >= 100, f"the mutual-information sample cap must be at least 100 rows, got {self.mi_max_rows}"),
            (self.min_class_rows >= 1, f"minimum rows per class must be at least 1, got {self.min_class_rows}"),
            (self.psi_threshold > 0, f"PSI threshold must be positive, got {self.psi_threshold}"),
            (0.0 < self.ks_threshold < 1.0, f"KS threshold must be in (0, 1), got {self.ks_threshold}"),
            (self.top_n >= 1 and self.plots_top >= 0, "top_n must be >= 1 and plots_top >= 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise BadInput(msg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pairs_file(self) -> str:
        """The seed's file name for the pairs: ``highly_correlated_pairs_threshold_0.95.csv``."""
        return f"highly_correlated_pairs_threshold_{self.corr_threshold:.2f}.csv"
