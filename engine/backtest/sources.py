"""Where signals come from: a trained model's stored out-of-sample predictions, or a plain rule.

A source turns, for one symbol, a bar index and a vector of thresholds into a *target
position* per bar and threshold: +1 long, -1 short, 0 flat, NaN = "no new opinion, keep the
current state" (event signals such as Stage 2 pivots).  A target at bar t uses only what was
known at the close of bar t (the model's context window ends at t).

Model sources (contract in docs/CONTRACTS.md, "Model artifacts and predictions"). Which model an
artifact is comes from the model-kind registry (``engine.model_kinds.kind_of``: ``params.model`` of a
``model`` artifact, or the artifact kind); its spec's ``signals`` names one of the readers below
(:data:`READERS`), so a new kind whose predictions have one of these layouts is backtested as it is:

* ``direction`` (DirectionPredictor): ``p_down_<h> p_flat_<h> p_up_<h>``;
  long when P(up) >= threshold and P(up) > P(down), short the mirror image.
* ``return`` (PatchTST): ``pred_future_return_<h>``; long
  when the predicted return beats the round-trip cost (2 x (fee + slippage)) plus the
  threshold, short the mirror image (without a return head: its direction head, as ``direction``).
* ``pivots`` (Stage 2, kind ``stage2``): ``pred_class`` (0 HH, 1 LH, 2 HL, 3 LL) with ``p_HH p_LH p_HL p_LL``
  at Stage-1 signal bars; a predicted pivot low (HL/LL) with P(low) >= threshold goes long, a
  pivot high (HH/LH) with P(high) >= threshold goes short; the position is held until the
  opposite pivot, a stop, or ``hold_bars``.

Out-of-sample guard: the model's split plan (``extra.split``; walk-forward ``extra.folds``)
and the plans of the models it was built on (lineage) say which bars were trained or
validated on; a period touching them is refused.  Lineage-aware: everything an input was
fitted or selected on counts as seen, so the walk also collects the train period (plus the
purge) of an analysis report whose whitelist / exclusions chose the features (``extra.split``
of the ``analysis`` manifest), and any ``extra.seen_periods`` ([{start, end, what}]) an ancestor
records (a sweep's selection period, a scaler fitted elsewhere); a period overlapping one of
them is refused too, naming the ancestor and its period.  Walk-forward predictions are stitched:
each bar takes the prediction of the fold whose test block holds it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput, NotFound, Refused
from engine import model_kinds
from engine.data.canonical import ts_ns
from engine.data.timeframes import parse_timeframe
from engine.splits import SplitPlan
from storage.artifacts import artifact_path, read_manifest
from storage.manifest import Manifest
from storage.workspace import Workspace

PREDICTIONS = "predictions.parquet"
STAGE2_CLASSES = ("HH", "LH", "HL", "LL")  # 0..3, as the Stage 2 LightGBM labels them
RULES = ("sma_cross",)


def utc_index(values) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return idx.as_unit("ns")


def _fmt(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")


def _plans_of(m: Manifest) -> tuple[list[SplitPlan], bool]:
    """(plans, walk_forward) recorded in a manifest's extra (empty when none)."""
    extra = m.extra or {}
    try:
        if extra.get("folds"):
            return [SplitPlan.from_dict(d) for d in extra["folds"]], True
        if extra.get("split"):
            return [SplitPlan.from_dict(extra["split"])], False
    except (BadInput, TypeError, ValueError) as e:
        raise BadInput(f"{m.kind} artifact {m.id} has an unreadable split plan: {e}") from e
    return [], False


def model_period(m: Manifest) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """A model's out-of-sample period from its manifest (test split; walk-forward: every fold's
    test block), without reading its predictions; (None, None) when it records no split."""
    plans, _ = _plans_of(m)
    return (plans[0].test_start, plans[-1].test_end) if plans else (None, None)


@dataclass
class Source:
    """Base: what every signal source offers the runner."""

    kind: str
    timeframe: str
    symbols: list[str]
    source_id: str | None = None
    parents: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    threshold_range: tuple[float, float] | None = None  # None: the source takes no threshold
    default_threshold: float | None = None

    # -- periods ------------------------------------------------------------------------
    def default_period(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        return None, None

    def check_period(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        """Raise Refused when [start, end] is not out of sample."""

    def oos_record(self) -> dict[str, Any]:
        return {"verified": None, "reason": "a plain rule has no training period"}

    # -- thresholds ---------------------------------------------------------------------
    def thresholds(self, values: list[float | None]) -> np.ndarray:
        """Validated thresholds (None -> the source's default)."""
        if self.threshold_range is None:
            if any(v is not None for v in values):
                raise BadInput(f"a {self.kind} source takes no threshold")
            return np.array([np.nan])
        lo, hi = self.threshold_range
        out = []
        for v in values:
            v = self.default_threshold if v is None else v
            if not lo <= v <= hi:
                raise BadInput(f"threshold {v:g} is out of range for a {self.kind} model: it must be in [{lo:g}, {hi:g}]",
                               hint=self.threshold_hint())
            out.append(float(v))
        return np.asarray(out, dtype="float64")

    def threshold_hint(self) -> str:
        return ""

    def targets(self, ws: Workspace, symbol: str, index: pd.DatetimeIndex, thresholds: np.ndarray,
                costs: float) -> np.ndarray:
        """(len(index), len(thresholds)) target positions (+1 / -1 / 0 / NaN = hold)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.source_id}


# ---------------------------------------------------------------------------------------------
# model sources


@dataclass
class ModelSource(Source):
    manifest: Manifest | None = None
    predictions: pd.DataFrame | None = None  # out-of-sample rows only (stitched), UTC ns timestamps
    plans: list[SplitPlan] = field(default_factory=list)
    walk_forward: bool = False
    guards: list[tuple[str, list[SplitPlan], bool]] = field(default_factory=list)  # (artifact id, plans, wf) incl. own
    unverified: list[str] = field(default_factory=list)
    horizon: str | None = None
    seen: list[tuple[str, str, pd.Timestamp, pd.Timestamp, str]] = field(default_factory=list)  # (id, kind, start, end, what)

    def default_period(self):
        return self.plans[0].test_start, self.plans[-1].test_end

    def check_period(self, start, end) -> None:
        for aid, kind, a, b, what in self.seen:
            if not (end < a or start > b):
                raise Refused(
                    f"in-sample backtest refused: {_fmt(start)} .. {_fmt(end)} overlaps the period {_fmt(a)} .. {_fmt(b)} "
                    f"that {kind} {aid}, an ancestor of this model, {what}",
                    hint="backtest a period after it, or train the model from inputs chosen on earlier data "
                         "(e.g. `analyze --train-end` before the model's validation start)")
        for aid, plans, wf in self.guards:
            own = aid == self.source_id
            if wf and own:
                first = plans[0]
                if start < first.test_start:
                    raise Refused(
                        f"in-sample backtest refused: {_fmt(start)} is before the first walk-forward test block of "
                        f"{aid} ({_fmt(first.test_start)}); earlier bars were trained or validated on",
                        hint=f"start at or after {_fmt(first.test_start)} (the default period is every fold's test block)")
                if end > plans[-1].test_end:
                    raise BadInput(f"{aid} has no out-of-sample predictions after {_fmt(plans[-1].test_end)}",
                                   hint="end the period at or before the last fold's test end")
                continue
            for p in plans:
                if p.overlaps_training(start, end):
                    what = "this model" if own else f"{aid}, which it was built on,"
                    raise Refused(
                        f"in-sample backtest refused: {_fmt(start)} .. {_fmt(end)} overlaps the bars {what} was trained or "
                        f"validated on ({_fmt(p.train_start)} .. {_fmt(p.val_end)} plus a {p.purge_bars}-bar purge)",
                        hint=f"use the test split {_fmt(p.test_start)} .. {_fmt(p.test_end)} (the default) or a part of it")
            if own and end > plans[-1].test_end:
                raise BadInput(f"{aid} has no out-of-sample predictions after {_fmt(plans[-1].test_end)}",
                               hint="end the period at or before the test split's end")

    def oos_record(self) -> dict[str, Any]:
        return {"verified": not self.unverified, "checked": [g[0] for g in self.guards] + [x[0] for x in self.seen],
                "seen": [{"id": aid, "kind": kind, "start": a.isoformat(), "end": b.isoformat(), "what": what}
                         for aid, kind, a, b, what in self.seen],
                "unverified": self.unverified,
                "walk_forward": self.walk_forward,
                "plans": [p.to_dict() for p in self.plans]}

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update({"model": self.kind, "horizon": self.horizon, "walk_forward": self.walk_forward,
                  "name": self.manifest.name if self.manifest else None})
        return d

    def _rows(self, symbol: str, index: pd.DatetimeIndex, columns: list[str]) -> pd.DataFrame:
        p = self.predictions
        sub = p.loc[p["symbol"] == symbol, ["timestamp", *columns]].set_index("timestamp")
        return sub.reindex(index)


def _horizons(columns, prefix: str) -> list[str]:
    return [m.group(1) for c in columns if (m := re.fullmatch(re.escape(prefix) + r"(.+)", c))]


def _pick_horizon(available: list[str], wanted: str | None, model_id: str, what: str) -> str:
    if not available:
        raise BadInput(f"{model_id}: predictions.parquet has no {what} columns", hint="see docs/CONTRACTS.md for the columns")
    if wanted is None:
        return "1h" if "1h" in available else available[0]
    if wanted not in available:
        raise BadInput(f"{model_id} has no predictions for horizon {wanted!r}", hint=f"available: {', '.join(available)}")
    return wanted


@dataclass
class DirectionSource(ModelSource):
    up_col: str = "p_up_{h}"  # a PatchTST model without a return head trades its direction head:
    down_col: str = "p_down_{h}"  # p_direction_<h>_2 (UP) and p_direction_<h>_0 (DOWN)

    def threshold_hint(self) -> str:
        return "a direction threshold is a probability P(up) / P(down), e.g. 0.5"

    def targets(self, ws, symbol, index, thresholds, costs):
        cu, cd = self.up_col.format(h=self.horizon), self.down_col.format(h=self.horizon)
        d = self._rows(symbol, index, [cu, cd])
        up, down = d[cu].to_numpy("float64"), d[cd].to_numpy("float64")
        thr = thresholds[None, :]
        long_ = (up[:, None] >= thr) & (up > down)[:, None]
        short = (down[:, None] >= thr) & (down > up)[:, None]
        return long_.astype("float64") - short  # missing predictions -> 0 (flat)


@dataclass
class PatchTSTSource(ModelSource):
    def threshold_hint(self) -> str:
        return "a PatchTST threshold is the expected return required on top of the round-trip cost, e.g. 0.001 = 0.1 %"

    def targets(self, ws, symbol, index, thresholds, costs):
        col = f"pred_future_return_{self.horizon}"
        pred = self._rows(symbol, index, [col])[col].to_numpy("float64")
        hurdle = (2 * costs + thresholds)[None, :]  # trade only when the expected move beats the fees
        p = pred[:, None]
        return (p > hurdle).astype("float64") - (p < -hurdle)


@dataclass
class Stage2Source(ModelSource):
    def threshold_hint(self) -> str:
        return "a Stage 2 threshold is the probability of the predicted pivot side, e.g. 0.5"

    def targets(self, ws, symbol, index, thresholds, costs):
        d = self._rows(symbol, index, ["pred_class", *(f"p_{c}" for c in STAGE2_CLASSES)])
        cls = d["pred_class"].to_numpy("float64")
        p_low = (d["p_HL"] + d["p_LL"]).to_numpy("float64")
        p_high = (d["p_HH"] + d["p_LH"]).to_numpy("float64")
        is_low = np.isin(cls, (2, 3))[:, None] & (p_low[:, None] >= thresholds[None, :])
        is_high = np.isin(cls, (0, 1))[:, None] & (p_high[:, None] >= thresholds[None, :])
        out = np.full((len(index), len(thresholds)), np.nan)
        out[is_low] = 1.0
        out[is_high] = -1.0
        return out  # NaN between events: hold


def _model_kind(m: Manifest) -> model_kinds.ModelKind:
    """The registered kind of a model artifact; refused when it is not one or predicts no signals."""
    kind = model_kinds.kind_of(m.kind, m.params)
    if kind is None and m.kind == "model":
        t = str((m.params or {}).get("model", "")).lower()
        raise BadInput(f"model {m.id} has params.model={t!r}",
                       hint=f"backtests read {', '.join(model_kinds.names(artifact='model', backtestable=True))} models")
    if kind is None or kind.signals is None:
        raise BadInput(f"{m.id} is a {m.kind} artifact, not a model",
                       hint="backtest a model (kind " + " or ".join(model_kinds.backtest_artifact_kinds())
                            + "), or run `backtest rule` for a plain rule")
    return kind


def _read_predictions(ws: Workspace, m: Manifest, reader: Reader) -> pd.DataFrame:
    path = artifact_path(ws, m.id, m.kind) / PREDICTIONS
    if not path.is_file():
        raise NotFound(f"model {m.id} has no {PREDICTIONS}", hint="training stores its test-split predictions there")
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # any unreadable file is the user's bad input
        raise BadInput(f"cannot read {path}: {e}") from e
    missing = [c for c in ("timestamp", "symbol") if c not in df.columns]
    if missing:
        raise BadInput(f"{path} lacks column(s) {', '.join(missing)}")
    reader.check_columns(path, list(df.columns))
    df = df.copy()
    df["timestamp"] = utc_index(df["timestamp"])
    df["symbol"] = df["symbol"].astype(str)
    return df


def _seen_periods(pm: Manifest) -> list[tuple[str, str, pd.Timestamp, pd.Timestamp, str]]:
    """Periods an ancestor (not a model) was fitted or selected on: an analysis report's train split
    (plus the purge), and any ``extra.seen_periods`` entries [{start, end, what}]."""
    from engine.data.timeframes import tf_seconds

    out = []
    extra = pm.extra or {}
    try:
        if pm.kind == "analysis" and extra.get("split"):
            p = SplitPlan.from_dict(extra["split"])
            out.append((pm.id, "analysis report", p.train_start,
                        p.train_end + pd.Timedelta(seconds=tf_seconds(p.timeframe) * p.purge_bars),
                        "chose its features on (its train split plus the purge)"))
        for d in extra.get("seen_periods") or []:
            a, b = pd.Timestamp(d["start"]), pd.Timestamp(d["end"])
            a, b = (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC") for t in (a, b))
            out.append((pm.id, pm.kind, a, b, str(d.get("what") or "was fitted or selected on")))
    except (BadInput, KeyError, TypeError, ValueError) as e:
        raise BadInput(f"{pm.kind} artifact {pm.id} records an unreadable period: {e}") from e
    return out


def _ancestor_guards(ws: Workspace, m: Manifest) -> tuple[list[tuple[str, list[SplitPlan], bool]], list[str],
                                                          list[tuple[str, str, pd.Timestamp, pd.Timestamp, str]]]:
    """Split plans of the models this one was built on (recursively), the periods other ancestors
    (analysis reports, ...) were fitted or selected on, and what could not be checked."""
    guards, unverified, seen, periods = [], [], {m.id}, _seen_periods(m)
    todo = list(m.parents)
    while todo:
        pid = todo.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        try:
            pm = read_manifest(ws, pid)
        except (NotFound, BadInput):
            unverified.append(f"{pid}: not in this workspace, its training period cannot be checked")
            continue
        if pm.kind in ("model", "stage1", "stage2"):
            plans, wf = _plans_of(pm)
            if plans:
                guards.append((pm.id, plans, wf))
            else:
                unverified.append(f"{pm.id} ({pm.kind}, origin {pm.origin}): no recorded training period")
        else:
            periods += _seen_periods(pm)
            if pm.kind == "analysis" and not (pm.extra or {}).get("split"):
                unverified.append(f"{pm.id} (analysis, origin {pm.origin}): no recorded train period")
        if pm.kind in ("model", "stage1", "stage2", "features", "analysis"):
            todo += list(pm.parents)
    return guards, unverified, periods


def load_model_source(ws: Workspace, model_id: str, *, horizon: str | None = None) -> ModelSource:
    m = read_manifest(ws, model_id)
    kind = _model_kind(m)
    reader = READERS[kind.signals]
    plans, wf = _plans_of(m)
    if not plans:
        raise Refused(f"model {m.id} records no train/validation/test split (extra.split or extra.folds)",
                      hint="without it the backtest cannot prove its period is out of sample")
    if not m.timeframe:
        raise BadInput(f"model {m.id} has no timeframe in its manifest")
    tf = parse_timeframe(m.timeframe)
    df = _read_predictions(ws, m, reader)
    notes = []
    n0 = len(df)
    if "split" in df.columns:
        df = df[df["split"].astype(str) == "test"]
    ns = ts_ns(df["timestamp"])
    if wf:
        if "fold" not in df.columns:
            raise BadInput(f"model {m.id} is walk-forward but its predictions have no fold column")
        # stitch: each bar from the fold whose test block holds it (the blocks do not overlap); fold
        # labels may count from 0 or from 1: take the numbering that matches the test blocks
        block = np.full(len(df), -1)
        for i, p in enumerate(plans):
            block[(ns >= p.test_start.value) & (ns <= p.test_end.value)] = i
        fold = pd.to_numeric(df["fold"], errors="coerce").to_numpy()
        base = max((0, 1), key=lambda b: int(((fold - b) == block).sum()))
        keep = (block >= 0) & ((fold - base) == block)
    else:
        p = plans[0]
        keep = (ns >= p.test_start.value) & (ns <= p.test_end.value)
    df = df[keep]
    if len(df) < n0:
        notes.append(f"{n0 - len(df)} of {n0} prediction rows are not out-of-sample test rows and were left out")
    if df.empty:
        raise BadInput(f"model {m.id} has no out-of-sample (test split) predictions")
    dup = df.duplicated(["symbol", "timestamp"])
    if dup.any():
        raise BadInput(f"model {m.id}: {int(dup.sum())} duplicate (symbol, timestamp) prediction rows in the test split")
    df = df.sort_values(["symbol", "timestamp"]).reset_index(drop=True)
    guards, unverified, seen_periods = _ancestor_guards(ws, m)
    guards.insert(0, (m.id, plans, wf))
    if unverified:
        notes.append("out-of-sample not verifiable for: " + "; ".join(unverified))
    common = {"kind": kind.name, "timeframe": tf, "symbols": sorted(df["symbol"].unique()), "source_id": m.id,
              "parents": [m.id], "notes": notes, "manifest": m, "predictions": df, "plans": plans, "walk_forward": wf,
              "guards": guards, "unverified": unverified, "seen": seen_periods}
    src = reader.make_source(common, df, horizon, m.id)
    if src.threshold_range is None:  # a reader may have chosen another layout's threshold (see _return_source)
        th = kind.signal_spec().threshold
        src.threshold_range, src.default_threshold = (th.lo, th.hi), th.default
    return src


# ---------------------------------------------------------------------------------------------
# readers: one per layout of prediction columns (engine.model_kinds.SIGNALS names them)


@dataclass(frozen=True)
class Reader:
    """Checks a predictions table has a layout's columns and builds the source that trades them."""

    required: Any  # columns -> the layout's columns present
    make_source: Any  # (common kwargs, predictions, horizon, model id) -> ModelSource
    min_columns: int = 1
    missing_hint: str = "see docs/CONTRACTS.md"
    name: str = ""

    def check_columns(self, path, columns: list[str]) -> None:
        need = self.required(columns)
        if len(need) < self.min_columns:
            raise BadInput(f"{path} has no {self.name} prediction columns" if not need else
                           f"{path} lacks {self.name} prediction columns", hint=self.missing_hint)


def _direction_source(common, df, horizon, model_id) -> ModelSource:
    src = DirectionSource(**common)
    src.horizon = _pick_horizon(_horizons(df.columns, "p_up_"), horizon, model_id, "p_up_<h>")
    return src


def _return_source(common, df, horizon, model_id) -> ModelSource:
    if _horizons(df.columns, "pred_future_return_"):
        src = PatchTSTSource(**common)
        src.horizon = _pick_horizon(_horizons(df.columns, "pred_future_return_"), horizon, model_id,
                                    "pred_future_return_<h>")
        return src
    common["notes"].append("the model has no future-return head: its direction head (P(UP) / P(DOWN)) is traded")
    th = model_kinds.SIGNALS["direction"].threshold
    src = DirectionSource(**common, up_col="p_direction_{h}_2", down_col="p_direction_{h}_0",
                          threshold_range=(th.lo, th.hi), default_threshold=th.default)
    src.horizon = _pick_horizon(_horizons([c[:-2] for c in df.columns if re.fullmatch(r"p_direction_.+_2", c)],
                                          "p_direction_"), horizon, model_id, "p_direction_<h>_<k>")
    return src


def _pivot_source(common, df, horizon, model_id) -> ModelSource:
    if horizon is not None:
        raise BadInput("a Stage 2 model has no horizon to choose")
    return Stage2Source(**common)


READERS: dict[str, Reader] = {
    "direction": Reader(lambda cols: [c for c in cols if re.fullmatch(r"p_(up|down|flat)_.+", c)], _direction_source,
                        name="direction"),
    "return": Reader(lambda cols: [c for c in cols if c.startswith("pred_future_return_")
                                   or re.fullmatch(r"p_direction_.+_[02]", c)], _return_source, name="patchtst"),
    "pivots": Reader(lambda cols: [c for c in ("pred_class", *(f"p_{c}" for c in STAGE2_CLASSES)) if c in cols],
                     _pivot_source, min_columns=5, missing_hint="needs pred_class, p_HH, p_LH, p_HL, p_LL", name="Stage 2"),
}


# ---------------------------------------------------------------------------------------------
# the plain rule


@dataclass
class RuleSource(Source):
    """SMA crossover (TA-Lib SMA): long while SMA(fast) > SMA(slow), short while below.
    Simple enough to check by hand; the baseline every model should beat."""

    rule: str = "sma_cross"
    fast: int = 20
    slow: int = 50
    period_of: ModelSource | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise BadInput(f"unknown rule {self.rule!r}", hint=f"use one of {', '.join(RULES)}")
        for name in ("fast", "slow"):
            v = getattr(self, name)
            if int(v) != v or v < 2:
                raise BadInput(f"the {name} SMA length must be a whole number >= 2, got {v}")
        if self.fast >= self.slow:
            raise BadInput(f"the fast SMA ({self.fast}) must be shorter than the slow one ({self.slow})")

    def default_period(self):
        return self.period_of.default_period() if self.period_of else (None, None)

    def check_period(self, start, end) -> None:
        if self.period_of is not None:
            self.period_of.check_period(start, end)

    def describe(self) -> dict[str, Any]:
        return {"kind": "rule", "rule": self.rule, "fast": self.fast, "slow": self.slow,
                "period_of": self.period_of.source_id if self.period_of else None}

    def targets(self, ws, symbol, index, thresholds, costs):
        import talib

        from engine.data.store import load_candles

        # indicator on the history up to the period's end (SMA(t) uses bars <= t only), then cut to the period
        c = load_candles(ws, symbol, self.timeframe, end=index[-1], columns=["close"])
        close = c["close"].to_numpy("float64")
        diff = talib.SMA(close, timeperiod=self.fast) - talib.SMA(close, timeperiod=self.slow)
        sig = pd.Series(np.sign(np.nan_to_num(diff, nan=0.0)), index=utc_index(c["timestamp"])).reindex(index)
        return np.repeat(sig.fillna(0.0).to_numpy("float64")[:, None], len(thresholds), axis=1)
