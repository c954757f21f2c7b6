"""Streamlit pieces of the Training page: live curves of a running job, and one run's
details (headline metrics, curves, resume / cancel)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from config.errors import KlineLabError
from engine import jobs
from engine.plots.training import evidence_table, fold_table, horizon_table, loss_figure, metrics_figure
from engine.training import runs
from engine.training.config import ResumeRequest
from pages.artifact_widgets import artifact_label
from pages.charts import figure, stamp
from pages.ui import Keys, show_table, start_job, user_errors, workspace

HEADLINE = [("accuracy", "accuracy"), ("baseline_accuracy", "majority class"), ("log_loss", "log loss"),
            ("baseline_log_loss", "prior log loss"), ("regression_skill", "regression skill"),
            ("directional_accuracy", "directional accuracy"), ("win_rate", "win rate"), ("profit_factor", "profit factor"),
            ("trade_rate", "trade rate"), ("trades", "trades")]


def curve_controls(key: str) -> tuple[float, bool]:
    """TensorBoard's two chart settings: EMA smoothing of the curves and a log-scale y axis."""
    c1, c2, _ = st.columns([2, 1, 3])
    smoothing = c1.slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key=f"{key}-smoothing",
                          help="exponential moving average of each curve (as TensorBoard); the raw values stay drawn faint")
    log_y = c2.toggle("Log scale", key=f"{key}-log", help="logarithmic y axis")
    return smoothing, log_y


def curves(run_id: str, key: str) -> None:
    ws = workspace()
    try:
        hist, steps = runs.history(ws, run_id), runs.steps(ws, run_id)
    except KlineLabError as e:
        st.warning(str(e))
        return
    smoothing, log_y = curve_controls(key)
    k = stamp(run_id, hist, steps)  # the histories only grow: their shape and last row mark their content
    st.plotly_chart(figure(loss_figure, hist, steps, key=k, smoothing=smoothing, log_y=log_y), width="stretch",
                    key=f"{key}-loss")
    st.plotly_chart(figure(metrics_figure, hist, key=k, smoothing=smoothing, log_y=log_y), width="stretch",
                    key=f"{key}-metrics")


def live_curves(run_every: float = 2.0) -> None:
    """Curves of the run behind the job of this session, refreshed while the job runs."""
    job_id = st.session_state.get(Keys.TRAINING_JOB)
    if not job_id:
        return

    @st.fragment(run_every=run_every)
    def _panel() -> None:
        ws = workspace()
        run_id = runs.run_for_job(ws, job_id)
        if not run_id:
            st.caption("Preparing the windows ...")
            return
        try:
            active = jobs.get(ws, job_id).active
        except KlineLabError:
            active = False
        st.caption(f"Run `{run_id}`" + (" (live)" if active else ""))
        curves(run_id, f"live-{run_id}")

    _panel()


def metrics_table(metrics: dict) -> pd.DataFrame:
    rows = []
    for key, label in HEADLINE:
        v, t = (metrics.get("val") or {}).get(key), (metrics.get("test") or {}).get(key)
        if v is not None or t is not None:
            rows.append({"metric": label, "validation": v, "test": t})
    return pd.DataFrame(rows)


def show_evidence(metrics: dict, costs: dict | None) -> None:
    """The headline figures with their 95 % CIs and samples, the warnings right under them, the
    per-horizon and per-fold values, and the costs the run used."""
    show_table(evidence_table(metrics), hide_index=True, width="stretch")
    for w in metrics.get("warnings") or []:
        st.warning(w, icon="⚠️")
    method = ((metrics.get("test") or {}).get("uncertainty") or {}).get("method") or {}
    if method:
        st.caption(f"95 % CIs: {method.get('method')}, block length {method.get('block_length')} "
                   f"({method.get('block_length_rule')}), {method.get('resamples')} resamples, seed {method.get('seed')}, "
                   f"over the {method.get('over', 'series')}. Profit factor and win rate are pooled over every trade "
                   "of every horizon and fold (total gains / total losses, wins / trades).")
    hz = horizon_table(metrics)
    if not hz.empty:
        with st.expander("Per horizon (not averaged into the headline)"):
            show_table(hz, hide_index=True, width="stretch")
    folds = fold_table(metrics)
    if not folds.empty:
        with st.expander("Per walk-forward fold, and the spread", expanded=True):
            show_table(folds, hide_index=True, width="stretch")
    if costs:
        st.caption(f"Costs used: round trip {costs.get('round_trip', 0) * 100:.3g} % (2 x (fee + slippage) of "
                   f"{', '.join(costs.get('symbols') or [])}); loss fee {costs.get('loss_fee', 0) * 100:.3g} %, "
                   f"trading-metric fee {costs.get('trading_fee', 0) * 100:.3g} %"
                   + (f"; overrides {costs['overrides']}" if costs.get("overrides") else "; from config/costs.yaml"))


def run_details(row: dict) -> None:
    ws = workspace()
    rid = row["id"]
    fid = row.get("featureset_id")
    on = f"feature set **{artifact_label(fid)}** (`{fid}`)" if fid else "no recorded feature set"
    st.markdown(f"**{row.get('name') or rid}**: {row['model']} on {on}, status **{row['status']}**")
    if row["status"] == "finished":
        from storage.artifacts import read_manifest

        with user_errors():
            m = read_manifest(ws, rid, "model")
            st.caption(f"best epoch {m.metrics.get('best_epoch')} of {m.metrics.get('epochs_run')}; "
                       f"{m.params.get('n_inputs')} inputs; device {m.extra.get('device')}; folder `{ws.artifact_dir('model', rid)}`")
            show_evidence(m.metrics, m.extra.get("costs"))
    else:
        if row.get("error"):
            st.caption(f"stopped: {row['error']}")
        c1, c2 = st.columns(2)
        if row.get("resumable") and c1.button("Resume from the last checkpoint", key=f"resume-{rid}"):
            with user_errors():
                start_job(ResumeRequest.build(run_id=rid).argv(), Keys.TRAINING_JOB, name=f"resume {rid}")
                st.rerun()
        if row["status"] == "running" and row.get("job_id") and c2.button("Cancel", key=f"cancel-run-{rid}"):
            with user_errors():
                jobs.cancel(ws, row["job_id"])
            st.rerun()
    curves(rid, f"run-{rid}")
