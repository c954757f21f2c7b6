"""Streamlit helpers of the Stage 2 page: session keys, cached listings, and the renderers of a
Stage 1 model, a Stage 2 result, the threshold explorer and a batch table."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.plots.stage2 import (
    confusion_figure,
    cv_figure,
    evidence_figure,
    importance_figure,
    pass_rate_figure,
    stage1_history_figure,
)
from engine.stage2.filtering import explore_threshold, pass_rate_curve
from pages.charts import figure, stamp
from pages.ui import show_table, workspace
from storage.artifacts import kinds_stamp


class Stage2Keys:
    """Session-state keys of the Stage 2 page."""

    S1_JOB = "stage2.stage1_job_id"
    S1_INSPECT_JOB = "stage2.inspect_job_id"
    S2_JOB = "stage2.job_id"  # = pages.ui.Keys.STAGE2_JOB
    BATCH_JOB = "stage2.batch_job_id"
    S1_SOURCE = "stage2.stage1_source"
    S1_PICK = "stage2.stage1_pick"
    S2_PAIR = "stage2.pair"
    S2_PICK = "stage2.result_pick"
    S2_PICKED_JOB = "stage2.result_picked_for_job"  # the job whose new model was selected once
    BATCH_PICK = "stage2.batch_pick"



@st.cache_data(show_spinner=False)
def _manifests(root: str, kind: str, stamp: tuple) -> list[dict]:
    from storage.artifacts import list_manifests
    from storage.workspace import Workspace

    ms = list_manifests(Workspace.open(root), kind)
    return sorted((m.to_dict() for m in ms), key=lambda m: (m["created_at"], m["id"]), reverse=True)


def manifests(kind: str) -> list[dict]:
    """Manifests of one kind, newest first (cached until one of them changes)."""
    return _manifests(str(workspace().root), kind, kinds_stamp(workspace(), kind))


@st.cache_data(show_spinner=False, max_entries=16)
def read_parquet(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path)


@st.cache_data(show_spinner=False, max_entries=16)
def read_csv(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(path)


def parquet(path: Path) -> pd.DataFrame | None:
    return read_parquet(str(path), path.stat().st_mtime) if path.is_file() else None


def feature_pairs() -> pd.DataFrame:
    """symbol, timeframe, featureset id, created_at: one row per (feature set, symbol)."""
    rows = [{"symbol": s, "timeframe": m["timeframe"], "featureset_id": m["id"], "created_at": m["created_at"]}
            for m in manifests("features") for s in m["symbols"] if m.get("timeframe")]
    return pd.DataFrame(rows, columns=["symbol", "timeframe", "featureset_id", "created_at"])


def fmt_pct(v) -> str:
    return "n/a" if v is None or pd.isna(v) else f"{100 * v:.2f}%"


# -- Stage 1 ----------------------------------------------------------------------------------------
def stage1_table(ms: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"name": m.get("name") or m["id"], "id": m["id"],
                          "pair": f"{m['symbols'][0]} {m['timeframe']}" if m["symbols"] else "",
                          "source": m["params"].get("source"), "origin": m["origin"],
                          "inputs": f"{m['extra'].get('n_features', '?')} x {m['extra'].get('sequence_length', '?')}",
                          "classes": m["extra"].get("n_classes"), "val AUC": (m["metrics"].get("val") or {}).get("auc"),
                          "created": m["created_at"]} for m in ms])


def show_inspection(result: dict) -> None:
    """What `stage1 inspect` found: shapes, what is known (and from where), what is missing."""
    r = result or {}
    if not r:
        return
    (st.success if r.get("ready") else st.warning)(
        "Ready to import." if r.get("ready") else "Not ready: give the missing items below, then Import.")
    k = r.get("keras") or {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Input shape", str(tuple(r.get("input_shape", []))))
    c2.metric("Sequence length", r.get("sequence_length") or "unknown", help=r.get("sources", {}).get("sequence_length"))
    c3.metric("Classes", len(r.get("class_names") or []), help=", ".join(r.get("class_names") or []))
    c4.metric("Output", k.get("output") or "?", help="what the last layer gives")
    show_keras_file(k)
    for p in r.get("problems", []):
        st.error(p)
    for m in r.get("missing", []):
        st.warning(f"missing: {m}")
    for n in r.get("notes", []):
        st.caption(n)
    st.caption(f"params.json keys: {', '.join(r.get('params_keys', []))}")
    if r.get("test_prediction"):
        tp = r["test_prediction"]
        st.write(f"Test prediction shape {tuple(tp['shape'])}: `{tp['value']}`")
    with st.expander("Model summary"):
        st.code(r.get("summary", ""), language=None)


def show_keras_file(k: dict) -> None:
    """The .h5 file's Keras version and what was done to read it with Keras 3."""
    if not k:
        return
    w = k.get("weights_checked") or {}
    rw = k.get("rewrites") or []
    st.caption(f"File written by Keras {k.get('keras_version')} ({k.get('backend') or 'backend not recorded'}); "
               f"weights checked against the file: {w.get('layers', 0)} layers, {w.get('arrays', 0)} arrays, "
               f"{w.get('values', 0):,} values. Translation to Keras 3: "
               + ("none needed." if not rw else f"{len(rw)} rewrite(s), in memory (the file is not edited)."))
    if rw:
        with st.expander("Translation applied"):
            st.markdown("\n".join(f"- {x}" for x in rw))


def show_stage1(m: dict) -> None:
    ws = workspace()
    ex, mt = m["extra"], m["metrics"]
    st.markdown(f"**{m['name']}** — `{m['id']}` ({m['params'].get('source')}, origin `{m['origin']}`)")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Features", ex.get("n_features"))
    c2.metric("Sequence length", ex.get("sequence_length"))
    c3.metric("Classes", ", ".join(ex.get("class_names") or []))
    if ex.get("suggested_threshold") is not None:
        c4.metric("Threshold for 4 % (val)", f"{ex['suggested_threshold']:.3f}")
    sources = ex.get("sources") or {}
    st.caption("Where each item came from: " + ", ".join(f"{k} = {v}" for k, v in sources.items()))
    if ex.get("keras"):
        st.caption(f"Output: {ex['keras'].get('output')}; input shape {tuple(ex.get('input_shape') or [])}")
        show_keras_file(ex["keras"])
    if ex.get("test_prediction"):
        st.write(f"Test prediction shape {tuple(ex['test_prediction']['shape'])}: `{ex['test_prediction']['value']}`")
    per_split = {k: v for k, v in mt.items() if isinstance(v, dict)}
    if per_split:
        show_table(pd.DataFrame(per_split).T, width="stretch")
    elif mt:
        st.json(mt, expanded=False)
    d = ws.artifact_dir("stage1", m["id"])
    with st.expander("Feature names"):
        st.write(", ".join(ex.get("feature_names") or []))
    hist = d / "history.csv"
    if hist.is_file():  # trained here: Keras' loss and accuracy per epoch
        st.plotly_chart(figure(stage1_history_figure, read_csv(str(hist), hist.stat().st_mtime), key=stamp(hist)),
                        width="stretch", key=f"s1-hist-{m['id']}")
    elif m["params"].get("source") != "trained":
        st.caption("No training curves: this model was imported (its training history is not in the seed's files).")
    summary = d / "summary.txt"
    if summary.is_file():
        with st.expander("Model summary"):
            st.code(summary.read_text(encoding="utf-8"), language=None)
    probs = parquet(d / "probabilities.parquet")
    if probs is not None:
        threshold_explorer(probs, ex.get("suggested_threshold") or 0.5, key=f"s1-th-{m['id']}")


def _pass_rate_chart(frame: pd.DataFrame, t: float):
    return pass_rate_figure(pass_rate_curve(frame["signal_prob"].to_numpy(), frame["split"].to_numpy()), t)


def threshold_explorer(frame: pd.DataFrame, threshold: float, *, key: str) -> float:
    """Pass rate per split over thresholds, and the counts at the one the user picks."""
    t = st.slider("Signal threshold on 1 - P(no pivot)", 0.0, 1.0, float(round(threshold, 3)), 0.001, key=key,
                  format="%.3f")
    e = explore_threshold(frame, t)
    pct = st.column_config.NumberColumn(format="percent")
    show_table(e, hide_index=True, width="stretch",
                 column_config={"pass_rate": pct, "pivot_precision": pct, "pivots_kept": pct})
    # the curve sorts every bar's probability: built once per model (``key`` names it) and threshold
    st.plotly_chart(figure(_pass_rate_chart, frame, t, key=(key, t)), width="stretch", key=f"{key}-fig")
    return t


# -- Stage 2 ----------------------------------------------------------------------------------------
def stage2_table(ms: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"name": m.get("name") or m["id"], "id": m["id"],
                          "pair": f"{m['symbols'][0]} {m['timeframe']}" if m["symbols"] else "",
                          "threshold": m["metrics"].get("threshold"), "samples": m["metrics"].get("samples"),
                          "test accuracy (all signals)": m["metrics"].get("test_accuracy_signals"),
                          "test signals": m["metrics"].get("test_signals"),
                          "best baseline": m["metrics"].get("test_best_baseline"),
                          "test accuracy (pivots only)": m["metrics"].get("test_accuracy"),
                          "test macro F1 (pivots only)": m["metrics"].get("test_f1_macro"),
                          "CV accuracy": (m["metrics"].get("cv") or {}).get("accuracy_mean"),
                          "stage1": m["params"].get("stage1_id"), "created": m["created_at"]} for m in ms])


def show_stage2(m: dict) -> None:
    ws = workspace()
    d = ws.artifact_dir("stage2", m["id"])
    mt, ex = m["metrics"], m["extra"]
    cv = ex.get("cv") or {}
    st.markdown(f"**{m['name']}** — `{m['id']}` (Stage 1 `{m['params'].get('stage1_id')}`, "
                f"features `{m['params'].get('featureset_id')}`)")
    evidence = ex.get("evidence") or {}
    if evidence.get("test"):
        show_evidence(evidence)
    else:
        st.info("This model predates the figures over all signal bars: retrain it to see them with CIs and baselines. "
                "The accuracy below covers only the signal bars that turned out to be pivots.")
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Test accuracy, pivot bars only", _f(mt.get("test_accuracy")),
              help="only the signal bars that later turned out to be pivots: not knowable when the signal fires")
    c2.metric("Test macro F1, pivot bars only", _f(mt.get("test_f1_macro")))
    acc = cv.get("accuracy") or {}
    c3.metric("CV accuracy (pivot bars)", _f(acc.get("mean")), delta=f"± {_f(acc.get('std'))}",
              delta_color="off", delta_arrow="off",
              help=f"{cv.get('folds')} time-ordered folds; min {_f(acc.get('min'))}, max {_f(acc.get('max'))}")
    c4.metric("Threshold", _f(mt.get("threshold")),
              help="chosen on the validation split from a target pass rate" if (ex.get("counts") or {}).get(
                  "threshold_chosen_on") == "validation" else "given")
    c5.metric("Pass rate (test)", fmt_pct((mt.get("pass_rate") or {}).get("test")))
    for w in ex.get("warnings") or []:
        st.warning(w)
    counts = (ex.get("counts") or {}).get("per_split") or {}
    if counts:
        show_table(pd.DataFrame([{"split": s, "bars": c["bars"], "scored": c["scored"], "signals": c["signals"],
                                    "pass rate": fmt_pct(c["pass_rate"]), "Stage 2 samples": c["samples"],
                                    **c["labels"]} for s, c in counts.items()]), hide_index=True, width="stretch")
    left, right = st.columns(2)
    perf = (ex.get("performance") or {}).get("test") or {}
    if perf.get("confusion_matrix"):
        left.plotly_chart(figure(confusion_figure, perf["confusion_matrix"], key=m["id"]), width="stretch",
                          key=f"cm-{m['id']}")
    cvdf = pd.DataFrame(ex.get("cv_folds") or [])
    if len(cvdf):
        right.plotly_chart(figure(cv_figure, cvdf, key=m["id"]), width="stretch", key=f"cv-{m['id']}")
    with st.expander("Threshold explorer (what another threshold would let through)"):
        sig = parquet(d / "signals.parquet")
        if sig is not None:
            threshold_explorer(sig, mt.get("threshold", 0.5), key=f"s2-th-{m['id']}")
            st.caption("Retrain with the chosen threshold in the Train tab.")
    imp = d / "feature_importance.csv"
    if imp.is_file():
        with st.expander("Feature importance"):
            st.plotly_chart(figure(importance_figure, read_csv(str(imp), imp.stat().st_mtime), key=stamp(imp)),
                            width="stretch", key=f"imp-{m['id']}")
    pred = parquet(d / "predictions.parquet")
    if pred is not None:
        with st.expander(f"Test-split predictions ({len(pred)} signal bars, for the Backtest page)"):
            show_table(pred.head(500), hide_index=True, width="stretch")
    summary = d / "summary.txt"
    if summary.is_file():
        with st.expander("Summary report"):
            st.code(summary.read_text(encoding="utf-8"), language=None)


def _f(v, digits: int = 3) -> str:
    """A number, or "-" where it is undefined (never NaN / Infinity on the page)."""
    return "-" if v is None or pd.isna(v) else f"{v:.{digits}f}"


def _ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"


def show_evidence(evidence: dict) -> None:
    """What a trader would get: accuracy / macro-F1 over ALL signal bars with CIs, baselines on the
    same bars, the pivot-only figure labelled as such, class shares and sample sizes."""
    t = evidence["test"]
    u = t.get("uncertainty") or {}
    base = {k: v for k, v in (t.get("baselines") or {}).items() if v is not None}
    best = max(base, key=base.get) if base else None
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(f"Test accuracy, all {t['signals']} signals", _f(t.get("accuracy_signals")),
              help=f"95% CI {_ci(u.get('accuracy_signals'))}; a signal bar that was not a pivot is its own 'no pivot' "
                   "class, which Stage 2 never predicts, so it counts as wrong")
    c1.caption(f"95% CI {_ci(u.get('accuracy_signals'))} · n = {t['signals']} signals")
    c2.metric("Best baseline, same bars", _f(base.get(best)) if best else "-", help=(evidence.get("baseline_rules") or {}).get(best))
    c2.caption(best or "")
    c3.metric("Test macro F1, all signals", _f(t.get("macro_f1_signals")), help="5 classes incl. 'no pivot'")
    c3.caption(f"95% CI {_ci(u.get('macro_f1_signals'))}")
    c4.metric(f"Pivot bars only ({t['pivots']})", _f(t.get("accuracy_pivots")),
              help="only the signal bars that later turned out to be pivots: not knowable when the signal fires")
    c4.caption(f"95% CI {_ci(u.get('accuracy_pivots'))} · not the headline")
    oof = evidence.get("stage1_oof")
    st.caption(("Stage 1 probabilities on the train split: out-of-fold. " if oof else
                "Stage 1 probabilities on the train split are NOT out-of-fold. ") + (evidence.get("no_pivot_class") or ""))
    rows = []
    for s in ("val", "test"):
        e = evidence.get(s)
        if not e:
            continue
        uu = e.get("uncertainty") or {}
        rows.append({"split": s, "signals": e["signals"], "pivots": e["pivots"], "days": e["sample"]["days"],
                     "Stage 2 (all signals)": _f(e.get("accuracy_signals")), "95% CI": _ci(uu.get("accuracy_signals")),
                     "macro F1 (all signals)": _f(e.get("macro_f1_signals")),
                     **{f"baseline {k}": _f(v) for k, v in (e.get("baselines") or {}).items()},
                     "Stage 2 (pivots only)": _f(e.get("accuracy_pivots")),
                     "no pivot share": fmt_pct((e.get("class_shares") or {}).get("no_pivot"))})
    left, right = st.columns([3, 2])
    left.plotly_chart(evidence_figure(evidence), width="stretch", key=f"ev-{id(evidence)}")
    with right:
        show_table(pd.DataFrame(rows).set_index("split").T, width="stretch")
        shares = pd.DataFrame({s: (evidence[s].get("class_shares") or {}) for s in ("val", "test") if evidence.get(s)})
        st.caption("True class shares over the signal bars")
        show_table(shares.map(fmt_pct), width="stretch")
    with st.expander("How the baselines are defined"):
        for k, v in (evidence.get("baseline_rules") or {}).items():
            st.markdown(f"- **{k}**: {v}")


# -- batch ------------------------------------------------------------------------------------------
def batch_state(job_id: str) -> dict | None:
    from engine.stage2.batch import STATE_FILE

    p = workspace().jobs_dir / job_id / STATE_FILE
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # being replaced right now; the next poll reads it


def show_batch(state: dict) -> None:
    from engine.stage2.batch import results_table

    df = results_table(state)
    done = (df.status == "succeeded").sum()
    st.caption(f"{done} of {len(df)} pairs succeeded, {(df.status == 'failed').sum()} failed, "
               f"{df.status.isin(['pending', 'running']).sum()} to do")
    show_table(df, hide_index=True, width="stretch",
                 column_config={"accuracy_signals": st.column_config.NumberColumn("accuracy (all signals)", format="%.3f"),
                                "best_baseline": st.column_config.NumberColumn(format="%.3f"),
                                "accuracy": st.column_config.NumberColumn("accuracy (pivots only)", format="%.3f"),
                                "f1_macro": st.column_config.NumberColumn(format="%.3f"),
                                "cv_accuracy_mean": st.column_config.NumberColumn(format="%.3f"),
                                "cv_accuracy_std": st.column_config.NumberColumn(format="%.3f"),
                                "pass_rate_test": st.column_config.NumberColumn(format="%.4f")})
