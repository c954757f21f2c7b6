"""Validation report of a canonical OHLCV table (SPEC 3).

Errors (the import is refused, nothing written): duplicate or unsorted timestamps, OHLC
inconsistencies (high < max(open, close), low > min(open, close), high < low), non-positive
prices, negative volume, missing values, absurd values (prices beyond 1e9, 100x jumps between
bars, times before 2009 or in the future), bars off the timeframe's grid, a spacing that is
no known timeframe or disagrees with the one given.
Warnings (imported, reported): gaps (listed), a last bar still open at import time (dropped),
a last bar still open when the file was written (kept and flagged: a later import of a newer
export replaces it with the finished bar), a last bar with suspiciously low volume (possibly
partial), timezone conversions.

The partial-last-bar rule, judged against the timeframe: a bar is still open at time T when
``open + timeframe > T``.  T is, in order: the import time (the bar is dropped); the export
time when it is known (``exported``: ``--exported-at``, a "Created on" line, or the file's
modification time -- each an upper bound, so a finished bar is never flagged); a last
``close_time`` before the bar's end (an exporter that cut the bar there).  A bar open at T is
flagged whatever its volume (a daily bar exported at noon holds about half a day's volume,
which the volume rule cannot tell from a quiet day).  Otherwise the volume rule: the last bar
has under 10% of the median volume of the 96 bars before it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.data.canonical import OPTIONAL, PRICE, ts_ns
from engine.data.timeframes import TIMEFRAMES, infer_timeframe

MIN_TS = pd.Timestamp("2009-01-03", tz="UTC")  # the first bitcoin block; no crypto candle is older
MAX_PRICE = 1e9
MAX_JUMP = 100.0
MAX_EXAMPLES = 5


@dataclass
class Finding:
    level: str  # error | warning | info
    check: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    source: str
    rows: int = 0
    timeframe: str | None = None
    start: str | None = None
    end: str | None = None
    findings: list[Finding] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, level: str, check: str, message: str, count: int = 0, examples: list[str] | None = None) -> None:
        self.findings.append(Finding(level, check, message, count, list(examples or [])[:MAX_EXAMPLES]))

    def error_text(self) -> str:
        return "; ".join(f.message for f in self.errors)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["missing_bars"] = int(sum(g["missing_bars"] for g in self.gaps))
        return d


def _ts(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%d %H:%M")


def _examples(ts: np.ndarray, mask: np.ndarray) -> list[str]:
    return [_ts(x) for x in ts[np.flatnonzero(mask)[:MAX_EXAMPLES]]]


def find_gaps(ts_ns: np.ndarray, tf: str) -> list[dict[str, Any]]:
    step = TIMEFRAMES[tf] * 1_000_000_000
    d = np.diff(ts_ns)
    idx = np.flatnonzero(d > step)
    return [{"after": _ts(ts_ns[i]), "before": _ts(ts_ns[i + 1]), "missing_bars": int(d[i] // step - 1)} for i in idx]


def validate(df: pd.DataFrame, source: str, timeframe: str | None = None, *, now: float | None = None,
             funding: bool = False, exported: tuple[int, str] | None = None, last_close_ns: int | None = None) -> Report:
    rep = Report(source=source, rows=len(df))
    if len(df) == 0:
        rep.add("error", "empty", f"{source}: no rows")
        return rep
    ts = ts_ns(df["timestamp"])
    rep.start, rep.end = _ts(ts.min()), _ts(ts.max())
    now_ns = int((now if now is not None else time.time()) * 1e9)
    _check_time_range(rep, ts, now_ns)
    unsorted = _check_order(rep, ts)
    sorted_ts = np.unique(ts)
    rep.timeframe = None if funding else _check_timeframe(rep, sorted_ts, timeframe)
    if funding:
        _check_funding(rep, df, ts)
        return rep
    if rep.timeframe:
        _check_grid_and_gaps(rep, ts, sorted_ts, unsorted)
    vol = _check_ohlcv(rep, df, ts)
    _check_optional_volumes(rep, df)
    if rep.timeframe and not unsorted:
        _check_partial_last_bar(rep, ts, vol, now_ns, exported, last_close_ns)
    return rep


def _check_time_range(rep: Report, ts: np.ndarray, now_ns: int) -> None:
    source = rep.source
    bad_t = (ts < MIN_TS.value) | (ts > now_ns + 86400 * 1_000_000_000)
    if bad_t.any():
        rep.add("error", "time_range", f"{source}: {int(bad_t.sum())} time(s) before 2009-01-03 or in the future "
                f"(first {_ts(ts[bad_t][0]) if ts[bad_t][0] > -2**62 else ts[bad_t][0]}); wrong time unit or column?",
                int(bad_t.sum()), _examples(ts, bad_t))


def _check_order(rep: Report, ts: np.ndarray) -> bool:
    """Duplicates and steps back; True when the timestamps are not in increasing order."""
    source = rep.source
    d = np.diff(ts)
    dup = np.concatenate([[False], d == 0])
    if dup.any() or len(np.unique(ts)) < len(ts):
        n = len(ts) - len(np.unique(ts))
        rep.add("error", "duplicates", f"{source}: {n} duplicate timestamp(s) (first {_examples(ts, dup)[:1] or _ts(ts[0])})",
                n, _examples(ts, dup))
    back = np.concatenate([[False], d < 0])
    if back.any():
        rep.add("error", "unsorted", f"{source}: timestamps are not in increasing order ({int(back.sum())} step(s) back, "
                f"first at row {int(np.flatnonzero(back)[0]) + 1}: {_ts(ts[back][0])})", int(back.sum()), _examples(ts, back))
    return bool(back.any())


def _check_timeframe(rep: Report, sorted_ts: np.ndarray, timeframe: str | None) -> str | None:
    """The timeframe of the bars: the one given (checked against the spacing) or the one inferred."""
    source = rep.source
    inferred = infer_timeframe(sorted_ts) if len(sorted_ts) > 1 else None
    if timeframe is None:
        if inferred is None:
            if len(sorted_ts) > 1:
                step = int(np.median(np.diff(sorted_ts)) // 1_000_000_000)
                rep.add("error", "timeframe", f"{source}: bars are {step} s apart, which is no known timeframe "
                        f"({', '.join(TIMEFRAMES)})")
            else:
                rep.add("error", "timeframe", f"{source}: a single bar; give the timeframe with --timeframe")
        return inferred
    if inferred is not None and inferred != timeframe and len(sorted_ts) > 10:
        rep.add("error", "timeframe", f"{source}: timeframe {timeframe} was given (or read from the name) "
                f"but the bars are {inferred} apart")
    return timeframe


def _check_grid_and_gaps(rep: Report, ts: np.ndarray, sorted_ts: np.ndarray, unsorted: bool) -> None:
    source, tf = rep.source, rep.timeframe
    step = TIMEFRAMES[tf] * 1_000_000_000
    off = (ts % step) != 0
    if off.any():
        lvl = "error" if TIMEFRAMES[tf] <= 3600 else "warning"
        rep.add(lvl, "grid", f"{source}: {int(off.sum())} bar time(s) are not on the {tf} grid (first {_ts(ts[off][0])})",
                int(off.sum()), _examples(ts, off))
    if unsorted:
        return
    d = np.diff(ts)
    irregular = (d % step != 0) & (d > 0)
    if irregular.any() and not off.any():
        rep.add("error", "spacing", f"{source}: {int(irregular.sum())} step(s) are not whole {tf} bars",
                int(irregular.sum()))
    rep.gaps = find_gaps(sorted_ts, tf)
    if rep.gaps:
        total = sum(g["missing_bars"] for g in rep.gaps)
        big = max(rep.gaps, key=lambda g: g["missing_bars"])
        rep.add("warning", "gaps", f"{source}: {len(rep.gaps)} gap(s), {total} missing bar(s); largest "
                f"{big['missing_bars']} bars after {big['after']}", len(rep.gaps))


def _check_funding(rep: Report, df: pd.DataFrame, ts: np.ndarray) -> None:
    source = rep.source
    v = df["funding_rate"].to_numpy()
    nan = ~np.isfinite(v)
    if nan.any():
        rep.add("error", "missing", f"{source}: {int(nan.sum())} missing funding rate(s)", int(nan.sum()), _examples(ts, nan))
    absurd = np.abs(v) > 0.1
    if absurd.any():
        rep.add("error", "absurd", f"{source}: {int(absurd.sum())} funding rate(s) beyond +-10% per period", int(absurd.sum()))


def _check_ohlcv(rep: Report, df: pd.DataFrame, ts: np.ndarray) -> np.ndarray:
    """Missing values, then the price and volume rules; returns the volume column."""
    source = rep.source
    o, h, lo, c, vol = (df[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close", "volume"))
    nan = ~np.isfinite(np.column_stack([o, h, lo, c, vol])).all(axis=1)
    if nan.any():
        rep.add("error", "missing", f"{source}: {int(nan.sum())} row(s) with missing or infinite OHLCV values "
                f"(first at row {int(np.flatnonzero(nan)[0]) + 1}, {_ts(ts[nan][0])})", int(nan.sum()), _examples(ts, nan))
    with np.errstate(invalid="ignore"):
        _check_prices(rep, ts, o, h, lo, c, vol)
    return vol


def _check_prices(rep: Report, ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                  vol: np.ndarray) -> None:
    source = rep.source

    def flag(level: str, check: str, mask: np.ndarray, what: str) -> None:
        if mask.any():
            rep.add(level, check, f"{source}: {int(mask.sum())} {what}", int(mask.sum()), _examples(ts, mask))

    nonpos = (np.column_stack([o, h, lo, c]) <= 0).any(axis=1)
    flag("error", "non_positive", nonpos, f"bar(s) with a zero or negative price (first {_first(ts, nonpos)})")
    negv = vol < 0
    flag("error", "negative_volume", negv, f"bar(s) with negative volume (first {_first(ts, negv)})")
    hl = h < lo
    flag("error", "ohlc", hl, f"bar(s) with high < low (first {_first(ts, hl)})")
    tol = 1e-9 * np.abs(np.maximum(o, c))
    hi_bad = (h < np.maximum(o, c) - tol) & ~hl
    flag("error", "ohlc", hi_bad, f"bar(s) with high below open or close (first {_first(ts, hi_bad)})")
    lo_bad = (lo > np.minimum(o, c) + tol) & ~hl
    flag("error", "ohlc", lo_bad, f"bar(s) with low above open or close (first {_first(ts, lo_bad)})")
    huge = (np.column_stack([o, h, lo, c]) > MAX_PRICE).any(axis=1)
    flag("error", "absurd", huge, f"price(s) above {MAX_PRICE:.0e} (first {_first(ts, huge)})")
    if len(c) > 1:
        ratio = c[1:] / c[:-1]
        jump = np.concatenate([[False], (ratio > MAX_JUMP) | (ratio < 1 / MAX_JUMP)])
        flag("error", "absurd", jump, f"close-to-close jump(s) of more than {MAX_JUMP:.0f}x (first at {_first(ts, jump)})")
    flat = (o == h) & (h == lo) & (lo == c) & (vol == 0)
    flag("warning", "filled_bars", flat, f"flat zero-volume bar(s) (first {_first(ts, flat)}); "
         "exporters write these to fill gaps, so they may not be real trading")


def _first(ts: np.ndarray, mask: np.ndarray) -> str:
    return _ts(ts[mask][0]) if mask.any() else ""


def _check_optional_volumes(rep: Report, df: pd.DataFrame) -> None:
    for col in OPTIONAL:
        if col in df.columns:
            v = df[col].to_numpy(dtype="float64")
            if (v < 0).any():
                rep.add("error", "negative_volume", f"{rep.source}: {int((v < 0).sum())} negative value(s) in {col}",
                        int((v < 0).sum()))


def _check_partial_last_bar(rep: Report, ts: np.ndarray, vol: np.ndarray, now_ns: int,
                            exported: tuple[int, str] | None, last_close_ns: int | None) -> None:
    """The partial-last-bar rule of the module docstring."""
    source, tf = rep.source, rep.timeframe
    step_ns = TIMEFRAMES[tf] * 1_000_000_000
    last = int(ts.max())
    if last + step_ns > now_ns:
        rep.add("warning", "partial_last_bar", f"{source}: the last bar ({_ts(last)}) had not closed at import time; it is dropped", 1)
    elif exported is not None and last + step_ns > exported[0]:
        rep.add("warning", "partial_last_bar", f"{source}: the last {tf} bar ({_ts(last)}) was still open when the file "
                f"was written (at or before {_ts(exported[0])}, from {exported[1]}); it is partial", 1, [_ts(last)])
    elif last_close_ns is not None and last_close_ns + 1_000_000 < last + step_ns and last_close_ns >= last:
        rep.add("warning", "partial_last_bar", f"{source}: the last {tf} bar ({_ts(last)}) has its close_time "
                f"({_ts(last_close_ns)}) before the bar's end; it is partial", 1, [_ts(last)])
    elif len(vol) > 20:
        order = np.argsort(ts)
        tail = vol[order][-97:-1]
        med = float(np.median(tail)) if len(tail) else 0.0
        if med > 0 and vol[order][-1] < 0.1 * med:
            rep.add("warning", "partial_last_bar", f"{source}: the last bar ({_ts(last)}) has {vol[order][-1] / med:.0%} of "
                    "the median volume of the 96 before it; it may be partial", 1)


def drop_open_last_bar(df: pd.DataFrame, tf: str, now: float | None = None) -> pd.DataFrame:
    step = pd.Timedelta(seconds=TIMEFRAMES[tf])
    cutoff = pd.Timestamp((now if now is not None else time.time()), unit="s", tz="UTC")
    return df[df["timestamp"] + step <= cutoff] if len(df) else df


__all__ = ["PRICE", "Finding", "Report", "drop_open_last_bar", "find_gaps", "validate"]
