"""The rows of one symbol x timeframe that Stage 1 and Stage 2 work on: the feature set's
features (plus candle columns when a model asks for them), the ZigZag labels and when each
label became knowable.

Labels (from the feature set's ``labels.parquet``): ``pivot`` (1 at a pivot bar),
``pivot_label`` (-1 none, 0 HH, 1 LH, 2 HL, 3 LL), ``confirm_time``.  Bars after the last
confirmed pivot are *unlabelled*: whether one of them is a pivot is not known yet, so they are
never used as "no pivot" examples.  The purge gap between splits is the longer of the feature
set's longest target horizon and the longest pivot confirmation delay, so no training label
depends on prices inside the validation or test period.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from config.errors import BadInput, NotFound
from engine.data.canonical import ts_ns
from engine.data.names import check_symbol
from engine.data.timeframes import parse_timeframe, tf_seconds
from storage.workspace import Workspace

LABEL_NAMES = ["HH", "LH", "HL", "LL"]  # Stage 2 classes 0..3 (never 1..4)


@dataclass
class PairData:
    """One symbol x timeframe, sorted by time."""

    symbol: str
    timeframe: str
    frame: pd.DataFrame  # timestamp + feature columns (+ candle columns joined on demand)
    pivot: np.ndarray  # int8, 1 at pivot bars
    pivot_label: np.ndarray  # int8, -1 none / 0 HH / 1 LH / 2 HL / 3 LL
    confirm_ns: np.ndarray  # int64 epoch ns of the confirmation bar (pivots), -1 elsewhere
    feature_names: list[str]  # usable features of the set (leaking ones excluded)
    max_horizon_bars: int = 0
    featureset_id: str | None = None
    candles: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.frame)
        if n == 0:
            raise BadInput(f"{self.symbol} {self.timeframe}: no rows")
        for name in ("pivot", "pivot_label", "confirm_ns"):
            if len(getattr(self, name)) != n:
                raise BadInput(f"{self.symbol} {self.timeframe}: {name} has {len(getattr(self, name))} rows, features {n}")
        bad = (self.pivot_label < -1) | (self.pivot_label > 3) | ((self.pivot == 1) != (self.pivot_label >= 0))
        if bad.any():
            raise BadInput(f"{self.symbol} {self.timeframe}: labels must be -1 (no pivot) or 0..3 (HH LH HL LL) at pivot bars; "
                           f"{int(bad.sum())} row(s) are not")

    # -- time ------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def ts_ns(self) -> np.ndarray:
        return ts_ns(self.frame["timestamp"])

    @property
    def step_ns(self) -> int:
        return tf_seconds(self.timeframe) * 1_000_000_000

    @property
    def labelled(self) -> np.ndarray:
        """Rows whose label is known: up to the last confirmed pivot."""
        conf = self.confirm_ns[self.confirm_ns >= 0]
        if len(conf) == 0:
            return np.zeros(self.n, dtype=bool)
        return self.ts_ns <= conf.max()

    @property
    def confirm_lag_bars(self) -> int:
        piv = self.confirm_ns >= 0
        if not piv.any():
            return 0
        return int(np.ceil(((self.confirm_ns[piv] - self.ts_ns[piv]) / self.step_ns).max()))

    @property
    def purge_bars(self) -> int:
        return max(int(self.max_horizon_bars), self.confirm_lag_bars, 1)

    # -- inputs ----------------------------------------------------------------------------
    def matrix(self, names: list[str]) -> np.ndarray:
        """(n, len(names)) float64 of feature columns, or candle columns (open, close, ...) when a
        Stage 1 model was trained on those; an unknown name is an error that lists them."""
        missing = [c for c in names if c not in self.frame.columns]
        if missing and self.candles is not None:
            extra = [c for c in missing if c in self.candles.columns]
            if extra:
                self.frame = self.frame.merge(self.candles[["timestamp", *extra]], on="timestamp", how="left")
                missing = [c for c in missing if c not in extra]
        if missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise BadInput(f"{self.symbol} {self.timeframe}: {len(missing)} input(s) not in the feature set "
                           f"{self.featureset_id or ''}: {shown}",
                           hint="build a feature set with these features, or give the model's real input names")
        return self.frame[names].to_numpy(dtype="float64", na_value=np.nan)

    def split_of(self, plan) -> np.ndarray:
        return plan.assign(self.frame["timestamp"])


def labels_from_frame(frame_ts: pd.Series, labels: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align a labels table (timestamp, pivot, pivot_label, confirm_time) onto the feature rows."""
    need = {"timestamp", "pivot", "pivot_label", "confirm_time"}
    if not need.issubset(labels.columns):
        raise BadInput(f"{what}: labels lack column(s) {', '.join(sorted(need - set(labels.columns)))}")
    lab = pd.DataFrame({"timestamp": frame_ts.to_numpy()}).merge(labels[list(need)], on="timestamp", how="left")
    pivot = lab["pivot"].fillna(0).to_numpy().astype("int8")
    plabel = lab["pivot_label"].fillna(-1).to_numpy().astype("int8")
    plabel = np.where(pivot == 1, plabel, -1).astype("int8")
    conf = pd.to_datetime(lab["confirm_time"], utc=True)
    confirm = np.where(pivot == 1, ts_ns(conf.fillna(pd.Timestamp(0, tz="UTC"))), -1)
    if ((pivot == 1) & conf.isna().to_numpy()).any():
        raise BadInput(f"{what}: a pivot lacks its confirmation time")
    return pivot, plabel, confirm.astype("int64")


def load_pair(ws: Workspace, featureset_id: str, symbol: str, *, with_candles: bool = True) -> PairData:
    """A symbol's rows of a feature set (``engine.features.store.load_feature_set``)."""
    from engine.features.store import load_feature_set

    symbol = check_symbol(symbol)
    fs = load_feature_set(ws, featureset_id)
    if symbol not in fs.symbols:
        raise NotFound(f"feature set {featureset_id} has no {symbol} (it holds {', '.join(fs.symbols)})",
                       hint="build a feature set for this symbol with `python -m engine features build`")
    feats = fs.features(symbols=[symbol])
    feats = feats[feats["symbol"] == symbol].drop(columns=["symbol"]).sort_values("timestamp").reset_index(drop=True)
    labels = fs.labels(symbols=[symbol])
    labels = labels[labels["symbol"] == symbol]
    pivot, plabel, confirm = labels_from_frame(feats["timestamp"], labels, f"feature set {featureset_id} {symbol}")
    candles = None
    if with_candles:
        from engine.data.store import load_candles

        try:
            candles = load_candles(ws, symbol, fs.timeframe)
        except NotFound:
            candles = None
    return PairData(symbol=symbol, timeframe=parse_timeframe(fs.timeframe), frame=feats, pivot=pivot,
                    pivot_label=plabel, confirm_ns=confirm, feature_names=list(fs.usable_features()),
                    max_horizon_bars=int(fs.max_horizon_bars or 0), featureset_id=fs.id, candles=candles)


def _latest(ws: Workspace, kind: str, symbol: str, timeframe: str, what: str, hint: str) -> str:
    """The newest ``kind`` artifact holding ``symbol`` at ``timeframe``."""
    from storage.artifacts import list_manifests

    symbol, timeframe = check_symbol(symbol), parse_timeframe(timeframe)
    found = [m for m in list_manifests(ws, kind) if symbol in m.symbols and m.timeframe == timeframe]
    if not found:
        raise NotFound(f"no {what} for {symbol} {timeframe} in the workspace", hint=hint.format(s=symbol, tf=timeframe))
    return max(found, key=lambda m: (m.created_at, m.id)).id


def latest_featureset(ws: Workspace, symbol: str, timeframe: str) -> str:
    return _latest(ws, "features", symbol, timeframe, "feature set",
                   "build one: python -m engine features build --symbols {s} --timeframe {tf}")


def latest_stage1(ws: Workspace, symbol: str, timeframe: str) -> str:
    return _latest(ws, "stage1", symbol, timeframe, "Stage 1 model",
                   "import one (stage1 import) or train one (stage1 train --symbol {s} --timeframe {tf})")


def label_counts(labels: np.ndarray) -> dict[str, int]:
    return {name: int((labels == i).sum()) for i, name in enumerate(LABEL_NAMES)}

