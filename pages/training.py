"""Training: launch UnifiedPatchTST / DirectionPredictor runs as background jobs (local or on
the remote GPU host), follow their loss and metric curves live, cancel, resume, and compare
runs side by side."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from engine import model_kinds
from engine.plots.training import compare_figure
from engine.training import runs
from engine.training.config import PRESETS, TrainRequest
from pages.artifact_widgets import artifact_names, by_name, manage_artifact
from pages.charts import figure, stamp
from pages.executor_widgets import executor_inputs
from pages.runs_widgets import runs_explorer
from pages.training_widgets import curve_controls, live_curves, run_details
from pages.ui import Keys, ensure_sample, follow_job, show_table, start_job, user_errors, workspace
from storage.artifacts import kinds_stamp


class TrainingKeys:  # session-state keys of this page
    FEATURESET = "training.featureset"
    RUN = "training.run"
    COMPARE = "training.compare"
    EXECUTOR = "training.executor"
    WORKERS = "training.workers"
    RAY_ADDRESS = "training.ray_address"


ensure_sample()
ws = workspace()
st.title("Training")


@st.cache_data(show_spinner=False)
def _feature_sets(root: str, stamp: tuple) -> list[dict]:
    from engine.features.store import list_feature_sets

    return [{"id": f.id, "label": f"{f.manifest.name or f.id} · {', '.join(f.symbols)} {f.timeframe} · {f.manifest.created_at}",
             "targets": f.target_names} for f in list_feature_sets(ws)]


@st.cache_data(show_spinner=False)
def _reports(root: str, featureset_id: str, stamp: tuple) -> list[str]:
    from storage.artifacts import list_manifests

    return [m.id for m in list_manifests(ws, "analysis") if featureset_id in m.parents]



def _done(stt) -> None:
    res = stt.result or {}
    if res.get("run_id"):
        st.success(f"Run `{res['run_id']}` finished: best epoch {res['metrics']['best_epoch']}, "
                   f"val loss {res['metrics'].get('val_loss') or float('nan'):.4f}")
    elif res:
        st.success(f"Submitted: {res}")


tab_new, tab_runs, tab_cmp, tab_tune = st.tabs(["New run", "Runs", "Compare", "Tuning"])
rows = runs.list_runs(ws)

with tab_new:
    fsets = _feature_sets(str(ws.root), kinds_stamp(ws, "features"))
    if not fsets:
        st.info("No feature set yet: build one on the Features page (or `python -m engine features build ...`).")
    else:
        by_id = {f["id"]: f for f in fsets}
        fid = st.selectbox("Feature set", list(by_id), format_func=lambda i: by_id[i]["label"], key=TrainingKeys.FEATURESET)
        reports = _reports(str(ws.root), fid, kinds_stamp(ws, "analysis"))
        with st.form("train", enter_to_submit=False):
            c1, c2 = st.columns(2)
            kinds = {k.name: k for k in model_kinds.kinds(trainable=True)}  # the registry's kinds `train` runs
            model = c1.radio("Model", list(kinds), horizontal=True, format_func=lambda m: kinds[m].label)
            preset = c2.selectbox("Config", PRESETS, index=PRESETS.index("test"),
                                  help="config/<name>.yaml; base = every default spelled out")
            report = st.selectbox("Inputs", ["(all non-leaking features)", *reports],
                                  help="an analysis report's included_features.txt as the whitelist")
            with_targets = [k.label for k in kinds.values() if "targets" in k.cli_options]
            targets = st.multiselect(f"Targets ({', '.join(with_targets)}; empty = all 24)", by_id[fid]["targets"])
            overrides = st.text_area("Config overrides (YAML, optional)", height=80,
                                     placeholder="training: {epochs: 5, seed: 1}\nsplit: {mode: walk_forward, n_folds: 3}")
            c3, c4 = st.columns(2)
            name = c3.text_input("Run name (optional)")
            remote = c4.text_input("Remote host (optional)", help="an SSH host profile of Cloud Sync; empty = this machine")
            run_on = executor_inputs("training", title="Walk-forward folds: executor", workers_default=None, in_form=True,
                                     what="walk-forward folds only (split mode walk_forward)",
                                     keys=(TrainingKeys.EXECUTOR, TrainingKeys.WORKERS, TrainingKeys.RAY_ADDRESS))
            go = st.form_submit_button("Start training", type="primary")
        if go:
            with user_errors():
                config = preset
                if overrides.strip():
                    from engine.training.run import custom_config

                    config = str(custom_config(ws, preset, overrides))
                req = TrainRequest.build(model=model, config=config, featureset=fid,
                                         report=report if report in reports else None,
                                         targets=(targets or None) if "targets" in kinds[model].cli_options else None,
                                         name=name.strip() or None, remote=remote.strip() or None, **run_on)  # the request `train` parses
                start_job(req.argv(), Keys.TRAINING_JOB, name=f"train {model}")
    follow_job(Keys.TRAINING_JOB, on_done=_done)
    live_curves()

with tab_runs:
    if not rows:
        st.info("No training runs yet.")
    else:
        table = pd.DataFrame(rows)
        shown = [c for c in ("status", "model", "name", "epochs", "best_val_loss", "val_accuracy", "val_baseline_accuracy",
                             "val_win_rate", "val_profit_factor", "val_trades", "test_win_rate", "test_profit_factor",
                             "test_trades", "warnings", "created_at", "id")
                 if c in table]
        show_table(table[shown], hide_index=True, width="stretch")
        by_run = {r["id"]: r for r in rows}
        run_name = by_name(by_run, {i: r.get("name") for i, r in by_run.items()})
        rid = st.selectbox("Run", list(by_run), key=TrainingKeys.RUN,
                           format_func=lambda i: f"{by_run[i]['status']} · {by_run[i]['model']} · {run_name(i)}")
        if rid:
            manage_artifact(rid, key="training.run")
            run_details(by_run[rid])

with tab_cmp:
    ids = [r["id"] for r in rows]
    if len(ids) < 2:
        st.info("Compare needs two runs or more.")
    else:
        run_names = artifact_names(ids, {r["id"]: r.get("name") for r in rows})
        pick = st.multiselect("Runs", ids, default=ids[:2], key=TrainingKeys.COMPARE, format_func=run_names.get)
        if pick:
            table = runs.compare_table(ws, pick).map(lambda v: round(v, 4) if isinstance(v, float) else v)
            show_table(table.astype(str).rename(columns=run_names), width="stretch")
            hists = {run_names[rid]: runs.history(ws, rid) for rid in pick}
            metrics = sorted({c for h in hists.values() for c in h.columns if c not in ("epoch", "step")})
            default = metrics.index("val_loss") if "val_loss" in metrics else 0
            metric = st.selectbox("Curve", metrics, index=default) if metrics else None
            if metric:
                smoothing, log_y = curve_controls("training.compare-curve")
                st.plotly_chart(figure(compare_figure, hists, metric, key=stamp(*hists, *hists.values()), smoothing=smoothing,
                                       log_y=log_y), width="stretch")
    runs_explorer("training")  # pages/runs_widgets.py: runs table, parameter diff, parallel coordinates

with tab_tune:
    from pages.tuning_widgets import tuning_tab

    tuning_tab("direction")
