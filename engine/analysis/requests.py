"""Typed ``analyze`` request: what ``python -m engine analyze FEATURESET_ID ...`` parses and what the
Analysis page builds (engine/requests.py; field names are the argparse ``dest`` names of
engine/analysis/cli.py).  Defaults are :class:`AnalysisOptions`'s; the options check the ranges
(their messages name the option) when :meth:`AnalyzeRequest.options` builds them."""
from __future__ import annotations

from typing import ClassVar

from engine.analysis.options import AnalysisOptions
from engine.requests import CliRequest

_D = AnalysisOptions


class AnalyzeRequest(CliRequest):
    """``analyze FEATURESET_ID --target T [--train-end ...] [--val-end ...] [thresholds]``."""

    command: ClassVar[tuple[str, ...]] = ("analyze",)
    positional: ClassVar[tuple[str, ...]] = ("featureset_id",)
    featureset_id: str
    target: str
    train_end: str | None = None
    val_end: str | None = None
    corr_threshold: float = _D.corr_threshold
    missing_threshold: float = _D.missing_threshold_pct
    low_importance_pct: float = _D.low_importance_pct
    mi_max_rows: int = _D.mi_max_rows
    min_class_rows: int = _D.min_class_rows
    psi_threshold: float = _D.psi_threshold
    ks_threshold: float = _D.ks_threshold
    name: str | None = None

    def options(self) -> AnalysisOptions:
        return AnalysisOptions(corr_threshold=self.corr_threshold, missing_threshold_pct=self.missing_threshold,
                               low_importance_pct=self.low_importance_pct, mi_max_rows=self.mi_max_rows,
                               min_class_rows=self.min_class_rows, psi_threshold=self.psi_threshold,
                               ks_threshold=self.ks_threshold)
