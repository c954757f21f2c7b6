"""Reading stored backtests (no vectorbt needed): manifests, equity curves, trades, sweeps,
and the side-by-side comparison of several runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput, NotFound
from engine.backtest.metrics import LABELS
from storage.artifacts import artifact_path, list_manifests, read_manifest
from storage.manifest import Manifest
from storage.workspace import Workspace

COMPARE_METRICS = [*LABELS, "bars_per_year"]


def format_metric(key: str, value: Any) -> str:
    """A metric value as the page and the CLI show it (percentages, counts, numbers); an undefined
    value (None, NaN, infinity) is "-", never "inf" / "nan" / "None"."""
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return "-"
    kind = LABELS.get(key, (key, "int" if key == "bars_per_year" else "num", None))[1]
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def ci_text(key: str, ci) -> str:
    """'95% CI lo .. hi' in the metric's format, or '' without a CI."""
    return f"95% CI {format_metric(key, ci[0])} .. {format_metric(key, ci[1])}" if ci else ""


def costs_text(c: dict | None) -> str:
    """The costs a run used, in one line (``costs`` of a backtest's JSON / manifest)."""
    if not c:
        return "costs not recorded (a run from before the cost model)"
    borrow = ("n/a (no spot short allowed)" if c.get("borrow_rate") is None
              else f"{c['borrow_rate'] * 100:g}%/year on spot shorts ({', '.join(c.get('borrow_symbols') or [])})")
    funding = "on" if c.get("funding") else "off"
    if c.get("funding") and c.get("funding_symbols"):
        funding += f" ({', '.join(c['funding_symbols'])})"
    return (f"fee {c['fees'] * 100:g}% per fill ({c.get('fee_type')}, {c.get('fees_source')}) · slippage "
            f"{c['slippage'] * 100:g}% per fill · funding {funding} · borrow {borrow} · direction {c.get('direction')} "
            f"({c.get('direction_source')})")


def metrics_table(runs: list[Backtest]) -> pd.DataFrame:
    """Rows = metrics (labelled), one formatted column per run."""
    rows = {}
    for k in COMPARE_METRICS:
        label = LABELS[k][0] if k in LABELS else "Bars per year (annualisation)"
        rows[label] = {b.label(): format_metric(k, b.manifest.metrics.get(k)) for b in runs}
    return pd.DataFrame(rows).T


@dataclass
class Backtest:
    manifest: Manifest
    path: Any

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def mode(self) -> str:
        return (self.manifest.extra or {}).get("mode", "single")

    def _read(self, name: str) -> pd.DataFrame:
        p = self.path / name
        if not p.is_file():
            raise NotFound(f"backtest {self.id} has no {name}", hint="a sweep stores sweep.parquet, a backtest equity/trades")
        return pd.read_parquet(p)

    def equity(self) -> pd.DataFrame:
        return self._read("equity.parquet")

    def trades(self) -> pd.DataFrame:
        return self._read("trades.parquet")

    def sweep(self) -> pd.DataFrame:
        return self._read("sweep.parquet")

    def label(self) -> str:
        src = (self.manifest.extra or {}).get("source") or {}
        what = (f"rule {src.get('fast')}/{src.get('slow')}" if src.get("kind") == "rule"
                else f"{src.get('kind')} {src.get('id')}")
        return f"{what} · {','.join(self.manifest.symbols)} · {self.id[-6:]}"


def load_backtest(ws: Workspace, backtest_id: str) -> Backtest:
    m = read_manifest(ws, backtest_id)
    if m.kind != "backtest":
        raise BadInput(f"{backtest_id} is a {m.kind} artifact, not a backtest")
    return Backtest(m, artifact_path(ws, backtest_id, "backtest"))


def list_backtests(ws: Workspace, *, mode: str | None = None, model_id: str | None = None) -> list[Backtest]:
    """Stored backtests, newest first (read from the manifests: always current, never locked)."""
    out = []
    for m in list_manifests(ws, "backtest"):
        if mode and (m.extra or {}).get("mode", "single") != mode:
            continue
        if model_id and model_id not in m.parents:
            continue
        out.append(Backtest(m, ws.artifact_dir("backtest", m.id)))
    return sorted(out, key=lambda b: (b.manifest.created_at, b.id), reverse=True)


def compare(ws: Workspace, ids: list[str]) -> dict[str, Any]:
    """Metrics side by side and the equity curves, normalised to 1.0 at each run's start."""
    if len(ids) < 1:
        raise BadInput("give at least one backtest id to compare")
    ids = list(dict.fromkeys(ids))
    runs = [load_backtest(ws, i) for i in ids]
    sweeps = [b.id for b in runs if b.mode == "sweep"]
    if sweeps:
        raise BadInput(f"{', '.join(sweeps)} {'is a sweep' if len(sweeps) == 1 else 'are sweeps'}: compare single backtests",
                       hint="open a sweep's heatmap on the Backtest page or with `backtest show`")
    notes = []
    tfs = {b.manifest.timeframe for b in runs}
    if len(tfs) > 1:
        notes.append(f"the runs use different timeframes ({', '.join(sorted(tfs))}): ratios are annualised per timeframe")
    periods = {(b.manifest.start, b.manifest.end) for b in runs}
    if len(periods) > 1:
        notes.append("the runs cover different periods: compare returns with care")
    # object dtype: an undefined figure stays None (JSON null, "-" on pages), never NaN
    table = pd.DataFrame({b.id: {k: b.manifest.metrics.get(k) for k in COMPARE_METRICS} for b in runs})
    table = table.astype(object).where(table.notna(), None)
    curves = {}
    for b in runs:
        eq = b.equity()
        curves[b.id] = pd.Series(eq["equity"].to_numpy() / b.manifest.metrics.get("init_cash", eq["equity"].iloc[0]),
                                 index=pd.DatetimeIndex(eq["timestamp"]))
    return {"runs": runs, "table": table, "curves": curves, "notes": notes}
