"""The Tuning tab (Training page, Stage 2 page): start an Optuna study as a background job
(``python -m engine tune run ...``), follow it, and read any stored study: the selected trial with its
deflated Sharpe ratio (N = completed trials) and its one held-out confirmation, each with its sample
size, and Optuna's optimisation-history, parameter-importance and parallel-coordinates charts."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from config.settings import HORIZONS
from engine.tuning.requests import TuneRequest
from pages.ui import follow_job, show_table, start_job, user_errors, workspace
from storage.artifacts import kinds_stamp


def _fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None or (isinstance(v, float) and pd.isna(v)) else format(v, spec)


@st.cache_data(show_spinner=False)
def _tunings(root: str, stamp: tuple) -> list[dict]:
    from engine.tuning.store import list_tunings

    return list_tunings(workspace())


@st.cache_data(show_spinner=False)
def _feature_sets(root: str, stamp: tuple) -> list[dict]:
    from engine.features.store import list_feature_sets

    return [{"id": f.id, "label": f"{f.manifest.name or f.id} · {', '.join(f.symbols)} {f.timeframe}", "symbols": list(f.symbols)}
            for f in list_feature_sets(workspace())]


def _start_form(kind: str, key: str) -> None:
    from engine.training.config import PRESETS

    ws = workspace()
    fsets = _feature_sets(str(ws.root), kinds_stamp(ws, "features"))
    if not fsets:
        st.info("No feature set yet: build one on the Features page.")
        return
    by_id = {f["id"]: f for f in fsets}
    with st.form(f"tune-{kind}", enter_to_submit=False):
        c1, c2, c3 = st.columns(3)
        fid = c1.selectbox("Feature set", list(by_id), format_func=lambda i: by_id[i]["label"])
        if kind == "stage2":
            symbol = c2.selectbox("Symbol", sorted({s for f in fsets for s in f["symbols"]}))
            stage1 = st.text_input("Stage 1 id (optional)", placeholder="empty: the pair's latest Stage 1 (trained on this "
                                                                        "feature set; its test split is held out)")
            preset = "test"
        else:
            preset = c2.selectbox("Base config", PRESETS, index=PRESETS.index("test"),
                                  help="the training config the search space is laid over")
        horizon = c3.selectbox("Traded horizon", list(HORIZONS), index=HORIZONS.index("1h"))
        c4, c5, c6, c7 = st.columns(4)
        trials = c4.number_input("Trials", 1, 10_000, 12)
        workers = c5.number_input("Workers", 1, 1024, 2, help="Optuna workers running at once (processes or Ray tasks)")
        folds = c6.number_input("Walk-forward folds", 1, 20, 3)
        holdout = 0.2 if kind == "stage2" else c7.number_input("Held-out fraction", 0.05, 0.5, 0.2, step=0.05)
        c8, c9, c10 = st.columns(3)
        last_bars = 0 if kind == "stage2" else c8.number_input("Last bars per symbol (0 = config's)", 0, 10_000_000, 3000,
                                                                step=500)
        executor = c9.selectbox("Executor", ["local", "ray"], help="ray: a local Ray, or the cluster at the address")
        address = c10.text_input("Ray address (optional)", placeholder="10.0.0.5:6379")
        storage = st.text_input("Study storage URL (optional)", type="password",
                                placeholder="postgresql://user:password@host:5432/db  (empty: a journal file in the workspace)")
        go = st.form_submit_button("Start study", type="primary")
    if go:
        with user_errors():
            req = TuneRequest.build(kind=kind, featureset=fid, config=preset, horizon=horizon, trials=int(trials),
                                    workers=int(workers), folds=int(folds), holdout=float(holdout), executor=executor,
                                    symbol=symbol if kind == "stage2" else None,
                                    stage1=(stage1.strip() or None) if kind == "stage2" else None,
                                    last_bars=int(last_bars) or None, ray_address=address.strip() or None)
            # the storage URL may hold a password: it reaches the job in its environment, never its command line
            start_job(req.argv(), key, name=f"tune {kind}", env=tune_env(storage))


def tune_env(storage: str) -> dict[str, str] | None:
    """The Tuning job's extra environment: the study storage URL (``KLINELAB_TUNE_STORAGE``), if one was typed."""
    from config import settings

    return {settings.TUNE_STORAGE.name: storage.strip()} if storage.strip() else None


def _done(stt) -> None:
    res = stt.result or {}
    if res.get("tuning_id"):
        st.success(f"Study stored as `{res['tuning_id']}`")


def show_tuning(tuning_id: str) -> None:
    """Selection (DSR), held-out confirmation, charts and the per-trial table of one stored study."""
    from engine.tuning.plots import CHARTS, chart
    from engine.tuning.store import load_tuning

    t = load_tuning(workspace(), tuning_id)
    summ = t.summary
    sel, conf, per = summ.get("selection") or {}, summ.get("confirmation") or {}, summ.get("periods") or {}
    dsr = sel.get("dsr") or {}
    ins = (sel.get("in_search") or {}).get("sample") or {}
    cs = conf.get("sample") or {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Trials", f"{sel.get('n_trials')}", help=f"{sel.get('n_complete')} complete, {sel.get('n_pruned')} pruned, "
                                                      f"{sel.get('n_failed')} failed")
    c2.metric("Best validation Sharpe", _fmt(sel.get("best_value")),
              help=f"trial {sel.get('best_trial')}: {ins.get('periods')} periods, {ins.get('trades')} trades, "
                   f"{ins.get('folds')} folds")
    c3.metric("Deflated Sharpe", _fmt(sel.get("deflated_sharpe")),
              help=f"N = {dsr.get('n_trials')} completed trials, Sharpe variance {_fmt(dsr.get('sharpe_variance'), '.3g')}")
    c4.metric("Held-out Sharpe", _fmt(conf.get("sharpe")), help=f"{cs.get('periods')} periods, {cs.get('trades')} trades")
    st.caption(
        f"Best trial {sel.get('best_trial')}: validation Sharpe {_fmt(sel.get('best_value'))} over {ins.get('periods')} "
        f"periods / {ins.get('trades')} trades ({ins.get('folds')} walk-forward folds, search period "
        f"{(per.get('search') or {}).get('start', '?')[:16]} → {(per.get('search') or {}).get('end', '?')[:16]}). "
        f"Deflated Sharpe {_fmt(sel.get('deflated_sharpe'))} with N = {dsr.get('n_trials')} completed trials "
        f"(Sharpe variance {_fmt(dsr.get('sharpe_variance'), '.3g')}, {dsr.get('bars')} periods). "
        f"Held-out {conf.get('start', '?')[:16]} → {conf.get('end', '?')[:16]} ({cs.get('days')} days, purge "
        f"{conf.get('purge_bars')} bars): Sharpe {_fmt(conf.get('sharpe'))}, total return {_fmt(conf.get('total_return'), '.2%')}, "
        f"{cs.get('periods')} periods, {cs.get('trades')} trades.")
    st.write("Best parameters:", sel.get("best_params") or {})
    for w in summ.get("warnings") or []:
        st.warning(w)
    try:
        study = t.study()
    except Exception as e:  # noqa: BLE001 - the numbers above stay readable without the charts
        st.info(f"charts unavailable: {e}")
        study = None
    if study is not None:
        for which in CHARTS:
            fig, note = chart(study, which)
            if fig is None:
                st.info(note)
            else:
                st.plotly_chart(fig, width="stretch", key=f"tuning-{tuning_id}-{which}")
    show_table(t.trials(), hide_index=True, width="stretch")


def tuning_tab(kind: str) -> None:
    """The whole tab: start form, job progress, stored studies of ``kind``."""
    ws = workspace()
    key = f"tuning.job.{kind}"
    with user_errors():
        _start_form(kind, key)
    follow_job(key, on_done=_done)
    rows = [r for r in _tunings(str(ws.root), kinds_stamp(ws, "tuning")) if r.get("kind") == kind]
    if not rows:
        st.info("No tuning study yet.")
        return
    show_table(pd.DataFrame(rows), hide_index=True, width="stretch")
    by_id = {r["id"]: r for r in rows}
    tid = st.selectbox("Study", list(by_id), key=f"tuning.study.{kind}",
                       format_func=lambda i: f"{by_id[i]['name']} · {i}")
    if tid:
        with user_errors():
            show_tuning(tid)
