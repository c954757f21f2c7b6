"""Options of a feature-analysis report, validated when built (bad values are BadInput naming the field;
the ranges are the field annotations, checked by pydantic through ``config.typed.check_fields``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

import annotated_types as at  # range constraints pydantic reads (pydantic is imported when options are built)

# Mutual information uses a k-nearest-neighbour estimator whose cost grows faster than linearly
# with the rows; on long tables it is estimated on a deterministic random sample of at most this
# many TRAIN rows (the F-score, correlations and every statistic use all train rows).  Measured on
# ETHUSDT 15m (23,834 train rows x 171 features, direction_4h): the combined score's rank
# correlation with the all-rows estimate is 0.76 at 6,000 rows, 0.81 at 8,000, 0.83 at 10,000 (two
# different 10,000-row samples agree only to 0.79: the k-NN estimate is noisy at any size), and the
# 20 best features are the same at every size; MI is still about 40% of the report's time at 6,000.
# Raise it with --mi-max-rows when the ranking of weak features matters more than speed.
DEFAULT_MI_MAX_ROWS = 6_000


Fraction01 = Annotated[float, at.Gt(0.0), at.Lt(1.0)]
Percent = Annotated[float, at.Ge(0.0), at.Le(100.0)]
# at.doc(...): the words an error message uses for the field (config/typed.py)


@dataclass(frozen=True)
class AnalysisOptions:
    """Ranges are the annotations (checked by pydantic when built: a bad value is BadInput naming the field)."""

    corr_threshold: Annotated[Fraction01, at.doc("correlation threshold")] = 0.95   # |Pearson r| above which a pair is "highly correlated"
    missing_threshold_pct: Annotated[Percent, at.doc("missing threshold")] = 90.0  # exclude features missing in more than this % of train rows
    low_importance_pct: Annotated[float, at.Ge(0.0), at.Lt(100.0), at.doc("low-importance percentile")] = 5.0  # exclude the bottom % by combined score (0 = off)
    mi_max_rows: Annotated[int, at.Ge(100), at.doc("mutual-information sample cap")] = DEFAULT_MI_MAX_ROWS
    min_class_rows: Annotated[int, at.Ge(1), at.doc("minimum rows per class")] = 20  # every class of a class target needs this many train rows
    psi_threshold: Annotated[float, at.Gt(0.0), at.doc("PSI threshold")] = 0.2  # drift flag: PSI above this (train vs val or test)
    ks_threshold: Annotated[Fraction01, at.doc("KS threshold")] = 0.1      # drift flag: KS statistic above this
    top_n: Annotated[int, at.Ge(1)] = 30  # features shown in the charts (by importance)
    plots_top: Annotated[int, at.Ge(0)] = 9  # panels of plots/distributions.png and plots/by_class.png
    random_state: int = 42

    def __post_init__(self) -> None:
        from config.typed import check_fields

        check_fields(self, "analysis options")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pairs_file(self) -> str:
        """The seed's file name for the pairs: ``highly_correlated_pairs_threshold_0.95.csv``."""
        return f"highly_correlated_pairs_threshold_{self.corr_threshold:.2f}.csv"
