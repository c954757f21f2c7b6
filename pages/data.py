"""Data: coverage, candlestick + volume chart, gaps and validation findings, imports
(file, PostgreSQL, Hugging Face, bundled sample), file validation, resampling."""
from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.data.requests import ResampleRequest
from engine.data.sources.registry import sources as data_sources
from engine.data.timeframes import TIMEFRAMES
from engine.plots.candles import candlestick_figure
from pages.data_widgets import source_form
from pages.ui import Keys, ensure_sample, follow_job, show_table, start_job, user_errors, workspace
from storage.artifacts import kinds_stamp

ensure_sample()
ws = workspace()
st.title("Data")


@st.cache_data(show_spinner=False)
def _coverage(root: str, stamp: tuple) -> pd.DataFrame:
    from engine.data.store import coverage

    return coverage(ws)


@st.cache_data(show_spinner=False, max_entries=8)
def _candles(root: str, symbol: str, tf: str, stamp: tuple) -> pd.DataFrame:
    from engine.data.store import load_candles

    return load_candles(ws, symbol, tf)



def _import_result(stt) -> None:
    res = stt.result or {}
    if res.get("imported"):
        st.success(f"Imported {len(res['imported'])} series")
        show_table(pd.DataFrame(res["imported"])[["status", "symbol", "timeframe", "rows", "added_rows", "first", "last", "id"]],
                     hide_index=True, width="stretch")  # a funding series has no timeframe
    for s in res.get("skipped", []):
        st.warning(f"skipped {Path(s['path']).name}: {s['reason']}")
    if not res.get("imported") and not res.get("skipped"):
        st.info("Nothing new: the data is already in the workspace.")


tab_cov, tab_imp, tab_val, tab_res = st.tabs(["Coverage & chart", "Import", "Validate a file", "Resample"])

with tab_cov:
    cov = _coverage(str(ws.root), kinds_stamp(ws, "ohlcv"))
    if cov.empty:
        st.info("No candles yet. Import a file, a database table, the Hub dataset or the bundled sample.")
    else:
        st.subheader("Coverage")
        show_table(cov.drop(columns=["path"]), hide_index=True, width="stretch")
        candles = cov[cov.timeframe != "funding"]
        labels = [f"{r.symbol} {r.timeframe}" for r in candles.itertuples()]
        default = labels.index("BTCUSDT 15m") if "BTCUSDT 15m" in labels else 0
        choice = st.selectbox("Series", labels, index=default, key=Keys.DATA_SERIES)
        if choice:
            sym, tf = choice.split(" ")
            row = candles[(candles.symbol == sym) & (candles.timeframe == tf)].iloc[0]
            with user_errors():
                df = _candles(str(ws.root), sym, tf, kinds_stamp(ws, "ohlcv"))
                first, last = df.timestamp.iloc[0].date(), df.timestamp.iloc[-1].date()
                default_start = max(first, last - timedelta(days=14 if TIMEFRAMES[tf] <= 900 else 90))
                rng = st.date_input("Range (UTC dates)", value=(default_start, last), min_value=first, max_value=last,
                                    key=f"range-{choice}")
                a, b = (rng if isinstance(rng, tuple) and len(rng) == 2 else (default_start, last))
                win = df[(df.timestamp >= pd.Timestamp(a, tz="UTC")) & (df.timestamp < pd.Timestamp(b, tz="UTC") + pd.Timedelta(days=1))]
                from storage.artifacts import read_manifest

                m = read_manifest(ws, row.id, "ohlcv")
                gaps = m.extra.get("gaps", [])
                if len(win) == 0:
                    st.warning("No bars in this range.")
                else:
                    fig = candlestick_figure(win, f"{sym} {tf}", gaps=gaps)
                    st.plotly_chart(fig, width="stretch")
                    if fig.layout.meta and fig.layout.meta.get("note"):
                        st.caption(f"Chart: {fig.layout.meta['note']}")
                c1, c2 = st.columns(2)
                with c1:
                    st.markdown(f"**Gaps** ({len(gaps)}, {m.metrics.get('missing_bars', 0)} missing bars)")
                    if gaps:
                        show_table(pd.DataFrame(gaps), hide_index=True, width="stretch", height=220)
                with c2:
                    st.markdown("**Validation findings**")
                    val = m.extra.get("validation") or {}
                    rows = [{"level": f["level"], "check": f["check"], "message": f["message"]} for f in val.get("findings", [])]
                    if rows:
                        show_table(pd.DataFrame(rows), hide_index=True, width="stretch")
                    else:
                        st.success("No findings: sorted, unique, consistent OHLC, positive prices.")
                with st.expander(f"Sources ({len(m.params.get('sources', []))})"):
                    show_table(pd.DataFrame([{k: v for k, v in s.items() if k != "notes"} | {"notes": "; ".join(s.get("notes") or [])}
                                               for s in m.params.get("sources", [])]), hide_index=True, width="stretch")

with tab_imp:
    specs = {spec.label: spec for spec in data_sources()}  # one form per registered source
    source_form(specs[st.radio("Source", list(specs), horizontal=True)], Keys.DATA_JOB)
    follow_job(Keys.DATA_JOB, on_done=_import_result)

with tab_val:
    st.caption("Checks a file without importing it: duplicates, order, gaps, OHLC consistency, prices, volume, NaN, partial last bar.")
    vup = st.file_uploader("File to validate", key="validate-upload")
    vtz = st.text_input("Timezone of naive times", key="validate-tz")
    if vup is not None:
        from engine.data.sources.files import inspect_file

        d = Path(tempfile.mkdtemp(prefix="klinelab-validate-"))
        p = d / Path(vup.name).name
        p.write_bytes(vup.getbuffer())
        with user_errors():
            insp = inspect_file(p, timezone=vtz.strip() or None)  # the same path as `data validate` / `data import`
            rep = insp.report()
            (st.success if rep.ok else st.error)(f"{p.name}: {rep.rows} rows, {rep.timeframe or '?'}, {rep.start} -> {rep.end}: "
                                                 f"{'valid' if rep.ok else f'{len(rep.errors)} error(s)'}")
            if rep.findings:
                show_table(pd.DataFrame([f.__dict__ for f in rep.findings]), hide_index=True, width="stretch")
            for n in insp.notes:
                st.caption(n)
            if rep.gaps:
                show_table(pd.DataFrame(rep.gaps), hide_index=True, width="stretch", height=200)

with tab_res:
    cov = _coverage(str(ws.root), kinds_stamp(ws, "ohlcv"))
    series = cov[cov.timeframe != "funding"]
    if series.empty:
        st.info("Import candles first.")
    else:
        with st.form("resample", enter_to_submit=False):
            c1, c2, c3 = st.columns(3)
            pick = c1.selectbox("Series", [f"{r.symbol} {r.timeframe}" for r in series.itertuples()])
            to = c2.selectbox("To", list(TIMEFRAMES), index=list(TIMEFRAMES).index("1h"))
            inc = c3.checkbox("Keep incomplete buckets")
            go = st.form_submit_button("Resample")
        if go and pick:
            sym, tf = pick.split(" ")
            with user_errors():
                req = ResampleRequest.build(symbol=sym, from_tf=tf, to_tf=to, allow_incomplete=inc)
                start_job(req.argv(), Keys.DATA_RESAMPLE_JOB, name=f"resample {sym} {tf}->{to}")
        follow_job(Keys.DATA_RESAMPLE_JOB, on_done=lambda s: st.success(
            f"{(s.result or {}).get('status', 'done')}: {(s.result or {}).get('id', '')}, {(s.result or {}).get('rows', '?')} rows"))
