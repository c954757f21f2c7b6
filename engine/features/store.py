"""The loader of feature-set artifacts (docs/CONTRACTS.md "Feature set artifact").

    fs = load_feature_set(ws, "features-...")
    X = fs.features(fs.usable_features())     # timestamp, symbol + the non-leaking features (float32)
    y = fs.targets(["direction_4h"])          # same rows, same order; class targets as float64, NaN = unknown

Class and binary targets are stored as int8 with nulls; read back they are float64 with NaN
where the target is unknown (the end of the data, a gap) — never 0 / FLAT.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from config.errors import BadInput, NotFound
from storage.artifacts import list_manifests, read_manifest
from storage.manifest import Manifest
from storage.workspace import Workspace

FEATURES_FILE, TARGETS_FILE, ZIGZAG_FILE, LABELS_FILE, AUDIT_FILE = (
    "features.parquet", "targets.parquet", "zigzag.parquet", "labels.parquet", "audit.json")


@dataclass
class FeatureSet:
    id: str
    manifest: Manifest
    path: Path

    @property
    def timeframe(self) -> str:
        return self.manifest.timeframe

    @property
    def symbols(self) -> list[str]:
        return list(self.manifest.symbols)

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest.extra.get("feature_names", []))

    @property
    def target_names(self) -> list[str]:
        return list(self.manifest.extra.get("target_names", []))

    @property
    def target_meta(self) -> dict[str, dict]:
        return dict(self.manifest.extra.get("targets", {}))

    @property
    def leaking(self) -> list[str]:
        return list(self.manifest.extra.get("leaking", []))

    @property
    def max_horizon_bars(self) -> int:
        return int(self.manifest.extra.get("max_horizon_bars", 1))

    @property
    def feature_families(self) -> dict[str, str]:
        return dict(self.manifest.extra.get("feature_families", {}))

    def usable_features(self) -> list[str]:
        """The feature names minus the ones the leakage audit flagged."""
        bad = set(self.leaking)
        return [n for n in self.feature_names if n not in bad]

    def _read(self, fname: str, columns: list[str] | None, known: list[str], what: str,
              symbols: list[str] | None = None) -> pd.DataFrame:
        cols = None
        if columns is not None:
            unknown = [c for c in columns if c not in known]
            if unknown:
                raise BadInput(f"{self.id} has no {what} {', '.join(unknown[:5])}", hint=f"{what}s: {', '.join(known[:8])} ...")
            cols = ["timestamp", "symbol", *[c for c in columns if c not in ("timestamp", "symbol")]]
        filters = None
        if symbols:
            filters = [("symbol", "in", list(symbols))]
        return pd.read_parquet(self.path / fname, columns=cols, filters=filters)

    def features(self, columns: list[str] | None = None, symbols: list[str] | None = None) -> pd.DataFrame:
        return self._read(FEATURES_FILE, columns, self.feature_names, "feature", symbols)

    def targets(self, columns: list[str] | None = None, symbols: list[str] | None = None) -> pd.DataFrame:
        return self._read(TARGETS_FILE, columns, self.target_names, "target", symbols)

    def labels(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """timestamp, symbol, pivot (1 at a pivot bar), pivot_label (-1 none, 0 HH 1 LH 2 HL 3 LL),
        confirm_time (from when the label is knowable; null without a pivot). Same rows as features."""
        return self._read(LABELS_FILE, None, [], "label", symbols)

    def zigzag(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """symbol, pivot_time, confirm_time, price, side, type, label."""
        return self._read(ZIGZAG_FILE, None, [], "pivot", symbols)

    @cached_property
    def audit(self) -> dict:
        return json.loads((self.path / AUDIT_FILE).read_text())


def load_feature_set(ws: Workspace, featureset_id: str) -> FeatureSet:
    m = read_manifest(ws, featureset_id)
    if m.kind != "features":
        raise BadInput(f"{featureset_id} is a {m.kind} artifact, not a feature set",
                       hint="see `python -m engine features list`")
    d = ws.artifact_dir("features", featureset_id)
    missing = [f for f in (FEATURES_FILE, TARGETS_FILE) if not (d / f).is_file()]
    if missing:
        raise NotFound(f"feature set {featureset_id} lacks {', '.join(missing)}")
    return FeatureSet(featureset_id, m, d)


def list_feature_sets(ws: Workspace) -> list[FeatureSet]:
    out = []
    for m in list_manifests(ws, "features"):
        out.append(FeatureSet(m.id, m, ws.artifact_dir("features", m.id)))
    return sorted(out, key=lambda f: f.manifest.created_at, reverse=True)


def feature_table(fs: FeatureSet) -> pd.DataFrame:
    """One row per feature of the set: family, lookback, inputs, description (from the registry),
    the audit's max abs difference and a leaking flag."""
    from engine.features.registry import registry

    reg = registry().features
    audit = fs.audit.get("features", {}) if (fs.path / AUDIT_FILE).is_file() else {}
    leaking = set(fs.leaking)
    rows = []
    for n in fs.feature_names:
        d = reg.get(n)
        a = audit.get(n, {})
        rows.append({"feature": n, "family": fs.feature_families.get(n, d.family if d else ""),
                     "lookback": d.lookback if d else None, "inputs": " ".join(d.inputs) if d else "",
                     "audit_max_abs_diff": a.get("max_abs_diff"), "leaking": n in leaking,
                     "description": d.description if d else "(no longer in the registry)"})
    return pd.DataFrame(rows)
