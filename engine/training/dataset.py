"""Windows dataset (SPEC 6): per-symbol context windows that never cross a gap, a symbol
boundary or a row with a missing input; a RobustScaler fitted on train rows only; targets
taken at the last bar of each window, masked (not filled) where null.

The whole scaled feature matrix is held once as a float32 tensor; a window is identified by
the row index of its last bar, and a batch is gathered in one indexing operation
(``X[ends[:, None] + offsets]``), so no per-window Python work happens on the hot path.

Memory-bounded construction: the inputs are read a group of columns at a time (missing /
constant checks and the RobustScaler fit on the train rows, column by column as sklearn does)
and then a block of rows at a time (scaled, clipped, written).  ``build_windows`` takes two
aligned DataFrames and keeps the matrix in memory; ``build_windows_lazy`` reads a feature set's
Parquet files itself (only the symbols, rows and columns asked for) and writes the scaled
matrix, the targets and the aux columns to float32 files in a scratch folder that are
memory-mapped: only the pages of the windows a batch gathers are read.  Both give the same WindowSet, value for value.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sklearn.preprocessing import RobustScaler

from config import settings
from config.errors import BadInput
from engine.data.canonical import ts_ns
from engine.data.timeframes import tf_seconds
from engine.splits import SPLITS, SplitPlan

TARGET_TYPES = ("regression", "multiclass", "binary")
BUILD_MEMORY_MB = 256  # what one column group / row block may take while the windows are built


@dataclass(frozen=True)
class TargetSpec:
    name: str
    type: str  # regression | multiclass | binary
    n_classes: int = 1  # outputs of the head: 1 for regression and binary (one logit), k for multiclass
    horizon: str | None = None

    @property
    def is_class(self) -> bool:
        return self.type != "regression"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "n_classes": self.n_classes, "horizon": self.horizon}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetSpec:
        return cls(d["name"], d["type"], int(d.get("n_classes", 1)), d.get("horizon"))


def target_specs(meta: dict[str, dict], names: list[str]) -> list[TargetSpec]:
    """Specs of ``names`` from a feature set's ``extra.targets`` metadata."""
    out = []
    for n in names:
        m = meta.get(n)
        if m is None:
            raise BadInput(f"target {n!r} is not in the feature set", hint=f"targets: {', '.join(meta)}")
        t = m.get("type")
        if t not in TARGET_TYPES:
            raise BadInput(f"target {n!r} has unknown type {t!r} in the feature set metadata")
        k = (len(m.get("classes") or []) or 3) if t == "multiclass" else 1
        out.append(TargetSpec(n, t, k, m.get("horizon")))
    return out


# -- scaler ---------------------------------------------------------------------------------
@dataclass
class Scalers:
    """Input scaler (sklearn RobustScaler) plus the robust centre / scale of regression targets.

    Saved as JSON (``scaler.json``), never pickled: the fitted attributes are plain lists."""

    inputs: RobustScaler
    feature_names: list[str]
    clip: float
    target_center: dict[str, float] = field(default_factory=dict)
    target_scale: dict[str, float] = field(default_factory=dict)
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale and clip inputs (rows x features in ``feature_names`` order); NaN stays NaN."""
        out = (np.asarray(values, dtype="float64") - self.inputs.center_) / self.inputs.scale_
        return np.clip(out, -self.clip, self.clip).astype("float32")

    def to_json(self) -> dict[str, Any]:
        return {"kind": "sklearn.preprocessing.RobustScaler", "quantile_range": list(self.inputs.quantile_range),
                "feature_names": list(self.feature_names), "center": [float(x) for x in self.inputs.center_],
                "scale": [float(x) for x in self.inputs.scale_], "clip": self.clip,
                "targets": {n: {"center": self.target_center[n], "scale": self.target_scale[n]} for n in self.target_center},
                "fitted_on": self.fitted_on}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Scalers:
        try:
            names = [str(x) for x in d["feature_names"]]
            center = np.asarray(d["center"], dtype="float64")
            scale = np.asarray(d["scale"], dtype="float64")
            if not (len(names) == len(center) == len(scale)) or not np.all(np.isfinite(center)) or not np.all(scale > 0):
                raise ValueError("feature_names, center and scale must have the same length; scales > 0")
            sc = RobustScaler(quantile_range=tuple(d.get("quantile_range", (25.0, 75.0))))
            sc.center_, sc.scale_, sc.n_features_in_ = center, scale, len(names)
            tg = d.get("targets") or {}
            return cls(sc, names, float(d.get("clip", 10.0)), {k: float(v["center"]) for k, v in tg.items()},
                       {k: float(v["scale"]) for k, v in tg.items()}, dict(d.get("fitted_on") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise BadInput(f"scaler file is malformed: {e}") from None


def fit_scalers(features: np.ndarray, feature_names: list[str], targets: np.ndarray, specs: list[TargetSpec],
                train_rows: np.ndarray, clip: float, fitted_on: dict | None = None) -> Scalers:
    """Fit on ``train_rows`` only (a boolean mask).  sklearn's RobustScaler ignores NaN."""
    x = features[train_rows]
    if len(x) == 0:
        raise BadInput("no training rows to fit the scaler on")
    sc = RobustScaler(quantile_range=(25.0, 75.0)).fit(x)  # zero IQR -> scale 1 (sklearn)
    center, scale = {}, {}
    for j, s in enumerate(specs):
        if s.type != "regression":
            continue
        center[s.name], scale[s.name] = _target_scale(s.name, targets[train_rows, j])
    return Scalers(sc, list(feature_names), float(clip), center, scale, dict(fitted_on or {}))


def _target_scale(name: str, y: np.ndarray) -> tuple[float, float]:
    """Robust centre and scale of a regression target's train values."""
    y = y[np.isfinite(y)]
    if len(y) == 0:
        raise BadInput(f"target {name} has no values in the training split")
    q25, med, q75 = np.percentile(y, [25, 50, 75])
    iqr = float(q75 - q25)
    return float(med), (iqr if iqr > 0 else float(np.std(y)) or 1.0)


# -- windows --------------------------------------------------------------------------------
def window_ends(ts: np.ndarray, symbols: np.ndarray, valid: np.ndarray, *, context: int, step_ns: int) -> np.ndarray:
    """Row indices ``e`` such that rows ``e-context+1 .. e`` are all valid, of one symbol and
    consecutive bars (each exactly ``step_ns`` after the previous).  Rows must be sorted by
    symbol, then time.  Vectorised with cumulative sums."""
    n = len(ts)
    if n < context:
        return np.empty(0, dtype=np.int64)
    broken = np.ones(n, dtype=np.int64)  # broken[i] = the link (i-1 -> i) is not a next bar of the same symbol
    if n > 1:
        broken[1:] = ((symbols[1:] != symbols[:-1]) | (np.diff(ts) != step_ns)).astype(np.int64)
    bad = (~valid).astype(np.int64)
    cb = np.concatenate([[0], np.cumsum(broken)])
    cv = np.concatenate([[0], np.cumsum(bad)])
    e = np.arange(context - 1, n)
    s = e - context + 1
    links_ok = (cb[e + 1] - cb[s + 1]) == 0  # links s+1..e
    rows_ok = (cv[e + 1] - cv[s]) == 0  # rows s..e
    return e[links_ok & rows_ok]


@dataclass
class WindowSet:
    """Scaled inputs, targets and the window ends of each split."""

    x: torch.Tensor  # (rows, features) float32, scaled and clipped; NaN replaced by 0 (never inside a window)
    y: torch.Tensor  # (rows, targets) float32; class targets as class indices; NaN = missing; regression scaled
    ends: dict[str, np.ndarray]  # split -> row index of each window's last bar
    context: int
    feature_names: list[str]
    specs: list[TargetSpec]
    scalers: Scalers
    timestamps: np.ndarray  # epoch ns of each row
    symbols: np.ndarray  # symbol of each row
    y_raw: np.ndarray  # (rows, targets) unscaled targets (for metrics and baselines)
    aux: torch.Tensor  # (rows, aux columns) raw target columns used by losses / metrics, not learned (future returns)
    aux_names: list[str]
    dropped_features: dict[str, str] = field(default_factory=dict)
    timeframe: str = ""  # of the rows (holding periods of the trading metrics)
    offsets: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.offsets = torch.arange(-self.context + 1, 1, dtype=torch.long)

    def batch(self, ends: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs (B, context, features), targets (B, targets) and aux columns (B, aux) of the
        windows ending at ``ends`` (on the device the tensors live on)."""
        e = torch.as_tensor(ends, dtype=torch.long, device=self.x.device)
        return self.x[e[:, None] + self.offsets], self.y[e], self.aux[e]

    def to(self, device: torch.device) -> WindowSet:
        """Move the tensors to ``device`` once, so batches are gathered there."""
        self.x, self.y, self.aux, self.offsets = (t.to(device) for t in (self.x, self.y, self.aux, self.offsets))
        return self

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.ends.items()}


# -- sources: where build_windows reads its rows ------------------------------------------------
def _finite64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype="float64")
    if not a.flags.writeable:
        a = a.copy()
    a[~np.isfinite(a)] = np.nan
    return a


class _FrameSource:
    """Two aligned DataFrames in memory (sorted by symbol, then time)."""

    def __init__(self, features: pd.DataFrame, targets: pd.DataFrame):
        ts = ts_ns(features["timestamp"])
        sym = features["symbol"].astype(str).to_numpy()
        if (ts_ns(targets["timestamp"]) != ts).any() or (targets["symbol"].astype(str).to_numpy() != sym).any():
            raise BadInput("targets.parquet rows do not match features.parquet rows (timestamp, symbol)")
        order = np.lexsort((ts, sym))
        if not np.array_equal(order, np.arange(len(ts))):
            features, targets = features.iloc[order].reset_index(drop=True), targets.iloc[order].reset_index(drop=True)
            ts, sym = ts[order], sym[order]
        self.features, self.targets, self.ts, self.sym = features, targets, ts, sym
        self.target_names = list(targets.columns)

    def columns(self, names: list[str], rows: np.ndarray) -> np.ndarray:
        """float64 (rows.sum(), len(names)) of the feature columns ``names`` at the rows of the mask."""
        return _finite64(self.features[names].to_numpy(dtype="float64", na_value=np.nan)[rows])

    def row_blocks(self, names: list[str], block: int) -> Iterator[np.ndarray]:
        for a in range(0, len(self.ts), block):  # a copy: the block is scaled in place
            yield _finite64(np.array(self.features[names].iloc[a:a + block].to_numpy(dtype="float64", na_value=np.nan)))

    def target(self, name: str) -> np.ndarray:
        return self.targets[name].to_numpy(dtype="float64", na_value=np.nan)


class _ParquetSource:
    """A feature set's Parquet files, read lazily: the files of the chosen symbols, the rows of
    ``keep`` (a mask over those symbols' rows) and only the columns asked for."""

    def __init__(self, fs, symbols: list[str], keep: np.ndarray | None):
        syms = [s for s in fs.symbols if s in set(symbols)]
        self.ffiles, self.tfiles = fs.table_files("features", syms), fs.table_files("targets", syms)
        self.masks: list[np.ndarray | None] = []
        ts_parts, sym_parts = [], []
        at = 0
        for ff, tf in zip(self.ffiles, self.tfiles, strict=True):
            idx = pq.read_table(ff, columns=["timestamp", "symbol"])
            tidx = pq.read_table(tf, columns=["timestamp", "symbol"])
            if not idx.equals(tidx):
                raise BadInput("targets.parquet rows do not match features.parquet rows (timestamp, symbol)")
            if fs.layout == "single":
                sym = idx.column("symbol").to_numpy(zero_copy_only=False).astype(object)
                mask = np.isin(sym, syms)
            else:  # one symbol per file: one str object shared by its rows
                sym = np.full(idx.num_rows, syms[len(ts_parts)], dtype=object)
                mask = np.ones(idx.num_rows, dtype=bool)
            if keep is not None:
                n_sel = int(mask.sum())
                mask[np.flatnonzero(mask)] = keep[at:at + n_sel]
                at += n_sel
            ts = ts_ns(idx.column("timestamp").to_pandas())
            self.masks.append(None if mask.all() else mask)
            ts_parts.append(ts[mask])
            sym_parts.append(sym[mask])
        if keep is not None and at != len(keep):
            raise BadInput(f"the row selection has {len(keep)} rows, the feature set's symbols {at}")
        self.ts = np.concatenate(ts_parts) if ts_parts else np.empty(0, dtype=np.int64)
        self.sym = np.concatenate(sym_parts) if sym_parts else np.empty(0, dtype=object)
        codes = np.searchsorted(np.array(syms, dtype=object), self.sym) if fs.layout == "single" else \
            np.repeat(np.arange(len(ts_parts)), [len(t) for t in ts_parts])
        if len(self.ts) > 1 and not ((np.diff(codes) > 0) | ((np.diff(codes) == 0) & (np.diff(self.ts) > 0))).all():
            raise BadInput("the feature set's rows are not sorted by symbol, then time", hint="build the feature set again")
        self.target_names = [n for n in pq.read_schema(self.tfiles[0]).names] if self.tfiles else []

    @staticmethod
    def _matrix(table: pa.Table, names: list[str], mask: np.ndarray | None) -> np.ndarray:
        out = np.empty((table.num_rows if mask is None else int(mask.sum()), len(names)), dtype="float64")
        for j, n in enumerate(names):
            col = table.column(n).to_numpy(zero_copy_only=False)
            out[:, j] = col if mask is None else col[mask]
        out[~np.isfinite(out)] = np.nan
        return out

    def columns(self, names: list[str], rows: np.ndarray) -> np.ndarray:
        out = np.empty((int(rows.sum()), len(names)), dtype="float64")
        at = pos = 0
        for f, m in zip(self.ffiles, self.masks, strict=True):
            n_file = pq.ParquetFile(f).metadata.num_rows
            n_sel = n_file if m is None else int(m.sum())
            r = rows[pos:pos + n_sel]
            pos += n_sel
            if not r.any():
                continue
            sel = np.flatnonzero(m)[r] if m is not None else np.flatnonzero(r)
            full = np.zeros(n_file, dtype=bool)
            full[sel] = True
            block = self._matrix(pq.read_table(f, columns=names), names, full)
            out[at:at + len(block)] = block
            at += len(block)
        return out

    def row_blocks(self, names: list[str], block: int) -> Iterator[np.ndarray]:
        for f, m in zip(self.ffiles, self.masks, strict=True):
            start = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=block, columns=names):
                n = batch.num_rows
                part = None if m is None else m[start:start + n]
                start += n
                if part is not None and not part.any():
                    continue
                yield self._matrix(pa.Table.from_batches([batch]), names, part)
            _release()

    def target(self, name: str) -> np.ndarray:
        parts = []
        for f, m in zip(self.tfiles, self.masks, strict=True):
            col = pq.read_table(f, columns=[name]).column(name).to_numpy(zero_copy_only=False).astype("float64")
            parts.append(col if m is None else col[m])
        return np.concatenate(parts) if parts else np.empty(0)


# -- windows from a source -------------------------------------------------------------------------
def build_windows(features: pd.DataFrame, targets: pd.DataFrame, *, input_names: list[str], specs: list[TargetSpec],
                  plan: SplitPlan, timeframe: str, context: int, stride: int = 1, clip: float = 10.0,
                  max_missing_frac: float = 0.05, aux_names: list[str] | None = None) -> WindowSet:
    """Windows from a feature table and its aligned target table (same rows, same order).

    * inputs missing on more than ``max_missing_frac`` of the train rows, or constant on
      them, are dropped (listed in ``dropped_features`` with the reason);
    * the scaler sees train rows only;
    * a window ends in the split of its last bar; train windows are taken every ``stride``
      bars, validation and test windows at every bar (so predictions cover every test bar);
    * a window is kept when at least one of its targets is known at its last bar; a null
      target is masked in the loss for that target only;
    * ``aux_names``: target columns carried raw beside the learned ones (the future returns
      that the trading loss and metrics need).
    """
    if len(features) != len(targets):
        raise BadInput(f"features ({len(features)} rows) and targets ({len(targets)} rows) are not aligned")
    _check_inputs(input_names, features.columns)
    return _assemble(_FrameSource(features, targets), input_names=input_names, specs=specs, plan=plan,
                     timeframe=timeframe, context=context, stride=stride, clip=clip, max_missing_frac=max_missing_frac,
                     aux_names=aux_names, scratch=None)


def _check_inputs(input_names: list[str], available) -> None:
    """Refuse inputs the feature set lacks, and an empty input list."""
    missing = [c for c in input_names if c not in available]
    if missing:
        raise BadInput(f"input feature(s) not in the feature set: {', '.join(missing[:10])}")
    if not input_names:
        raise BadInput("no input features left", hint="check data.exclude and the report's included_features.txt")


def build_windows_lazy(fs, *, input_names: list[str], specs: list[TargetSpec], plan: SplitPlan, context: int,
                       scratch: str | Path, symbols: list[str] | None = None, keep: np.ndarray | None = None,
                       stride: int = 1, clip: float = 10.0, max_missing_frac: float = 0.05,
                       aux_names: list[str] | None = None, memory_mb: float | None = None) -> WindowSet:
    """The windows of ``build_windows(fs.features(input_names, symbols)[keep], fs.targets(...)[keep], ...)``
    without loading either table: a feature set (``engine.features.store.FeatureSet``) is read a
    column group, then a row block at a time; the scaled inputs (``x.f32``, rows x inputs), the
    targets (``y.f32``, ``y_raw.f32``) and aux columns (``aux.f32``, both stored a column after the
    other) are written into the folder ``scratch`` and memory-mapped.  The caller owns the folder
    (on Linux it may be removed at once: the mappings keep the data until the WindowSet is gone).
    ``keep`` selects rows of the chosen symbols (data.start / end / last_bars), in the set's order."""
    _check_inputs(input_names, fs.feature_names)
    src = _ParquetSource(fs, list(symbols or fs.symbols), keep)
    Path(scratch).mkdir(parents=True, exist_ok=True)
    return _assemble(src, input_names=input_names, specs=specs, plan=plan, timeframe=fs.timeframe, context=context,
                     stride=stride, clip=clip, max_missing_frac=max_missing_frac, aux_names=aux_names,
                     scratch=Path(scratch), memory_mb=memory_mb)


def _budget(memory_mb: float | None) -> float:
    return float(memory_mb or settings.WINDOWS_MEMORY_MB.get() or BUILD_MEMORY_MB) * 2**20


def _assemble(src, *, input_names: list[str], specs: list[TargetSpec], plan: SplitPlan, timeframe: str, context: int,
              stride: int, clip: float, max_missing_frac: float, aux_names: list[str] | None, scratch: Path | None,
              memory_mb: float | None = None) -> WindowSet:
    ts, sym = src.ts, src.sym
    split = plan.assign(ts)
    train = split == "train"
    if not train.any():
        raise BadInput("no rows fall in the training split")
    budget = _budget(memory_mb)
    n_train = int(train.sum())
    sc, names, dropped = _fit_input_scaler(src, input_names, train, budget, max_missing_frac)
    fitted_on = {"split": "train", "rows": n_train, "start": plan.train_start.isoformat(),
                 "end": plan.train_end.isoformat()}
    scalers = Scalers(sc, names, float(clip), {}, {}, fitted_on)
    ys, y_raw, known = _target_columns(src, specs, scalers, train, scratch)
    xs, valid = _scaled_inputs(src, scalers, names, budget, scratch)

    n = len(ts)
    ends_all = window_ends(ts, sym, valid, context=context, step_ns=tf_seconds(timeframe) * 1_000_000_000)
    if specs:  # (finite in float32, as y_raw holds it): no pass over the mapped targets
        ends_all = ends_all[known[ends_all]]
    del known
    # position within the symbol's rows, for the train stride
    first_row = np.r_[0, np.flatnonzero(sym[1:] != sym[:-1]) + 1]
    pos = np.arange(n) - np.repeat(first_row, np.diff(np.r_[first_row, n]))
    ends = {}
    for name in SPLITS:
        e = ends_all[split[ends_all] == name]
        if name == "train" and stride > 1:
            e = e[pos[e] % stride == 0]
        ends[name] = e.astype(np.int64)
    del pos, first_row
    aux_names = list(aux_names or [])
    gone = [c for c in aux_names if c not in src.target_names]
    if gone:
        raise BadInput(f"target column(s) {', '.join(gone)} missing from the feature set")
    aux = _Columns(scratch, "aux.f32", n, len(aux_names))
    for j, c in enumerate(aux_names):
        aux.put(j, src.target(c))
    aux = aux.done()
    return WindowSet(torch.from_numpy(xs), torch.from_numpy(ys), ends, context, names, list(specs), scalers, ts, sym,
                     y_raw, torch.from_numpy(aux), aux_names, dropped, timeframe)


def _fit_input_scaler(src, input_names: list[str], train: np.ndarray, budget: float,
                      max_missing_frac: float) -> tuple[RobustScaler, list[str], dict[str, str]]:
    """Inputs, a group of columns at a time (train rows only): missing / constant checks, scaler fit."""
    n_train = int(train.sum())
    group = max(1, int(budget // (n_train * 8 * 3)))  # the block, sklearn's copy of it, a column
    dropped: dict[str, str] = {}
    names: list[str] = []
    centers, scales = [], []
    for g0 in range(0, len(input_names), group):
        gnames = input_names[g0:g0 + group]
        x = src.columns(gnames, train)
        miss = np.isnan(x).mean(axis=0)
        with np.errstate(all="ignore"):
            const = np.nanmax(x, axis=0) == np.nanmin(x, axis=0)
        kept = []
        for j, name in enumerate(gnames):
            if miss[j] > max_missing_frac:
                dropped[name] = f"missing on {miss[j]:.1%} of train rows"
            elif const[j] or np.isnan(miss[j]):
                dropped[name] = "constant on the train rows"
            else:
                kept.append(j)
        if kept:
            sc = RobustScaler(quantile_range=(25.0, 75.0)).fit(x[:, kept])  # per column: zero IQR -> scale 1
            centers.append(sc.center_)
            scales.append(sc.scale_)
            names += [gnames[j] for j in kept]
        del x
        _release()
    if not names:
        raise BadInput("every input feature was dropped (missing or constant on the train rows)")
    sc = RobustScaler(quantile_range=(25.0, 75.0))
    sc.center_, sc.scale_, sc.n_features_in_ = np.concatenate(centers), np.concatenate(scales), len(names)
    return sc, names, dropped


def _target_columns(src, specs: list[TargetSpec], scalers: Scalers, train: np.ndarray, scratch: Path | None):
    """Targets, a column at a time: (scaled, raw, known at the row); regression scales fitted on train rows."""
    n = len(src.ts)
    ys, y_raw = _Columns(scratch, "y.f32", n, len(specs)), _Columns(scratch, "y_raw.f32", n, len(specs))
    known = np.zeros(n, dtype=bool)  # a target is known at the row (windows ending there are kept)
    for j, s in enumerate(specs):
        yr = src.target(s.name)
        known |= np.isfinite(yr.astype("float32"))
        y_raw.put(j, yr)
        if s.type == "regression":
            scalers.target_center[s.name], scalers.target_scale[s.name] = _target_scale(s.name, yr[train])
            ys.put(j, ((yr - scalers.target_center[s.name]) / scalers.target_scale[s.name]).astype("float32"))
            continue
        ys.put(j, yr)
        if s.type == "multiclass":
            bad = np.isfinite(yr) & ((yr < 0) | (yr >= s.n_classes) | (yr != np.round(yr)))
            if bad.any():
                raise BadInput(f"target {s.name} has values outside the classes 0..{s.n_classes - 1}")
        elif s.type == "binary":
            bad = np.isfinite(yr) & ~np.isin(yr, (0.0, 1.0))
            if bad.any():
                raise BadInput(f"binary target {s.name} has values other than 0 and 1")
        del yr
        _release()
    return ys.done(), y_raw.done(), known


def _scaled_inputs(src, scalers: Scalers, names: list[str], budget: float, scratch: Path | None):
    """Scaled inputs, a block of rows at a time: in memory, or written to scratch/x.f32 and memory-mapped;
    returns (inputs, rows without a missing input)."""
    n = len(src.ts)
    block = max(1024, int(budget // (len(names) * 8 * 3)))
    valid = np.empty(n, dtype=bool)
    x_path = None if scratch is None else scratch / "x.f32"
    xs = np.empty((n, len(names)), dtype="float32") if x_path is None else None
    at = 0
    with (open(x_path, "wb") if x_path is not None else _nullfile()) as fh:
        for xr in src.row_blocks(names, block):
            xb = _transform_inplace(scalers, xr)
            del xr
            ok = ~np.isnan(xb).any(axis=1)
            xb[~ok] = 0.0
            valid[at:at + len(xb)] = ok
            if xs is not None:
                xs[at:at + len(xb)] = xb
            else:
                fh.write(np.ascontiguousarray(xb).tobytes())
            at += len(xb)
    if at != n:
        raise BadInput(f"read {at} feature rows, expected {n}")
    if xs is None:
        xs = np.memmap(x_path, dtype="float32", mode="c", shape=(n, len(names))) if n else np.empty((0, len(names)), "float32")
    return xs, valid


def _transform_inplace(scalers: Scalers, xr: np.ndarray) -> np.ndarray:
    """``scalers.transform(xr)`` (the same float64 operations, so the same values) in ``xr``'s memory."""
    xr -= scalers.inputs.center_
    xr /= scalers.inputs.scale_
    np.clip(xr, -scalers.clip, scalers.clip, out=xr)
    return xr.astype("float32")


def _release() -> None:
    """Hand Arrow's freed buffers back to the system (its allocator keeps them otherwise)."""
    pa.default_memory_pool().release_unused()


class _Columns:
    """A float32 (rows x k) matrix filled a column at a time: in memory, or (``folder`` given) written
    column after column to ``folder/name``, then rewritten row by row (``name`` with suffix ``.rows``)
    and memory-mapped."""

    def __init__(self, folder: Path | None, name: str, n: int, k: int):
        self.n, self.k = n, k
        self.path = None if folder is None or n == 0 or k == 0 else folder / name
        self.mem = np.empty((n, k), dtype="float32") if self.path is None else None
        self.fh = open(self.path, "wb") if self.path is not None else None  # noqa: SIM115 - closed in done()

    def put(self, j: int, values: np.ndarray) -> None:
        if self.mem is not None:
            self.mem[:, j] = values
        else:
            self.fh.write(np.ascontiguousarray(values, dtype="float32").tobytes())

    def done(self) -> np.ndarray:
        if self.mem is not None:
            return self.mem
        self.fh.close()
        # rows x k on disk (a batch gathers rows: one page each, not one per column), transposed a block of
        # rows at a time with plain reads (a pass over a mapping would count every page as resident)
        cols, self.path = self.path, self.path.with_suffix(".rows")
        step = max(1, (64 << 20) // (4 * self.k))
        with open(self.path, "wb") as out:
            for a in range(0, self.n, step):
                m = min(step, self.n - a)
                block = np.empty((m, self.k), dtype="float32")
                for j in range(self.k):
                    block[:, j] = np.fromfile(cols, dtype="float32", count=m, offset=(j * self.n + a) * 4)
                out.write(block.tobytes())
        cols.unlink()
        return np.memmap(self.path, dtype="float32", mode="c", shape=(self.n, self.k))


class _nullfile:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None
