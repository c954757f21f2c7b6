"""The loader of feature-set artifacts (docs/CONTRACTS.md "Feature set artifact").

    fs = load_feature_set(ws, "features-...")
    X = fs.features(fs.usable_features())     # timestamp, symbol + the non-leaking features (float32)
    y = fs.targets(["direction_4h"])          # same rows, same order; class targets as float64, NaN = unknown

Class and binary targets are stored as int8 with nulls; read back they are float64 with NaN
where the target is unknown (the end of the data, a gap) — never 0 / FLAT.

Two layouts are read the same way:

* ``by_symbol`` (every set built since the memory-bounded pipeline): one Parquet file per
  symbol and table, ``features/<SYMBOL>.parquet``, ``targets/<SYMBOL>.parquet``,
  ``labels/<SYMBOL>.parquet``, ``zigzag/<SYMBOL>.parquet``.  A read opens only the files of the
  symbols asked for and only the columns asked for (a pyarrow dataset over those files, in the
  set's symbol order), so one symbol of a 22-symbol set costs one symbol's columns.
* ``single`` (sets built before): one file per table, ``features.parquet`` ...; symbols are
  a row filter on it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from config.errors import BadInput, NotFound
from storage.artifacts import list_manifests, read_manifest
from storage.manifest import Manifest
from storage.workspace import Workspace

FEATURES_FILE, TARGETS_FILE, ZIGZAG_FILE, LABELS_FILE, AUDIT_FILE = (
    "features.parquet", "targets.parquet", "zigzag.parquet", "labels.parquet", "audit.json")
# the by_symbol layout: one folder per table, one file per symbol in it
FEATURES_DIR, TARGETS_DIR, ZIGZAG_DIR, LABELS_DIR = "features", "targets", "zigzag", "labels"
TABLES = {FEATURES_DIR: FEATURES_FILE, TARGETS_DIR: TARGETS_FILE, ZIGZAG_DIR: ZIGZAG_FILE, LABELS_DIR: LABELS_FILE}


def partition_file(table: str, symbol: str) -> str:
    """Path of one symbol's file of ``table`` inside a by_symbol feature set."""
    return f"{table}/{symbol}.parquet"


def has_tables(d: Path, tables=(FEATURES_DIR, TARGETS_DIR)) -> bool:
    """Whether folder ``d`` holds ``tables`` in either layout."""
    return all((d / t).is_dir() or (d / TABLES[t]).is_file() for t in tables)


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

    @property
    def layout(self) -> str:
        """``by_symbol`` (a folder per table, a file per symbol) or ``single`` (a file per table)."""
        return "by_symbol" if (self.path / FEATURES_DIR).is_dir() else "single"

    def table_files(self, table: str, symbols: list[str] | None = None) -> list[Path]:
        """The files of ``table`` (``features``, ``targets``, ``labels``, ``zigzag``) holding ``symbols``
        (all when None), in the set's symbol order; the one file of a single-layout set."""
        if self.layout == "single":
            return [self.path / TABLES[table]]
        wanted = self.symbols if symbols is None else [s for s in self.symbols if s in set(symbols)]
        return [self.path / partition_file(table, s) for s in wanted]

    def dataset(self, table: str, symbols: list[str] | None = None) -> ds.Dataset:
        """A lazy pyarrow dataset over ``table`` (scan it with a column projection / filter):
        only the files of ``symbols`` in the by_symbol layout; the whole file in the single layout
        (filter on ``symbol`` there)."""
        files = self.table_files(table, symbols)
        if not files:  # none of the symbols: an empty dataset with the table's schema
            first = self.table_files(table)[0]
            return ds.dataset(pq.read_schema(first).empty_table())
        return ds.dataset([str(f) for f in files], format="parquet")

    def _read(self, table: str, columns: list[str] | None, known: list[str], what: str,
              symbols: list[str] | None = None) -> pd.DataFrame:
        cols = None
        if columns is not None:
            unknown = [c for c in columns if c not in known]
            if unknown:
                raise BadInput(f"{self.id} has no {what} {', '.join(unknown[:5])}", hint=f"{what}s: {', '.join(known[:8])} ...")
            cols = ["timestamp", "symbol", *[c for c in columns if c not in ("timestamp", "symbol")]]
        if self.layout == "single":
            filters = [("symbol", "in", list(symbols))] if symbols else None
            return pd.read_parquet(self.path / TABLES[table], columns=cols, filters=filters)
        # by_symbol: the symbols choose the files; the projection reads only those columns
        return self.dataset(table, symbols or None).to_table(columns=cols).to_pandas()

    def features(self, columns: list[str] | None = None, symbols: list[str] | None = None) -> pd.DataFrame:
        return self._read(FEATURES_DIR, columns, self.feature_names, "feature", symbols)

    def targets(self, columns: list[str] | None = None, symbols: list[str] | None = None) -> pd.DataFrame:
        return self._read(TARGETS_DIR, columns, self.target_names, "target", symbols)

    def labels(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """timestamp, symbol, pivot (1 at a pivot bar), pivot_label (-1 none, 0 HH 1 LH 2 HL 3 LL),
        confirm_time (from when the label is knowable; null without a pivot). Same rows as features."""
        return self._read(LABELS_DIR, None, [], "label", symbols)

    def zigzag(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """symbol, pivot_time, confirm_time, price, side, type, label."""
        return self._read(ZIGZAG_DIR, None, [], "pivot", symbols)

    def rows(self, symbols: list[str] | None = None) -> int:
        """Rows of ``symbols`` (all when None), counted from the Parquet metadata / the symbol column."""
        d = self.dataset(FEATURES_DIR, symbols)
        if self.layout == "single" and symbols is not None:
            return int(d.count_rows(filter=ds.field("symbol").isin(list(symbols))))
        return int(d.count_rows())

    @cached_property
    def audit(self) -> dict:
        return json.loads((self.path / AUDIT_FILE).read_text())


def load_feature_set(ws: Workspace, featureset_id: str) -> FeatureSet:
    m = read_manifest(ws, featureset_id)
    if m.kind != "features":
        raise BadInput(f"{featureset_id} is a {m.kind} artifact, not a feature set",
                       hint="see `python -m engine features list`")
    d = ws.artifact_dir("features", featureset_id)
    missing = [TABLES[t] for t in (FEATURES_DIR, TARGETS_DIR) if not has_tables(d, (t,))]
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
