"""Analysis Report: compute a feature-analysis report as a background job, then browse any
report in the catalog (local or downloaded from the Hub): summary, sortable tables, charts,
one feature's full card, the exclusion list and an editable whitelist, downloads."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from config.errors import KlineLabError
from engine.analysis import report as rep
from engine.analysis.exclusions import REASONS
from engine.analysis.options import AnalysisOptions
from engine.analysis.requests import AnalyzeRequest
from engine.analysis.view import HTML, ReportView
from engine.plots import analysis as figs
from pages.artifact_widgets import artifact_names, manage_artifact
from pages.ui import Keys, card_value, ensure_sample, follow_job, pvalue_columns, show_table, start_job, user_errors, workspace
from storage.artifacts import kinds_stamp

SELECTED = "analysis.selected_report"
ensure_sample()
ws = workspace()
st.title("Analysis Report")
st.caption("Statistics, importance, outliers, by-class statistics, correlations and exclusions are computed on the "
           "TRAIN split only; drift compares train with validation and test.")



@st.cache_data(show_spinner=False)

def _reports(root: str, stamp: tuple) -> pd.DataFrame:
    return rep.list_reports(ws)


@st.cache_data(show_spinner=False)
def _featuresets(root: str, stamp: tuple) -> pd.DataFrame:
    return rep.featuresets(ws)


@st.cache_data(show_spinner="Reading the report ...", max_entries=4)
def _view(root: str, report_id: str, stamp: tuple) -> ReportView:
    return rep.open_report(ws, report_id)


def _on_done(stt) -> None:
    rid = (stt.result or {}).get("report_id")
    if rid:
        st.session_state[SELECTED] = rid
        st.success(f"Report {rid} is ready: see the Report tab.")


def run_form() -> None:
    fsets = _featuresets(str(ws.root), kinds_stamp(ws, "features"))
    if fsets.empty:
        st.info("No feature set yet: build one on the Features page (or `python -m engine features build ...`).")
        return
    names = artifact_names(fsets["id"])
    labels = {r.id: f"{names[r.id]}  ({', '.join(r.symbols)} {r.timeframe}, {r.n_features} features)" for r in fsets.itertuples()}
    fs_id = st.selectbox("Feature set", list(labels), format_func=labels.get)
    targets = fsets.set_index("id").loc[fs_id, "targets"]
    default = targets.index("direction_4h") if "direction_4h" in targets else 0
    target = st.selectbox("Target", targets, index=default if targets else None)
    d = AnalysisOptions()
    with st.expander("Split and thresholds"):
        c1, c2 = st.columns(2)
        use_dates = c1.checkbox("Choose the split dates (default: the first 70% of the bars train, then 15% validation)")
        train_end = c1.date_input("Train end (UTC, inclusive)", value=None, disabled=not use_dates)
        val_end = c2.date_input("Validation end (UTC, inclusive)", value=None, disabled=not use_dates,
                                help="empty: half of what follows the train split and its purge gap")
        c3, c4, c5 = st.columns(3)
        corr = c3.slider("Correlation threshold |r|", 0.80, 0.999, d.corr_threshold, 0.005)
        missing = c4.slider("Exclude above missing %", 50.0, 100.0, d.missing_threshold_pct, 1.0)
        low = c5.slider("Exclude bottom importance %", 0.0, 30.0, d.low_importance_pct, 1.0)
        c6, c7, c8, c9 = st.columns(4)
        mi_rows = c6.number_input("MI sample cap (train rows)", 1000, 1_000_000, d.mi_max_rows, 1000)
        min_cls = c7.number_input("Min train rows per class", 1, 100_000, d.min_class_rows)
        psi_thr = c8.number_input("Drift: PSI above", 0.01, 5.0, d.psi_threshold, 0.05)
        ks_thr = c9.number_input("Drift: KS above", 0.01, 0.99, d.ks_threshold, 0.01)
    if st.button("Run analysis", type="primary", disabled=not target):
        if use_dates and train_end is None:
            st.error("Choose the train end date, or untick the split dates.")
        else:
            with user_errors():  # whole days: every bar that opens on the chosen date belongs to the split
                req = AnalyzeRequest.build(featureset_id=fs_id, target=target, corr_threshold=corr, missing_threshold=missing,
                                           low_importance_pct=low, mi_max_rows=int(mi_rows), min_class_rows=int(min_cls),
                                           psi_threshold=psi_thr, ks_threshold=ks_thr,
                                           train_end=f"{train_end}T23:59:59" if use_dates else None,
                                           val_end=f"{val_end}T23:59:59" if use_dates and val_end else None)
                start_job(req.argv(), Keys.ANALYSIS_JOB, name=f"analyze {target}")
    follow_job(Keys.ANALYSIS_JOB, on_done=_on_done)


def header(v: ReportView, rid: str) -> None:
    m = v.meta
    s = m.get("summary", {})
    sp = m.get("split", {})
    st.markdown(f"**{m.get('target')}** ({m.get('target_type')}) on feature set `{m.get('featureset_id')}` · "
                f"{', '.join(m.get('symbols', []))} {m.get('timeframe') or ''} · origin `{m.get('origin')}`")
    st.caption(f"train {sp.get('train_start', '?')} → {sp.get('train_end', '?')} · validation {sp.get('val_start', '?')} → "
               f"{sp.get('val_end', '?')} · test {sp.get('test_start', '?')} → {sp.get('test_end', '?')} · purge "
               f"{sp.get('purge_bars', '?')} bars")
    counts = v.reason_counts()
    cols = st.columns(8)
    for col, (label, val) in zip(cols, [("features", len(v.features)), ("included", len(v.included)),
                                        *((r.replace("_", " "), counts[r]) for r in REASONS),
                                        ("drifted", int(v.drift["drifted"].sum()) if len(v.drift) else 0)]):
        col.metric(label, val)
    per_class = ", ".join(f"{k}: {n}" for k, n in m.get("class_counts", {}).items())
    st.caption(f"train rows {s.get('train_rows', '?')} ({per_class}) · validation {s.get('val_rows', '?')} · test "
               f"{s.get('test_rows', '?')} · mutual information on {s.get('mi_rows', '?')} train rows")
    c1, c2, c3, c4 = st.columns([2, 2, 3, 1.5], vertical_alignment="bottom")
    with user_errors():
        html_path = rep.report_file(ws, rid, HTML)
        c1.download_button("Download the HTML report", html_path.read_bytes, file_name=f"{rid}.html", mime="text/html",
                           icon=":material/download:", on_click="ignore")
        c2.download_button("Download all files (.zip)", lambda: rep.report_zip(ws, rid), file_name=f"{rid}.zip",
                           mime="application/zip", icon=":material/folder_zip:", on_click="ignore")
        files = rep.report_files(ws, rid)
        one = c3.selectbox("One file", files, key=f"file-{rid}")
        if one:
            path = rep.report_file(ws, rid, one)
            c4.download_button("Download", path.read_bytes, file_name=path.name, on_click="ignore", key=f"dl-{rid}")


def feature_card(v: ReportView, feature: str) -> None:
    card = v.feature_card(feature)
    reason = card["exclusion"]
    if len(reason):
        st.warning(f"Excluded: {reason['reason'].iloc[0]} — {reason['detail'].iloc[0]}")
    else:
        st.success("Included in the whitelist")
    c1, c2 = st.columns(2)
    with c1:
        rows = {k: card[k].drop(columns="feature").iloc[0] for k in ("statistics", "importance", "outliers", "drift")
                if k in card and len(card[k])}
        show_table(pd.concat(rows).rename("value").map(card_value).to_frame(), width="stretch", height=420)
    with c2:
        if len(v.distributions):
            st.plotly_chart(figs.distribution_figure(v.distributions, feature), width="stretch", key="card-dist")
        if {"q25", "q75"} <= set(v.by_class.columns):
            st.plotly_chart(figs.by_class_box(v.by_class, feature), width="stretch", key="card-box")
    if len(card["correlated"]):
        st.markdown("**Highly correlated with**")
        show_table(card["correlated"], hide_index=True, width="stretch")


def whitelist_editor(v: ReportView, rid: str) -> None:
    reason = v.reason_of()
    rank = v.importance.set_index("feature")["rank"] if len(v.importance) else pd.Series(dtype=int)
    df = pd.DataFrame({"feature": v.features}).assign(
        include=lambda d: d["feature"].isin(set(v.included)), reason=lambda d: d["feature"].map(lambda f: reason.get(f, "")),
        rank=lambda d: d["feature"].map(rank)).sort_values("rank")
    edited = st.data_editor(df, hide_index=True, width="stretch", height=360, disabled=["feature", "reason", "rank"],
                            key=f"wl-{rid}", column_config={"include": st.column_config.CheckboxColumn("include")})
    chosen = edited.loc[edited["include"], "feature"].tolist()
    st.caption(f"{len(chosen)} features checked. Saving writes a new report (a copy with this whitelist), "
               "so the original stays as computed.")
    if st.button("Save as a new report", disabled=set(chosen) == set(v.included)):
        with user_errors():
            new = rep.save_whitelist(ws, rid, chosen)
            st.session_state[SELECTED] = new
            st.cache_data.clear()
            st.rerun()


def browse() -> None:
    reports = _reports(str(ws.root), kinds_stamp(ws, "analysis"))
    if reports.empty:
        st.info("No report yet: run one in the New report tab, or download one with Cloud Sync.")
        return
    ids = reports["id"].tolist()
    names = artifact_names(ids)
    labels = {r.id: f"{names[r.id]} · {r.target} · {r.origin} · {str(r.created_at)[:16]}" for r in reports.itertuples()}
    sel = st.session_state.get(SELECTED)
    rid = st.selectbox("Report", ids, index=ids.index(sel) if sel in ids else 0, format_func=labels.get)
    try:
        v = _view(str(ws.root), rid, kinds_stamp(ws, "analysis"))
    except KlineLabError as e:
        st.error(str(e))
        return
    manage_artifact(rid, key="analysis.report")
    header(v, rid)
    top_n = int(v.meta.get("options", {}).get("top_n", 30))
    reason = v.reason_of()
    t = st.tabs(["Importance", "Feature", "Statistics", "By class", "Correlation", "Outliers", "Drift", "Exclusions"])
    with t[0]:
        st.plotly_chart(figs.importance_bar(v.importance, top_n, reason), width="stretch", key="imp")
        show_table(v.importance.assign(excluded=v.importance["feature"].map(lambda f: reason.get(f, ""))), hide_index=True,
                     width="stretch", column_config=pvalue_columns(v.importance))
    with t[1]:
        order = v.importance["feature"].tolist() if len(v.importance) else v.features
        feature = st.selectbox("Search a feature", order, key=f"feature-{rid}")
        if feature:
            feature_card(v, feature)
    with t[2]:
        q = st.text_input("Filter features", key=f"q-{rid}", placeholder="e.g. rsi")
        stats = v.statistics[v.statistics["feature"].str.contains(q, case=False, regex=False)] if q else v.statistics
        show_table(stats, hide_index=True, width="stretch")
    with t[3]:
        f = st.selectbox("Feature", v.top_features(len(v.features)), key=f"bycls-{rid}")
        if f and {"q25", "q75"} <= set(v.by_class.columns):
            st.plotly_chart(figs.by_class_box(v.by_class, f), width="stretch", key="bycls")
        show_table(v.by_class[v.by_class["feature"] == f], hide_index=True, width="stretch")
    with t[4]:
        if len(v.corr):
            n = st.slider("Top features", 5, min(60, len(v.corr)), min(top_n, len(v.corr)), key=f"ncorr-{rid}")
            st.plotly_chart(figs.correlation_heatmap(v.corr, [f for f in v.top_features(n) if f in v.corr.index]),
                            width="stretch", key="corr")
        st.markdown(f"**Highly correlated pairs ({len(v.pairs)})**")
        show_table(v.pairs, hide_index=True, width="stretch")
    with t[5]:
        show_table(v.outliers, hide_index=True, width="stretch")
    with t[6]:
        if len(v.drift):
            st.plotly_chart(figs.drift_bar(v.drift, top_n, float(v.meta.get("options", {}).get("psi_threshold", 0.2))),
                            width="stretch", key="drift")
            show_table(v.drift.sort_values(["drifted", "psi_test"], ascending=False), hide_index=True, width="stretch",
                         column_config=pvalue_columns(v.drift))
        else:
            st.info("This report has no drift table.")
    with t[7]:
        st.plotly_chart(figs.exclusions_bar(v.reason_counts(), len(v.included)), width="stretch", key="excl")
        show_table(v.exclusions, hide_index=True, width="stretch")
        st.markdown("**Whitelist** (`included_features.txt`, what training uses with this report)")
        whitelist_editor(v, rid)


tab_report, tab_run = st.tabs(["Report", "New report"])
with tab_run:
    run_form()
with tab_report:
    browse()
