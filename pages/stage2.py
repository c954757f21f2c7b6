"""Stage 2: get a Stage 1 model (Hub / local folder / train), train the LightGBM Stage 2 with a
tuned signal threshold, read its results (confusion matrix, CV, pass rates), run every pair
as one batch job.  Every action is a CLI command run as a background job."""
from __future__ import annotations

import streamlit as st

from engine.data.timeframes import TIMEFRAMES
from engine.stage2.requests import (
    Stage1ImportRequest,
    Stage1InspectRequest,
    Stage1TrainRequest,
    Stage2BatchRequest,
    Stage2TrainRequest,
)
from engine.stage2.stage1_io import DEFAULT_REPO
from pages.artifact_widgets import by_name, manage_artifact
from pages.runs_widgets import runs_explorer
from pages.stage2_widgets import (
    Stage2Keys,
    batch_state,
    feature_pairs,
    manifests,
    show_batch,
    show_inspection,
    show_stage1,
    show_stage2,
    stage1_table,
    stage2_table,
)
from pages.ui import ensure_sample, follow_job, show_table, start_job, user_errors, workspace

ensure_sample()
ws = workspace()
st.title("Stage 2")
st.caption("Two-stage ZigZag pipeline: Stage 1 (Keras LSTM) flags bars where a pivot forms, signal = 1 - P(no pivot) "
           "above a threshold; Stage 2 (LightGBM) tells the pivot's type: HH, LH, HL, LL.")

pairs = feature_pairs()
s1_models = manifests("stage1")
s2_models = manifests("stage2")
symbols = sorted(set(pairs.symbol) | {m["symbols"][0] for m in s1_models if m["symbols"]})


def _names(text: str) -> str | None:
    """The typed feature names (one a line or comma separated) as the ``--features`` value; None when blank."""
    return ",".join(n.strip() for n in text.replace("\n", ",").split(",") if n.strip()) or None


tab1, tab2, tab3, tab4, tab_tune = st.tabs(["Stage 1", "Train Stage 2", "Results", "Batch", "Tuning"])

with tab1:
    src = st.segmented_control("Stage 1 source", ["Hugging Face Hub", "Local folder", "Train"], default="Hugging Face Hub",
                               key=Stage2Keys.S1_SOURCE) or "Hugging Face Hub"
    if src != "Train":
        with st.form("s1-import", enter_to_submit=False):
            if src == "Hugging Face Hub":
                c1, c2, c3 = st.columns([3, 1, 1])
                where = c1.text_input("Dataset repo", value=DEFAULT_REPO, help="files v1_model/{SYMBOL}/{tf}/classification.h5 + params.json")
                revision = c2.text_input("Revision", placeholder="main")
                model_file = c3.selectbox("Model file", ["classification.h5", "detection.h5"],
                                          help="detection.h5: the seed's one-sigmoid model, P(pivot)")
            else:
                where = st.text_input("Folder or .h5 file", placeholder="/path/to/models (classification.h5 + params.json, "
                                      "a v1_model tree, or e.g. /path/detection.h5 next to its params.json)")
                revision, model_file = "", "classification.h5"
            c1, c2 = st.columns(2)
            symbol = c1.selectbox("Symbol", symbols or ["BTCUSDT"], accept_new_options=True)
            tf = c2.selectbox("Timeframe", list(TIMEFRAMES), index=list(TIMEFRAMES).index("15m"))
            names = st.text_area("Input feature names in the model's order (only when params.json does not name them)",
                                 placeholder="rsi_14, atr_pct_14, ...", height=80)
            seq = st.number_input("Sequence length (0: from the model or params.json)", min_value=0, value=0, step=1)
            b1, b2, _ = st.columns([1, 1, 4])
            inspect = b1.form_submit_button("Inspect")
            do_import = b2.form_submit_button("Import", type="primary")
        if inspect or do_import:
            if not where.strip():
                st.error("Give the repo id or the folder.")
            else:
                with user_errors():
                    req = (Stage1InspectRequest if inspect else Stage1ImportRequest).build(
                        source=where.strip(), symbol=str(symbol).strip().upper(), timeframe=tf, features=_names(names),
                        sequence_length=int(seq) or None, revision=revision.strip() or None, model_file=model_file)
                    if inspect:
                        start_job(req.argv(), Stage2Keys.S1_INSPECT_JOB, name=f"inspect stage1 {symbol} {tf}")
                    else:
                        start_job(req.argv(), Stage2Keys.S1_JOB, name=f"import stage1 {symbol} {tf}")
        follow_job(Stage2Keys.S1_INSPECT_JOB, on_done=lambda s: show_inspection(s.result))
    elif pairs.empty:
        st.info("Training needs a feature set with ZigZag labels: build one on the Features page.")
    else:
        with st.form("s1-train", enter_to_submit=False):
            fs_opts = [f"{r.symbol} {r.timeframe} · {r.featureset_id}" for r in pairs.itertuples()]
            fs_name = by_name(pairs.featureset_id)
            pick = st.selectbox("Pair and feature set", fs_opts,
                                format_func=lambda o: f"{o.split(' · ')[0]} · {fs_name(o.split(' · ')[-1])}")
            c1, c2, c3, c4 = st.columns(4)
            classes = c1.selectbox("Classes", [2, 5], help="2: none / pivot; 5: none, HH, LH, HL, LL")
            seq = c2.number_input("Sequence length", 2, 512, 32)
            units = c3.number_input("LSTM units", 2, 512, 32)
            epochs = c4.number_input("Epochs", 1, 500, 10)
            names = st.text_area("Input features (blank: every usable feature of the set)", height=68)
            go = st.form_submit_button("Train Stage 1", type="primary")
        if go:
            sym_tf, fsid = pick.split(" · ")
            sym, tf = sym_tf.split(" ")
            with user_errors():
                req = Stage1TrainRequest.build(symbol=sym, timeframe=tf, featureset=fsid, classes=classes, sequence_length=int(seq),
                                               units=int(units), epochs=int(epochs), features=_names(names))
                start_job(req.argv(), Stage2Keys.S1_JOB, name=f"train stage1 {sym} {tf}")
    follow_job(Stage2Keys.S1_JOB, on_done=lambda s: st.success(f"Stage 1 `{(s.result or {}).get('stage1_id')}` is ready."))

    st.subheader("Stage 1 models")
    if not s1_models:
        st.info("No Stage 1 model yet: import the seed's from the Hub, a local folder, or train one.")
    else:
        show_table(stage1_table(s1_models), hide_index=True, width="stretch")
        ids = [m["id"] for m in s1_models]
        chosen = st.selectbox("Details of", ids, key=Stage2Keys.S1_PICK, format_func=by_name(ids))
        manage_artifact(chosen, key="stage2.s1")
        show_stage1(next(m for m in s1_models if m["id"] == chosen))

with tab2:
    s1_pairs = sorted({(m["symbols"][0], m["timeframe"]) for m in s1_models if m["symbols"]})
    if not s1_pairs:
        st.info("Stage 2 needs a Stage 1 model of the pair: import or train one in the Stage 1 tab.")
    else:
        pair = st.selectbox("Pair", [f"{s} {t}" for s, t in s1_pairs], key=Stage2Keys.S2_PAIR)
        sym, tf = pair.split(" ")
        of_pair = [m for m in s1_models if m["symbols"] and m["symbols"][0] == sym and m["timeframe"] == tf]
        sets = pairs[(pairs.symbol == sym) & (pairs.timeframe == tf)]
        if sets.empty:
            st.warning(f"No feature set holds {sym} {tf}: build one on the Features page.")
        # outside the form: the threshold's default follows the chosen Stage 1 model at once
        s1 = st.selectbox("Stage 1 model", [m["id"] for m in of_pair], help="newest first", key=f"s2-s1-{pair}",
                          format_func=by_name(m["id"] for m in of_pair))
        suggested = next((m["extra"].get("suggested_threshold") for m in of_pair if m["id"] == s1), None)
        with st.form("s2-train", enter_to_submit=False):
            fs = st.selectbox("Feature set", ["(Stage 1's, or the newest)", *sets.featureset_id.tolist()],
                              format_func=by_name(sets.featureset_id))
            mode = st.radio("Signal threshold", ["Threshold", "Target pass rate (validation split)"], horizontal=True)
            c1, c2 = st.columns(2)
            th = c1.slider("Threshold on 1 - P(no pivot)", 0.0, 1.0, float(round(suggested or 0.5, 3)), 0.001, format="%.3f",
                           key=f"s2-th-{s1}",
                           help="Stage 1 models trained here suggest the threshold that passes 4 % of validation bars")
            rate = c2.number_input("Target pass rate %", 0.1, 99.0, 4.0, 0.5)
            with st.expander("LightGBM and cross-validation"):
                c1, c2, c3, c4, c5 = st.columns(5)
                folds = c1.number_input("CV folds", 2, 20, 5)
                rounds = c2.number_input("Boosting rounds", 10, 5000, 200)
                lr = c3.number_input("Learning rate", 0.001, 1.0, 0.05, format="%.3f")
                depth = c4.number_input("Max depth", -1, 64, 8)
                leaves = c5.number_input("Leaves", 2, 1024, 31)
                no_probs = st.checkbox("Do not give Stage 1's probabilities to Stage 2")
            go = st.form_submit_button("Train Stage 2", type="primary", disabled=sets.empty)
        if go:
            by_threshold = mode == "Threshold"
            with user_errors():
                req = Stage2TrainRequest.build(symbol=sym, timeframe=tf, stage1=s1, cv_folds=int(folds), num_boost_round=int(rounds),
                                               learning_rate=float(lr), max_depth=int(depth), num_leaves=int(leaves),
                                               threshold=round(th, 6) if by_threshold else None,
                                               pass_rate=None if by_threshold else round(rate / 100, 6),
                                               featureset=None if fs.startswith("(") else fs, no_stage1_probs=no_probs)
                start_job(req.argv(), Stage2Keys.S2_JOB, name=f"stage2 {sym} {tf}")
        def _trained(job) -> None:
            sid = (job.result or {}).get("stage2_id")
            if sid and st.session_state.get(Stage2Keys.S2_PICKED_JOB) != job.id:  # show the new model once, then leave the pick alone
                st.session_state[Stage2Keys.S2_PICKED_JOB] = job.id
                st.session_state[Stage2Keys.S2_PICK] = sid
            st.success(f"Stage 2 `{sid}` trained: see the Results tab.")

        follow_job(Stage2Keys.S2_JOB, on_done=_trained)

with tab3:
    if not s2_models:
        st.info("No Stage 2 model yet.")
    else:
        show_table(stage2_table(s2_models), hide_index=True, width="stretch")
        chosen = st.selectbox("Model", [m["id"] for m in s2_models], key=Stage2Keys.S2_PICK, format_func=by_name(m["id"] for m in s2_models))
        manage_artifact(chosen, key="stage2.s2")
        show_stage2(next(m for m in s2_models if m["id"] == chosen))
    runs_explorer("stage2")  # pages/runs_widgets.py: runs table, parameter diff, parallel coordinates

with tab4:
    st.caption("Every symbol x timeframe as ONE background job: per pair the feature set, a Stage 1 (the pair's newest, "
               "imported from the Hub, or trained) and a Stage 2; a pair that fails is listed and the batch goes on.")
    with st.form("batch", enter_to_submit=False):
        c1, c2 = st.columns(2)
        b_syms = c1.multiselect("Symbols (none: every pair with a feature set)", sorted(set(pairs.symbol)), accept_new_options=True)
        b_tfs = c2.multiselect("Timeframes", list(TIMEFRAMES), default=[t for t in ("15m", "1h") if t in set(pairs.timeframe)])
        mode = st.radio("Stage 1", ["latest", "hub", "train"], horizontal=True,
                        captions=["the pair's newest", "import from the Hub layout", "train one per pair"])
        c1, c2 = st.columns(2)
        repo = c1.text_input("Hub repo (mode hub)", value=DEFAULT_REPO)
        names = c2.text_input("Stage 1 input names (seed models lack them)")
        c1, c2 = st.columns(2)
        rate = c1.number_input("Target pass rate % (0: use the threshold)", 0.0, 99.0, 0.0, 0.5)
        th = c2.number_input("Threshold", 0.0, 1.0, 0.5, 0.01)
        go = st.form_submit_button("Run the batch", type="primary")
    if go:
        with user_errors():
            req = Stage2BatchRequest.build(stage1=mode, symbols=[s.strip().upper() for s in b_syms], timeframes=b_tfs or None,
                                           repo_id=(repo.strip() or None) if mode == "hub" else None, features=_names(names),
                                           pass_rate=round(rate / 100, 6) if rate else None,
                                           threshold=None if rate else round(th, 6))
            start_job(req.argv(), Stage2Keys.BATCH_JOB, name="stage2 batch")

    @st.fragment(run_every=2.0)
    def _live() -> None:
        jid = st.session_state.get(Stage2Keys.BATCH_JOB)
        state = batch_state(jid) if jid else None
        if state:
            show_batch(state)

    follow_job(Stage2Keys.BATCH_JOB)
    _live()

    from engine import jobs

    earlier = [j for j in jobs.list_jobs(ws, limit=200) if j.command[:2] == ["stage2", "batch"]]
    if earlier:
        st.subheader("Batches")
        pick = st.selectbox("Batch job", [f"{j.id} · {j.status}" for j in earlier], key=Stage2Keys.BATCH_PICK)
        job = earlier[[f"{j.id} · {j.status}" for j in earlier].index(pick)]
        state = batch_state(job.id)
        if state:
            show_batch(state)
            left = sum(p["status"] in ("pending", "running") for p in state["pairs"])
            if not job.active and left and st.button(f"Resume ({left} pair(s) left)"):
                with user_errors():
                    start_job(Stage2BatchRequest.build(resume=job.id).argv(), Stage2Keys.BATCH_JOB, name="stage2 batch (resumed)")
                    st.rerun()
        elif job.error:
            st.error(job.error)

with tab_tune:
    from pages.tuning_widgets import tuning_tab

    tuning_tab("stage2")
