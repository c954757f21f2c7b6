"""Features: build a feature set (a background job), browse stored sets (audit result and
leakage badges, preview table, per-feature chart over the candles with the ZigZag pivots),
and the feature registry."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.ui import Keys, ensure_sample, follow_job, show_table, start_job, user_errors, workspace
from storage.artifacts import kinds_stamp

st.title("Features")  # first, so the page shows at once while the heavier modules load
ensure_sample()
ws = workspace()
root = str(ws.root)

from engine.data.timeframes import TIMEFRAMES
from engine.features.requests import FeaturesBuildRequest
from pages import features_widgets as fw
from pages.artifact_widgets import by_name, manage_artifact
from pages.features_widgets import FeaturesKeys

st.caption("150+ leakage-free features, 24 targets and ZigZag pivots per symbol set and timeframe; "
           "every set is audited for look-ahead leakage before it is stored.")


def _built(stt) -> None:
    res = stt.result or {}
    if res.get("featureset_id"):
        st.session_state[FeaturesKeys.SET] = res["featureset_id"]
        msg = (f"{'Found in the cache' if res.get('cached') else 'Built'} `{res['featureset_id']}`: {res.get('rows')} rows, "
               f"{len(res.get('feature_names', []))} features, {len(res.get('target_names', []))} targets")
        if res.get("leaking"):
            st.warning(msg + f" — leaking: {', '.join(res['leaking'])}")
        else:
            st.success(msg + " — audit: no leaking feature")


tab_build, tab_sets, tab_reg, tab_fund = st.tabs(["Build", "Feature sets", "Registry", "Funding"])

with tab_build:
    from engine.data.store import available
    from engine.features.registry import registry

    series = available(ws)
    tfs = [t for t in TIMEFRAMES if any(tf == t for _, tf in series)]
    if not tfs:
        st.info("No candles yet: import some on the Data page.")
    else:
        reg = registry()
        c1, _ = st.columns([1, 3])
        tf = c1.selectbox("Timeframe", tfs, index=tfs.index("15m") if "15m" in tfs else 0)
        syms = sorted(s for s, t in series if t == tf)
        with st.form("features-build", enter_to_submit=False):
            chosen = st.multiselect("Symbols", syms, default=[s for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT") if s in syms] or syms[:1])
            fams = st.multiselect("Families", list(reg.families), default=list(reg.families),
                                  format_func=lambda f: f"{reg.families[f].title} ({len(reg.families[f].features)})")
            c3, c4 = st.columns(2)
            start = c3.date_input("From (UTC, optional)", value=None)
            end = c4.date_input("To (UTC, optional)", value=None)
            st.caption("Cross-asset features need two or more symbols (BTC is loaded as the reference when it is stored); "
                       "funding features need a perpetual with funding rates; taker-buy features need Binance's taker columns.")
            go = st.form_submit_button("Build features", type="primary")
        if go:
            if not chosen:
                st.error("Choose at least one symbol.")
            elif not fams:
                st.error("Choose at least one family.")
            else:
                with user_errors():
                    req = FeaturesBuildRequest.build(symbols=chosen, timeframe=tf,
                                                     families=fams if len(fams) < len(reg.families) else None,
                                                     start=str(start) if start else None,
                                                     end=f"{end} 23:59:59" if end else None)
                    start_job(req.argv(), Keys.FEATURES_JOB, name=f"features {','.join(chosen)} {tf}")
        follow_job(Keys.FEATURES_JOB, on_done=_built)

with tab_sets:
    sets = fw.feature_sets(root, kinds_stamp(ws, "features"))
    if sets.empty:
        st.info("No feature set yet: build one in the Build tab (or `python -m engine features build`).")
    else:
        show_table(sets, hide_index=True, width="stretch", height=min(36 * (len(sets) + 1), 260))
        ids = sets["id"].tolist()
        if st.session_state.get(FeaturesKeys.SET) not in ids:
            st.session_state[FeaturesKeys.SET] = ids[0]
        fid = st.selectbox("Feature set", ids, key=FeaturesKeys.SET, format_func=by_name(ids))
        manage_artifact(fid, key="features.set")
        with user_errors():
            from engine.features.store import load_feature_set

            fs = load_feature_set(ws, fid)
            audit = fs.manifest.extra.get("audit", {})
            m1, m2, m3, m4, m5 = st.columns(5)
            m1.metric("Rows", f"{fs.manifest.metrics.get('rows', 0):,}")
            m2.metric("Features", len(fs.feature_names))
            m3.metric("Targets", len(fs.target_names))
            m4.metric("Leaking", len(fs.leaking))
            m5.metric("Max horizon (bars)", fs.max_horizon_bars)
            if audit.get("passed"):
                st.success(f"Leakage audit passed: {audit.get('n_features')} features recomputed at "
                           f"{len(audit.get('cut_points', []))} cut points ({', '.join(audit.get('cut_points', []))}) "
                           f"match the full-data values.", icon=":material/verified:")
            elif audit.get("passed") is False:
                st.error(f"Leakage audit: {len(fs.leaking)} leaking feature(s), excluded from training by default: "
                         f"{', '.join(fs.leaking)}", icon=":material/warning:")
            else:
                st.warning("This set was built without the leakage audit.")
            skipped = fs.manifest.extra.get("skipped_features", {})
            if skipped:
                with st.expander(f"{len(skipped)} feature(s) not built (inputs missing)"):
                    show_table(pd.DataFrame({"feature": list(skipped), "reason": list(skipped.values())}),
                                 hide_index=True, width="stretch")

            c1, c2, c3 = st.columns([1, 2, 1])
            sym = c1.selectbox("Symbol", fs.symbols, key=FeaturesKeys.SYMBOL)
            table = fw.feature_table(root, fid)
            badge = {n: ("⚠ LEAKING " if lk else "✓ ") for n, lk in zip(table["feature"], table["leaking"])}
            feat = c2.selectbox("Feature", fs.feature_names, key=FeaturesKeys.FEATURE,
                                format_func=lambda n: f"{badge.get(n, '')}{n} ({fs.feature_families.get(n, '')})")
            days = c3.slider("Days shown", 1, 90, 10, key=FeaturesKeys.DAYS)
            row = table[table["feature"] == feat].iloc[0]
            title = (f"{sym} {fs.timeframe}: {feat} with ZigZag pivots "
                     f"({fs.manifest.extra.get('zigzag', {}).get('deviation_pct')} %)")
            fig = fw.feature_chart(root, fid, sym, feat, days, bool(row["leaking"]), title, kinds_stamp(ws, "ohlcv"))
            if fig is None:
                st.info("No rows for this symbol.")
            else:
                st.plotly_chart(fig, width="stretch")
                meta = fig.layout.meta or {}
                labels = (f" · pivot labels on the {meta['labelled']} largest swings of {meta['pivots']} in view "
                          "(every pivot has its marker; a shorter window labels more)"
                          if meta.get("labelled", 0) < meta.get("pivots", 0) else "")
                st.caption(f"**{feat}** — {row['description']} · family {row['family']} · lookback {row['lookback']} bars · "
                           f"inputs {row['inputs']} · audit max |diff| {row['audit_max_abs_diff']}{labels}")
            # read only when opened: the preview reads every column of the symbol (seconds on a year of 15m bars)
            pv = st.expander("Preview (last rows: features and targets)", key=FeaturesKeys.PREVIEW, on_change="rerun")
            if pv.open:
                with pv:
                    show_table(fw.preview(root, fid, sym, 200), hide_index=True, width="stretch", height=320)
            with st.expander("Leakage badges: every feature of the set"):
                show = table.assign(status=table["leaking"].map({True: "⚠ leaking", False: "✓ clean"}))
                show_table(show[["status", "feature", "family", "lookback", "inputs", "audit_max_abs_diff", "description"]],
                             hide_index=True, width="stretch", height=360)
            with st.expander("Targets"):
                tm = pd.DataFrame([{"target": k, **{kk: (", ".join(vv) if isinstance(vv, list) else vv) for kk, vv in v.items()}}
                                   for k, v in fs.target_meta.items()])
                # a field only some targets have (classes, threshold, cost ...): "-" where a target has none
                show_table(tm, hide_index=True, width="stretch")
            st.caption(f"Files: `{fs.path}` · lineage: {', '.join(fs.manifest.parents)}")

with tab_reg:
    reg_df = fw.registry_table()
    fams = st.multiselect("Families", sorted(reg_df["family"].unique()), key=FeaturesKeys.FAMILY_FILTER)
    shown = reg_df[reg_df["family"].isin(fams)] if fams else reg_df
    st.caption(f"{len(shown)} of {len(reg_df)} feature definitions (each declared once, with the bars of history it needs).")
    show_table(shown, hide_index=True, width="stretch", height=480)

with tab_fund:
    perps = fw.funding_symbols(root, kinds_stamp(ws, "ohlcv"))
    if not perps:
        st.info("No funding series in the workspace: import a perpetual's funding rates on the Data page "
                "(the bundled sample holds BTCUSDT-PERP's).")
    else:
        fsym = st.selectbox("Perpetual", perps, key=FeaturesKeys.FUNDING_SYMBOL)
        got = fw.funding_chart(root, fsym, kinds_stamp(ws, "ohlcv"))
        if got is None:
            st.info(f"No funding rates stored for {fsym}.")
        else:
            ffig, fund = got
            st.plotly_chart(ffig, width="stretch")
            s_ = ffig.layout.meta
            if s_["interval_h"] and s_["annualised_pct"] is not None:  # two events or more
                st.caption(f"{s_['events']:,} funding events every {s_['interval_h']:g} h from "
                           f"{fund['timestamp'].iloc[0]:%Y-%m-%d} to {fund['timestamp'].iloc[-1]:%Y-%m-%d}; mean "
                           f"{s_['mean_pct']:.4f} % per event ({s_['annualised_pct']:.1f} % a year); longs paid in "
                           f"{100 * s_['positive_share']:.0f} % of events.")
