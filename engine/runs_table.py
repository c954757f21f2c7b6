"""Runs tables like MLflow's, read from the manifests (read-only): training runs (``model``),
Stage 2 models (``stage2``) and backtests (``backtest``), one row per run with parameter
columns (``p.<name>``, nested values flattened as ``a.b``) and metric columns (with their 95 %
CI as ``<metric>_lo`` / ``<metric>_hi`` where the evidence blocks have one, and the sample size
the figure rests on); the parameter diff of a comparison (only what differs); the curves to
overlay.  No streamlit: pages only render these frames."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from config.errors import BadInput, NotFound
from storage.artifacts import list_manifests
from storage.manifest import Manifest
from storage.workspace import Workspace

KINDS = ("training", "stage2", "backtest")
PARAM_PREFIX = "p."


@dataclass
class RunsTable:
    kind: str
    frame: pd.DataFrame  # id, name, created_at, symbols, timeframe, p.<param>..., metrics, <metric>_lo/_hi, samples
    params: list[str] = field(default_factory=list)  # parameter columns (p.<name>)
    metrics: list[str] = field(default_factory=list)  # headline metric columns
    cis: dict[str, tuple[str, str]] = field(default_factory=dict)  # metric -> (lo column, hi column)
    samples: dict[str, str] = field(default_factory=dict)  # metric -> the column holding its sample size
    labels: dict[str, str] = field(default_factory=dict)  # column -> label
    pct: set[str] = field(default_factory=set)  # metrics that are fractions (shown as %)

    def varying_params(self, ids: list[str] | None = None) -> list[str]:
        """The parameter columns whose values differ between the runs (all runs, or ``ids``)."""
        f = self.frame if ids is None else self.frame[self.frame["id"].isin(ids)]
        if len(f) < 2:
            return []
        keys = f[self.params].astype(object).where(f[self.params].notna(), "∅").astype(str)
        return [c for c in self.params if keys[c].nunique() > 1]


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {"a.b": value}; lists of scalars -> "x, y" (lists of dicts: their count)."""
    out: dict[str, Any] = {}
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d} if prefix else {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif isinstance(v, (list, tuple)):
            out[name] = (f"{len(v)} items" if any(isinstance(x, (dict, list)) for x in v)
                         else ", ".join("None" if x is None else str(x) for x in v))
        else:
            out[name] = v
    return out


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _ci(ci: Any) -> tuple[float | None, float | None]:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return _num(ci[0]), _num(ci[1])
    return None, None


def ci_text(value: Any, lo: Any = None, hi: Any = None, *, pct: bool = False) -> str:
    """'1.23 [0.8, 1.6]' (or '12.3% [8.0%, 16.0%]'); '-' for an undefined value; no brackets without a CI."""
    def f(x: Any) -> str:
        x = _num(x)
        if x is None:
            return "-"
        return f"{x * 100:.2f}%" if pct else (f"{x:.4g}" if abs(x) < 1e5 else f"{x:,.0f}")
    lo, hi = _num(lo), _num(hi)
    return f(value) + (f" [{f(lo)}, {f(hi)}]" if lo is not None and hi is not None else "")


def _base(m: Manifest) -> dict[str, Any]:
    return {"id": m.id, "name": m.name or m.id, "created_at": m.created_at, "symbols": ", ".join(m.symbols or []),
            "timeframe": m.timeframe or "", "start": m.start, "end": m.end}


def _input_names(ws: Workspace, frame: pd.DataFrame, params: list[str], labels: dict[str, str]) -> None:
    """Parameter columns holding an input artifact's id (``p.featureset_id``, ``p.source.id``, ...) show
    that artifact's name instead; a name that several of the ids share keeps its id beside it, so two
    different inputs never read the same (and the parameter diff still sees them differ)."""
    from storage.catalog import Catalog

    cols = [c for c in params if c.endswith(("_id", ".id"))]
    ids = {v for c in cols for v in frame[c].dropna() if isinstance(v, str)}
    if not ids:
        return
    names = {i: n["name"] for i, n in Catalog(ws).names(ids).items()}
    order = sorted(ids)
    shown = dict(zip(order, unique_labels([names.get(i, i) for i in order], order)))
    for c in cols:
        frame[c] = frame[c].map(lambda v: shown.get(v, v) if isinstance(v, str) else v)
        labels.setdefault(c, c[len(PARAM_PREFIX):].removesuffix("_id").removesuffix(".id") + " (name)")


def _table(ws: Workspace, kind: str, rows: list[dict], metrics: list[str], labels: dict[str, str], pct: set[str],
           samples: dict[str, str], base_params: list[str] | None = None) -> RunsTable:
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["id", "name", "created_at", "symbols", "timeframe", "start", "end"])
    params = sorted(c for c in frame.columns if c.startswith(PARAM_PREFIX))
    _input_names(ws, frame, params, labels)
    if base_params:  # the key parameters first
        params = [p for p in base_params if p in params] + [p for p in params if p not in base_params]
    for mtr in metrics:
        for c in (mtr, f"{mtr}_lo", f"{mtr}_hi"):
            if c not in frame:
                frame[c] = np.nan
    cis = {mtr: (f"{mtr}_lo", f"{mtr}_hi") for mtr in metrics if frame[f"{mtr}_lo"].notna().any()}
    frame = frame.drop(columns=[c for mtr in metrics if mtr not in cis for c in (f"{mtr}_lo", f"{mtr}_hi")])
    for c in [*metrics, *[c for pair in cis.values() for c in pair]]:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    frame = frame.sort_values("created_at", ascending=False, kind="stable").reset_index(drop=True)
    return RunsTable(kind=kind, frame=frame, params=params, metrics=metrics, cis=cis, samples=samples, labels=labels,
                     pct=pct)


# -- training runs (model artifacts of patchtst / direction) -------------------------------------
TRAINING_METRICS = ["val_loss", "test_loss", "best_epoch", "epochs_run"] + [
    f"{s}_{k}" for s in ("val", "test") for k in ("accuracy", "macro_f1", "profit_factor", "win_rate", "pnl_per_trade",
                                                   "trades")]


def _training_config(ws: Workspace, m: Manifest) -> dict[str, Any]:
    from config.bounded import load_yaml_file

    p = ws.artifact_dir("model", m.id) / "config.yaml"
    try:
        cfg = load_yaml_file(p, "training config") if p.is_file() else {}
    except (BadInput, OSError):
        cfg = {}
    return cfg if isinstance(cfg, dict) else {}


def training_runs(ws: Workspace) -> RunsTable:
    """Finished training runs: parameters from the manifest and the resolved config.yaml (every
    hyperparameter), metrics per split with their bootstrap CIs (``metrics.<split>.uncertainty``)
    and sample sizes (trades, windows)."""
    rows = []
    for m in list_manifests(ws, "model"):
        if m.params.get("model") not in ("patchtst", "direction"):
            continue
        r = _base(m)
        params = {k: v for k, v in m.params.items() if k != "targets"}
        params["targets"] = len(m.params.get("targets") or [])
        r |= {PARAM_PREFIX + k: v for k, v in flatten(params).items()}
        cfg = flatten(_training_config(ws, m))
        r |= {PARAM_PREFIX + "config." + k: v for k, v in cfg.items() if PARAM_PREFIX + "config." + k not in r}
        r |= {"val_loss": _num(m.metrics.get("val_loss")), "test_loss": _num(m.metrics.get("test_loss")),
              "best_epoch": _num(m.metrics.get("best_epoch")), "epochs_run": _num(m.metrics.get("epochs_run")),
              "warnings": len(m.metrics.get("warnings") or [])}
        for s in ("val", "test"):
            sm = m.metrics.get(s) or {}
            unc = sm.get("uncertainty") or {}
            for k in ("accuracy", "macro_f1", "profit_factor", "win_rate", "pnl_per_trade", "trades"):
                r[f"{s}_{k}"] = _num(sm.get(k))
                r[f"{s}_{k}_lo"], r[f"{s}_{k}_hi"] = _ci(unc.get(k))
            sample = sm.get("sample") or {}
            r[f"{s}_n_trades"] = sample.get("trades", sm.get("trades"))
            r[f"{s}_n_predictions"] = sample.get("predictions")
        rows.append(r)
    labels = {f"{s}_{k}": f"{s} {k.replace('_', ' ')}" for s in ("val", "test") for k in
              ("accuracy", "macro_f1", "profit_factor", "win_rate", "pnl_per_trade", "trades")}
    labels |= {"val_loss": "val loss", "test_loss": "test loss", "best_epoch": "best epoch", "epochs_run": "epochs"}
    samples = {f"{s}_{k}": f"{s}_n_trades" for s in ("val", "test") for k in ("profit_factor", "win_rate", "pnl_per_trade")}
    samples |= {f"{s}_{k}": f"{s}_n_predictions" for s in ("val", "test") for k in ("accuracy", "macro_f1")}
    pct = {f"{s}_{k}" for s in ("val", "test") for k in ("accuracy", "win_rate")}
    return _table(ws, "training", rows, TRAINING_METRICS, labels, pct, samples,
                  [PARAM_PREFIX + k for k in ("model", "featureset_id", "config", "report_id", "seed", "split_mode", "n_inputs",
                                              "targets")])


# -- Stage 2 models -----------------------------------------------------------------------------
STAGE2_METRICS = [f"{s}_{k}" for s in ("test", "val") for k in ("accuracy_signals", "macro_f1_signals", "accuracy_pivots")] + [
    "test_best_baseline", "cv_accuracy_mean", "cv_accuracy_std", "test_signals", "test_pivots"]


def stage2_runs(ws: Workspace) -> RunsTable:
    """Stage 2 models: every parameter (LightGBM, CV, threshold, inputs), accuracy / macro-F1 over
    all signal bars and over pivot bars per split with the CIs of ``extra.evidence``, the best
    baseline, and the CV spread; sample sizes = signal / pivot bars."""
    rows = []
    for m in list_manifests(ws, "stage2"):
        r = _base(m) | {PARAM_PREFIX + k: v for k, v in flatten(m.params).items()}
        ev = (m.extra or {}).get("evidence") or {}
        for s in ("test", "val"):
            e = ev.get(s) or {}
            unc = e.get("uncertainty") or {}
            for k in ("accuracy_signals", "macro_f1_signals", "accuracy_pivots"):
                r[f"{s}_{k}"] = _num(m.metrics.get(f"{s}_{k}", e.get(k)))
                r[f"{s}_{k}_lo"], r[f"{s}_{k}_hi"] = _ci(unc.get(k))
            r[f"{s}_signals"] = _num(m.metrics.get(f"{s}_signals", e.get("signals")))
            r[f"{s}_pivots"] = _num(m.metrics.get(f"{s}_pivots", e.get("pivots")))
        cv = m.metrics.get("cv") or {}
        r |= {"test_best_baseline": _num(m.metrics.get("test_best_baseline")),
              "cv_accuracy_mean": _num(cv.get("accuracy_mean")), "cv_accuracy_std": _num(cv.get("accuracy_std")),
              "cv_folds": (m.params or {}).get("cv_folds"), "warnings": len((m.extra or {}).get("warnings") or [])}
        rows.append(r)
    labels = {f"{s}_{k}": f"{s} {k.replace('_', ' ')}" for s in ("test", "val") for k in
              ("accuracy_signals", "macro_f1_signals", "accuracy_pivots")}
    labels |= {"test_best_baseline": "test best baseline", "cv_accuracy_mean": "CV accuracy", "cv_accuracy_std": "CV std",
               "test_signals": "test signals", "test_pivots": "test pivots"}
    samples = {f"{s}_{k}": f"{s}_signals" for s in ("test", "val") for k in ("accuracy_signals", "macro_f1_signals")}
    samples |= {f"{s}_accuracy_pivots": f"{s}_pivots" for s in ("test", "val")} | {"cv_accuracy_mean": "cv_folds"}
    pct = {c for c in STAGE2_METRICS if "accuracy" in c or "baseline" in c}
    return _table(ws, "stage2", rows, STAGE2_METRICS, labels, pct, samples,
                  [PARAM_PREFIX + k for k in ("threshold", "stage1_id", "featureset_id", "cv_folds", "num_boost_round",
                                              "learning_rate", "max_depth", "num_leaves")])


# -- backtests ----------------------------------------------------------------------------------
BACKTEST_METRICS = ["total_return", "sharpe", "max_drawdown", "win_rate", "profit_factor", "trades", "closed_trades",
                    "exposure", "excess_return", "cagr", "sortino", "fees_paid"]


def backtest_runs(ws: Workspace, *, mode: str = "single") -> RunsTable:
    """Single backtests (sweeps have their own heatmap): every parameter (source, threshold,
    stops, costs, period), the headline metrics with the bootstrap CIs of ``extra.uncertainty``
    and the sample (closed trades, bars)."""
    from engine.backtest.metrics import LABELS

    rows = []
    for m in list_manifests(ws, "backtest"):
        extra = m.extra or {}
        if extra.get("mode", "single") != mode:
            continue
        params = {k: v for k, v in m.params.items() if k not in ("costs",)}
        r = _base(m) | {PARAM_PREFIX + k: v for k, v in flatten(params).items()}
        unc = extra.get("uncertainty") or {}
        sample = extra.get("sample") or {}
        for k in BACKTEST_METRICS:
            r[k] = _num(m.metrics.get(k))
            r[f"{k}_lo"], r[f"{k}_hi"] = _ci(unc.get(k))
        r |= {"n_closed_trades": sample.get("closed_trades", m.metrics.get("closed_trades")),
              "n_bars": sample.get("bars", m.metrics.get("bars")), "days": sample.get("days"),
              "warnings": len(extra.get("warnings") or [])}
        rows.append(r)
    labels = {k: LABELS[k][0] if k in LABELS else k.replace("_", " ") for k in BACKTEST_METRICS}
    labels["closed_trades"] = "Closed trades"
    samples = {k: "n_closed_trades" for k in ("win_rate", "profit_factor")} | {
        k: "n_bars" for k in ("total_return", "sharpe", "max_drawdown", "cagr", "sortino")}
    pct = {k for k in BACKTEST_METRICS if k in LABELS and LABELS[k][1] == "pct"}
    return _table(ws, "backtest", rows, BACKTEST_METRICS, labels, pct, samples,
                  [PARAM_PREFIX + k for k in ("source.kind", "source.id", "source.rule", "source.fast", "source.slow",
                                              "threshold", "horizon", "direction", "sl_stop", "tp_stop", "sl_trail",
                                              "sizing", "fees", "slippage", "start", "end")])


def runs_table(ws: Workspace, kind: str) -> RunsTable:
    if kind not in KINDS:
        raise BadInput(f"unknown runs table {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    return {"training": training_runs, "stage2": stage2_runs, "backtest": backtest_runs}[kind](ws)


def filter_runs(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows holding every word of ``text`` (case-insensitive) in any column: name, id, a
    parameter's value, a metric written out."""
    words = [w.lower() for w in text.split()]
    if not words or frame.empty:
        return frame
    hay = [" ".join(map(str, row)).lower() for row in frame.itertuples(index=False)]
    return frame[[all(w in h for w in words) for h in hay]]


# -- comparison ---------------------------------------------------------------------------------
def param_diff(table: RunsTable, ids: list[str]) -> pd.DataFrame:
    """Rows = the parameters whose values differ between the runs ``ids`` (nothing else), columns =
    the runs (their names, made unique), values as text ('-' for not set)."""
    if len(ids) < 2:
        raise BadInput("a comparison needs at least two runs")
    f = table.frame.set_index("id")
    missing = [i for i in ids if i not in f.index]
    if missing:
        raise NotFound(f"no {table.kind} run {', '.join(missing)}")
    f = f.loc[ids]
    diff = table.varying_params(ids)
    cols = unique_labels(f["name"].tolist(), ids)
    out = pd.DataFrame({c: [_text(f.loc[i, p]) for p in diff] for c, i in zip(cols, ids)},
                       index=[p[len(PARAM_PREFIX):] for p in diff])
    out.index.name = "parameter"
    return out


def unique_labels(names: list[str], ids: list[str]) -> list[str]:
    """Run names as column labels; a name used twice gets its id's last 6 characters."""
    out = []
    for n, i in zip(names, ids):
        label = n if names.count(n) == 1 else f"{n} · {i[-6:]}"
        out.append(label if label not in out else f"{label} · {i}")
    return out


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return f"{v:g}" if isinstance(v, float) else str(v)


def metrics_with_ci(table: RunsTable, ids: list[str] | None = None) -> pd.DataFrame:
    """The metric columns as text, each with its CI in brackets where there is one and its
    sample size: '1.23 [0.8, 1.6] (n=120)'; one row per run (id, name made unique as in ``param_diff``)."""
    f = table.frame if ids is None else table.frame.set_index("id").loc[ids].reset_index()
    out = pd.DataFrame({"id": f["id"], "name": unique_labels(f["name"].tolist(), f["id"].tolist())})
    for mtr in table.metrics:
        lo, hi = table.cis.get(mtr, (None, None))
        n = table.samples.get(mtr)
        los = f[lo].tolist() if lo else [None] * len(f)
        his = f[hi].tolist() if hi else [None] * len(f)
        ns = f[n].tolist() if n and n in f else [None] * len(f)
        vals = []
        for v, a, b, k in zip(f[mtr].tolist(), los, his, ns):
            s = ci_text(v, a, b, pct=mtr in table.pct)
            if _num(k) is not None and s != "-":
                s += f" (n={int(_num(k)):,})"
            vals.append(s)
        out[table.labels.get(mtr, mtr)] = vals
    return out


def curves(ws: Workspace, kind: str, ids: list[str]) -> dict[str, Any]:
    """What to overlay for a comparison: training -> per-epoch histories (metrics.csv) per run;
    stage2 -> per-fold CV accuracy / macro-F1 (cv.csv); backtest -> equity normalised to 1.0."""
    if kind == "training":
        from engine.training.runs import history

        return {i: history(ws, i) for i in ids}
    if kind == "stage2":
        out = {}
        for i in ids:
            p = ws.artifact_dir("stage2", i) / "cv.csv"
            out[i] = pd.read_csv(p) if p.is_file() else pd.DataFrame()
        return out
    if kind == "backtest":
        from engine.backtest.store import compare

        return compare(ws, ids)["curves"]
    raise BadInput(f"unknown runs table {kind!r}")
