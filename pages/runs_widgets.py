"""Runs tables and comparison like MLflow's (Streamlit only; the data comes from
engine/runs_table.py, the figures from engine/plots/runs.py): a sortable, filterable table of the
runs with parameter and metric columns (95 % CI bounds beside the metrics that have one), a
comparison showing only the parameters that differ with the runs' curves overlaid, and a
parallel-coordinates view of every listed run."""
from __future__ import annotations

import streamlit as st

from engine import runs_table as rt
from engine.plots.runs import ci_figure, cv_figure, parallel_figure
from pages.ui import show_table, user_errors, workspace
from storage.artifacts import kinds_stamp

_ARTIFACT_KIND = {"training": "model", "stage2": "stage2", "backtest": "backtest"}
_WHAT = {"training": "training runs", "stage2": "Stage 2 models", "backtest": "backtests"}


@st.cache_data(show_spinner=False, max_entries=8)
def _table(root: str, kind: str, stamp: tuple) -> rt.RunsTable:
    return rt.runs_table(workspace(), kind)


@st.cache_data(show_spinner=False, max_entries=16)
def _curve_data(root: str, kind: str, ids: tuple, stamp: tuple) -> dict:
    return rt.curves(workspace(), kind, list(ids))


def load(kind: str) -> rt.RunsTable:
    ws = workspace()
    return _table(str(ws.root), kind, kinds_stamp(ws, _ARTIFACT_KIND[kind]))


def _column_config(t: rt.RunsTable, shown: list[str]) -> dict:
    cfg: dict = {"name": st.column_config.TextColumn("name", help="hover the id column for the artifact id"),
                 "id": st.column_config.TextColumn("id"),
                 "created_at": st.column_config.TextColumn("created (UTC)")}
    for c in shown:
        if c.startswith(rt.PARAM_PREFIX):
            cfg[c] = st.column_config.Column(c[len(rt.PARAM_PREFIX):], help="parameter")
    for m in t.metrics:
        fmt = "percent" if m in t.pct else "%.4g"
        label = t.labels.get(m, m)
        cfg[m] = st.column_config.NumberColumn(label, format=fmt, help="metric")
        if m in t.cis:
            lo, hi = t.cis[m]
            cfg[lo] = st.column_config.NumberColumn(f"{label} CI lo", format=fmt, help="95 % bootstrap CI, lower bound")
            cfg[hi] = st.column_config.NumberColumn(f"{label} CI hi", format=fmt, help="95 % bootstrap CI, upper bound")
    return cfg


def _curves(kind: str, t: rt.RunsTable, ids: list[str], names: dict[str, str], key: str) -> None:
    ws = workspace()
    with user_errors():
        # a training run in progress grows its metrics.csv: its curves are not cached
        data = (rt.curves(ws, kind, ids) if kind == "training" else
                _curve_data(str(ws.root), kind, tuple(ids), kinds_stamp(ws, _ARTIFACT_KIND[kind])))
        if kind == "training":
            from engine.plots.training import compare_figure

            cols = sorted({c for h in data.values() for c in h.columns if c not in ("epoch", "step")})
            if not cols:
                st.info("No chosen run has per-epoch metrics.")
                return
            metric = st.selectbox("Curve", cols, index=cols.index("val_loss") if "val_loss" in cols else 0,
                                  key=f"{key}-curve")
            st.plotly_chart(compare_figure({names[i]: data[i] for i in ids}, metric), width="stretch",
                            key=f"{key}-curves")
        elif kind == "backtest":
            from engine.plots.backtest import compare_figure

            # at most ~1,500 points a curve (every k-th bar and the last): the overlay is for shape, not detail
            thin = {names[i]: data[i].iloc[sorted({*range(0, len(data[i]), max(1, len(data[i]) // 1500)), len(data[i]) - 1})]
                    for i in ids if len(data[i])}
            st.plotly_chart(compare_figure(thin), width="stretch", key=f"{key}-curves")
        else:
            st.plotly_chart(cv_figure(data, names), width="stretch", key=f"{key}-curves")


def runs_explorer(kind: str) -> None:
    """The runs table of ``kind`` (training | stage2 | backtest), its comparison and the
    parallel-coordinates view."""
    key = f"runs-{kind}"
    t = load(kind)
    st.subheader(f"All {_WHAT[kind]}")
    if t.frame.empty:
        st.info(f"No {_WHAT[kind]} yet.")
        return
    c1, c2 = st.columns([3, 1])
    text = c1.text_input("Filter (words found in the name, id or any parameter)", key=f"{key}-filter",
                         placeholder="e.g. direction walk_forward")
    every = c2.toggle("Every parameter", key=f"{key}-all", help="off: only the parameters that differ between runs")
    f = rt.filter_runs(t.frame, text)
    params = t.params if every else (t.varying_params(list(f["id"])) if len(f) > 1 else [])
    metric_cols = [c for m in t.metrics for c in (m, *t.cis.get(m, ())) if f[c].notna().any()]
    shown = ["name", *params, *metric_cols, *dict.fromkeys(t.samples.values()), "created_at", "id"]
    shown = [c for c in dict.fromkeys(shown) if c in f]
    st.caption(f"{len(f)} of {len(t.frame)} {_WHAT[kind]} · click a column header to sort · "
               f"{'every parameter' if every else f'{len(params)} parameter(s) that differ'} · metrics with their "
               "95 % CI bounds (lo / hi) where the run's evidence has one; n_* = the sample behind them")
    # names made unique (a name used twice gets its id's end), as in the comparison below
    names = dict(zip(t.frame["id"], rt.unique_labels(t.frame["name"].tolist(), list(t.frame["id"]))))
    show_table(f[shown].assign(name=f["id"].map(names)), hide_index=True, width="stretch",
                 key=f"{key}-table", column_config=_column_config(t, shown))

    ids = list(f["id"])
    if len(ids) < 2:
        return
    st.markdown(f"**Compare {_WHAT[kind]}**")
    pick = st.multiselect("Runs to compare", ids, default=ids[:2], format_func=lambda i: names[i], key=f"{key}-pick")
    if len(pick) >= 2:
        with user_errors():
            diff = rt.param_diff(t, pick)
            if diff.empty:
                st.info("These runs share every parameter.")
            else:
                st.caption(f"Parameters that differ ({len(diff)} of {len(t.params)}; the others are the same)")
                show_table(diff, width="stretch", key=f"{key}-diff")
            show_table(rt.metrics_with_ci(t, pick).drop(columns=["id"]).set_index("name").T, width="stretch",
                         key=f"{key}-metrics")
            _curves(kind, t, pick, names, key)
            metrics = [m for m in t.metrics if t.frame.set_index("id").loc[pick, m].notna().any()]
            if metrics:
                m = st.selectbox("Metric with its CI", metrics, format_func=lambda c: t.labels.get(c, c),
                                 key=f"{key}-ci-metric")
                st.plotly_chart(ci_figure(t, pick, m), width="stretch", key=f"{key}-ci")
    if len(f) >= 3:  # two runs: the comparison above says it all
        with st.expander(f"Parallel coordinates of the {len(f)} listed {_WHAT[kind]}", expanded=True):
            sub = rt.RunsTable(kind=t.kind, frame=f.reset_index(drop=True), params=t.params, metrics=t.metrics, cis=t.cis,
                               samples=t.samples, labels=t.labels, pct=t.pct)
            color = st.selectbox("Colour by", [m for m in t.metrics if f[m].notna().any()] or t.metrics,
                                 format_func=lambda c: t.labels.get(c, c), key=f"{key}-pc-color")
            st.plotly_chart(parallel_figure(sub, color=color), width="stretch", key=f"{key}-parallel")
