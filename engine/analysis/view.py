"""A report as tables: built in memory from an analysis result, or read back from a report
folder (local, or downloaded from the Hub / an SSH host).  The HTML report, the static images
and the Analysis Report page all draw from this one shape."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from config.errors import BadInput
from engine.analysis.exclusions import REASONS, parse_feature_list

if TYPE_CHECKING:  # reading a report needs neither sklearn nor scipy
    from engine.analysis.core import AnalysisResult

FILES = {
    "statistics": "feature_statistics.csv",
    "importance": "feature_importance.csv",
    "outliers": "outliers_analysis.csv",
    "by_class": "feature_by_class_statistics.csv",
    "drift": "feature_drift.csv",
    "distributions": "feature_distributions.csv",
    "exclusions": "exclusions.csv",
    "corr": "feature_correlation.csv",
}
EXCLUDED_TXT = "excluded_features.txt"
INCLUDED_TXT = "included_features.txt"
HTML = "feature_analysis_report.html"
PLOTS = "plots"


@dataclass
class ReportView:
    meta: dict[str, Any]
    statistics: pd.DataFrame
    importance: pd.DataFrame
    outliers: pd.DataFrame
    by_class: pd.DataFrame
    pairs: pd.DataFrame
    drift: pd.DataFrame
    distributions: pd.DataFrame
    exclusions: pd.DataFrame           # feature, reason, detail
    corr: pd.DataFrame                 # square, feature names on both axes
    included: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return self.statistics["feature"].tolist()

    def reason_of(self) -> dict[str, str]:
        return dict(zip(self.exclusions["feature"], self.exclusions["reason"]))

    def reason_counts(self) -> dict[str, int]:
        vc = self.exclusions["reason"].value_counts()
        return {r: int(vc.get(r, 0)) for r in REASONS}

    def top_features(self, n: int) -> list[str]:
        return self.importance.nsmallest(n, "rank")["feature"].tolist() if len(self.importance) else self.features[:n]

    def feature_card(self, feature: str) -> dict[str, pd.DataFrame]:
        """Everything the report says about one feature."""
        pick = {"statistics": self.statistics, "importance": self.importance, "outliers": self.outliers,
                "drift": self.drift, "by_class": self.by_class, "exclusion": self.exclusions}
        card = {k: v[v["feature"] == feature] for k, v in pick.items() if "feature" in v.columns}
        card["correlated"] = self.pairs[(self.pairs["Feature_1"] == feature) | (self.pairs["Feature_2"] == feature)]
        return card

    @classmethod
    def from_result(cls, r: AnalysisResult, meta: dict[str, Any]) -> ReportView:
        return cls(meta=meta, statistics=r.statistics, importance=r.importance, outliers=r.outliers,
                   by_class=r.by_class, pairs=r.pairs, drift=r.drift, distributions=r.distributions,
                   exclusions=r.exclusions.table(), corr=r.corr_frame(), included=list(r.exclusions.included))

    @classmethod
    def read(cls, folder: Path, meta: dict[str, Any]) -> ReportView:
        """Read a report folder.  The seed's five files are required; the others (added by
        KlineLab) are optional so reports made by the seed's scripts open too."""
        folder = Path(folder)

        def csv(name: str, required: bool = False, **kw) -> pd.DataFrame:
            p = folder / name
            if not p.is_file():
                if required:
                    raise BadInput(f"the report folder {folder} has no {name}", hint="download the whole report again")
                return pd.DataFrame()
            try:
                return pd.read_csv(p, **kw)
            except (ValueError, OSError) as e:
                raise BadInput(f"cannot read {p}: {e}") from e

        pairs_files = sorted(folder.glob("highly_correlated_pairs_threshold_*.csv"))
        pairs = csv(pairs_files[0].name) if pairs_files else pd.DataFrame()
        inc = folder / INCLUDED_TXT
        corr = csv(FILES["corr"], index_col=0)
        return cls(meta=meta, statistics=csv(FILES["statistics"], True), importance=csv(FILES["importance"], True),
                   outliers=csv(FILES["outliers"], True), by_class=csv(FILES["by_class"], True),
                   pairs=pairs if len(pairs.columns) else pd.DataFrame(columns=["Feature_1", "Feature_2", "Correlation",
                                                                                "Abs_Correlation"]),
                   drift=csv(FILES["drift"]), distributions=csv(FILES["distributions"]),
                   exclusions=_or(csv(FILES["exclusions"]), ["feature", "reason", "detail"]), corr=corr,
                   included=parse_feature_list(inc.read_text(encoding="utf-8"), source=str(inc)) if inc.is_file() else [])


def _or(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return df if len(df.columns) else pd.DataFrame(columns=columns)


def report_meta(m) -> dict[str, Any]:
    """What the HTML / page show about a report, from its manifest."""
    x = m.extra or {}
    return {"report_id": m.id, "featureset_id": x.get("featureset_id") or (m.parents[0] if m.parents else ""),
            "symbols": list(m.symbols), "timeframe": m.timeframe, "target": x.get("target", m.params.get("target", "")),
            "target_type": x.get("target_type", ""), "split": x.get("split", {}), "options": x.get("options", {}),
            "summary": dict(m.metrics), "class_counts": x.get("class_counts", {}), "created_at": m.created_at,
            "origin": m.origin}
