"""Streamlit-only helpers shared by the pages: workspace handle, error display, the jobs
panel (polled with ``st.fragment(run_every=...)``), a job follower, and session-state keys.

Pages stay thin: widgets -> typed params -> one engine / jobs call -> render.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

import engine.cli  # registers the check of a job's command (start_job below)
import engine.sync  # noqa: F401 - registers remote-job cancellation (the cancel buttons below)
from config import settings
from config.errors import KlineLabError
from engine import jobs
from storage.catalog import Catalog
from storage.workspace import Workspace


class Keys:
    """Session-state keys, in one place."""

    DATA_JOB = "data.job_id"
    DATA_RESAMPLE_JOB = "data.resample_job_id"
    DATA_SERIES = "data.series"
    FEATURES_JOB = "features.job_id"
    ANALYSIS_JOB = "analysis.job_id"
    TRAINING_JOB = "training.job_id"
    STAGE2_JOB = "stage2.job_id"
    BACKTEST_JOB = "backtest.job_id"
    SYNC_JOB = "sync.job_id"
    HF_TOKEN = "sync.hf_token"  # session only; never written anywhere
    SAMPLE_CHECKED = "app.sample_checked"


def workspace() -> Workspace:
    """The workspace of this app process (``KLINELAB_HOME`` or ./workspace), created if needed."""
    return Workspace.open(settings.HOME.get()).ensure()


def catalog() -> Catalog:
    return Catalog(workspace())


@st.cache_resource(show_spinner="Importing the bundled sample ...")
def _ensure_sample(root: str) -> int:
    from engine.data.sources.sample import import_sample

    return len(import_sample(Workspace.open(root)).imported)


def ensure_sample() -> None:
    """Import the bundled real sample on first run (idempotent, once per process and workspace)."""
    if settings.NO_SAMPLE.get() == "1":
        return
    try:
        _ensure_sample(str(workspace().root))
    except KlineLabError as e:
        st.warning(f"The bundled sample could not be imported: {e}")


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a KlineLabError as a message (it names the problem); let real bugs surface."""
    try:
        yield
    except KlineLabError as e:
        st.error(f"{e}", icon=":material/error:")


def show_table(data=None, **kwargs):
    """``st.dataframe`` as every page shows a table: a missing value (None, NaN) reads "-", never "None" or
    an empty cell (one place for what the pipeline walk found table by table)."""
    kwargs.setdefault("placeholder", "-")
    return st.dataframe(data, **kwargs)


def pvalue_columns(df: pd.DataFrame) -> dict:
    """p-value columns in scientific notation (2.1e-22, not 0.0000...0002 or 0.0000)."""
    return {c: st.column_config.NumberColumn(c, format="%.2e") for c in df.columns if "pvalue" in c}


def card_value(v) -> str:
    """One value of a feature card: p-values and other floats to 4 significant digits, in
    scientific notation when tiny or huge."""
    if isinstance(v, float):
        return f"{v:.3e}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6) else f"{v:.4g}"
    return str(v)


def status_icon(status: str) -> str:
    # plain symbols: headless browsers and minimal systems often lack an emoji font
    return {"queued": "…", "running": "▶", "succeeded": "✓", "failed": "✗", "cancelled": "■"}.get(status, "•")


def start_job(args: list[str], key: str, *, name: str = "", extra: dict | None = None,
              env: dict[str, str] | None = None) -> str | None:
    """Submit ``python -m engine <args>`` as a background job and remember it under ``key``.
    ``env``: extra environment for the job only (secrets such as a session's token travel this
    way, never through files or the command line)."""
    with user_errors():
        st_ = jobs.submit(workspace(), args, name=name, extra=extra, env=env)
        st.session_state[key] = st_.id
        return st_.id
    return None


def follow_job(key: str, *, on_done: Callable[[jobs.JobState], None] | None = None, run_every: float = 1.0) -> None:
    """Progress of the job remembered under ``key``, polled in a fragment; reruns the page
    once when it ends so the results show."""
    job_id = st.session_state.get(key)
    if not job_id:
        return

    @st.fragment(run_every=run_every)
    def _panel() -> None:
        try:
            stt = jobs.get(workspace(), job_id)
        except KlineLabError as e:
            st.warning(str(e))
            return
        st.caption(f"{status_icon(stt.status)} job `{stt.id}`: {stt.status}")
        if stt.active:
            st.progress(min(max(stt.progress, 0.0), 1.0), text=stt.message or "working ...")
            if st.button("Cancel", key=f"cancel-{job_id}"):
                with user_errors():
                    jobs.cancel(workspace(), job_id)
                st.rerun()
            return
        done_key = f"{key}.done"
        if st.session_state.get(done_key) != job_id:
            st.session_state[done_key] = job_id
            st.cache_data.clear()
            st.rerun()  # whole page: show the new artifacts
        if stt.status == "failed":
            st.error(stt.error or "the job failed")
            with st.expander("log"):
                st.code(jobs.log_tail(workspace(), job_id, 8000) or "(empty)")
            if stt.result and on_done is not None:  # a refusal with something to show (ssh test: host key)
                on_done(stt)
        elif stt.status == "cancelled":
            st.warning("cancelled")
        elif on_done is not None:
            on_done(stt)

    _panel()


def job_kind(s: jobs.JobState) -> str:
    """What a job does, from its command: ``data``, ``backtest``, ``train``, ``sync`` ..."""
    return s.command[0] if s.command else "?"


def _job_message(s: jobs.JobState) -> str:
    """A failed or cancelled job shows why (its ``error:`` line / exception message), not its
    last progress line; a running or finished one its last progress line."""
    if s.status in ("failed", "cancelled") and s.error:
        return s.error
    return s.message or (s.error or "")


def jobs_table(states: list[jobs.JobState]) -> pd.DataFrame:
    return pd.DataFrame([{"": status_icon(s.status), "job": s.name, "kind": job_kind(s), "status": s.status,
                          "progress": s.progress, "message": _job_message(s), "created": s.created_at,
                          "started": s.started_at, "ended": s.ended_at, "artifacts": ", ".join(s.artifacts),
                          "id": s.id} for s in states],
                        columns=["", "job", "kind", "status", "progress", "message", "created", "started", "ended",
                                 "artifacts", "id"])


def sorted_jobs(states: list[jobs.JobState]) -> list[jobs.JobState]:
    """Newest first by created time (not by folder name: ids of jobs started elsewhere, e.g. on a
    remote host or by another clock, do not sort by time)."""
    return sorted(states, key=lambda s: (pd.Timestamp(s.created_at) if s.created_at else pd.Timestamp.min.tz_localize("UTC"),
                                         s.id), reverse=True)


JOBS_PAGE_SIZE = 15


def jobs_panel(page_size: int = JOBS_PAGE_SIZE, run_every: float = 2.0) -> None:
    """Every job, newest first, filtered by kind / status and paged, with live progress and cancel
    buttons (fragment polled every ``run_every`` s); a failed job shows its error; the artifacts
    a job made are listed and can be opened by id."""

    @st.fragment(run_every=run_every)
    def _panel() -> None:
        every = sorted_jobs(jobs.list_jobs(workspace()))
        if not every:
            st.caption("No jobs yet.")
            return
        c1, c2, c3 = st.columns([2, 2, 1])
        kinds = c1.multiselect("Kind", sorted({job_kind(s) for s in every}), key="home.jobs.kind",
                               placeholder="every kind")
        statuses = c2.multiselect("Status", ["queued", "running", "succeeded", "failed", "cancelled"],
                                  key="home.jobs.status", placeholder="every status")
        shown = [s for s in every if (not kinds or job_kind(s) in kinds) and (not statuses or s.status in statuses)]
        pages = max(1, -(-len(shown) // page_size))
        page = int(c3.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                   key=f"home.jobs.page-{pages}"))
        part = shown[(page - 1) * page_size: page * page_size]
        st.caption(f"{len(shown):,} of {len(every):,} jobs match; showing {len(part)} "
                   f"(newest first, by created time), page {page} of {pages}")
        if not part:
            return
        show_table(jobs_table(part), hide_index=True, width="stretch",
                     column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)})
        for s in part:
            if s.status == "failed":
                st.error(f"{s.name or s.id}: {s.error or 'the job failed (no error recorded)'}", icon=":material/error:")
        made = [(a, s) for s in part for a in s.artifacts]
        if made:
            labels = {a: f"{a} (made by {s.name or s.id})" for a, s in made}
            pick = st.selectbox("Artifact made by a job", list(labels), format_func=labels.get, index=None,
                                key="home.jobs.artifact", placeholder="choose an artifact to see where it is")
            if pick:
                with user_errors():
                    from storage.artifacts import artifact_path, read_manifest

                    m = read_manifest(workspace(), pick)
                    st.markdown(f"**{m.kind}** · {m.name} · created {m.created_at} · folder "
                                f"`{artifact_path(workspace(), pick)}`")
                    st.code(pick, language=None)
        for s in (s for s in part if s.active):
            c1, c2 = st.columns([5, 1])
            c1.progress(min(max(s.progress, 0.0), 1.0), text=f"{s.name}: {s.message or s.status}")
            if c2.button("Cancel", key=f"jp-cancel-{s.id}"):
                with user_errors():
                    jobs.cancel(workspace(), s.id)
                st.rerun(scope="fragment")

    _panel()
