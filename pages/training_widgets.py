"""Streamlit pieces of the Training page: live curves of a running job, and one run's
details (headline metrics, curves, resume / cancel)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from config.errors import KlineLabError
from engine import jobs
from engine.plots.training import loss_figure, metrics_figure
from engine.training import runs
from pages.ui import Keys, start_job, user_errors, workspace

HEADLINE = [("accuracy", "accuracy"), ("baseline_accuracy", "majority class"), ("log_loss", "log loss"),
            ("baseline_log_loss", "prior log loss"), ("regression_skill", "regression skill"),
            ("directional_accuracy", "directional accuracy"), ("win_rate", "win rate"), ("profit_factor", "profit factor"),
            ("trade_rate", "trade rate"), ("trades", "trades")]


def curves(run_id: str, key: str) -> None:
    ws = workspace()
    try:
        hist, steps = runs.history(ws, run_id), runs.steps(ws, run_id)
    except KlineLabError as e:
        st.warning(str(e))
        return
    st.plotly_chart(loss_figure(hist, steps), width="stretch", key=f"{key}-loss")
    st.plotly_chart(metrics_figure(hist), width="stretch", key=f"{key}-metrics")


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


def run_details(row: dict) -> None:
    ws = workspace()
    rid = row["id"]
    st.markdown(f"**{row.get('name') or rid}**: {row['model']} on `{row.get('featureset')}`, status **{row['status']}**")
    if row["status"] == "finished":
        from storage.artifacts import read_manifest

        with user_errors():
            m = read_manifest(ws, rid, "model")
            st.caption(f"best epoch {m.metrics.get('best_epoch')} of {m.metrics.get('epochs_run')}; "
                       f"{m.params.get('n_inputs')} inputs; device {m.extra.get('device')}; folder `{ws.artifact_dir('model', rid)}`")
            st.dataframe(metrics_table(m.metrics), hide_index=True, width="stretch")
    else:
        if row.get("error"):
            st.caption(f"stopped: {row['error']}")
        c1, c2 = st.columns(2)
        if row.get("resumable") and c1.button("Resume from the last checkpoint", key=f"resume-{rid}"):
            start_job(["train", "resume", rid], Keys.TRAINING_JOB, name=f"resume {rid}")
            st.rerun()
        if row["status"] == "running" and row.get("job_id") and c2.button("Cancel", key=f"cancel-run-{rid}"):
            with user_errors():
                jobs.cancel(ws, row["job_id"])
            st.rerun()
    curves(rid, f"run-{rid}")
