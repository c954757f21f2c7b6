"""Backtest: run vectorbt backtests of models (out-of-sample only) and of the plain rule as
background jobs; results (metrics, equity and drawdown, trades on the candles), side-by-side
comparison, and parameter sweeps with a heatmap.  The page never imports vectorbt: jobs run
`python -m engine backtest ...` and the page reads the stored artifacts."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from config.settings import HORIZONS
from engine import model_kinds
from engine.backtest.metrics import LABELS, METRICS
from engine.backtest.requests import RuleRequest, RunRequest, SweepRequest
from engine.backtest.sources import model_period
from engine.backtest.store import ci_text, compare, costs_text, format_metric, list_backtests, load_backtest, metrics_table
from engine.plots.backtest import compare_figure, equity_figure, heatmap_figure, trades_figure
from engine.stats.selection import METRIC_DIRECTION
from pages.artifact_widgets import artifact_names, by_name, manage_artifact
from pages.backtest_trades import trade_analytics
from pages.backtest_widgets import (
    RESULT,
    SWEEP_JOB,
    SWEEP_RESULT,
    period_inputs,
    portfolio_inputs,
    sweep_table,
)
from pages.charts import figure
from pages.executor_widgets import executor_inputs
from pages.runs_widgets import runs_explorer
from pages.ui import Keys, catalog, ensure_sample, follow_job, show_table, start_job, user_errors, workspace
from storage.artifacts import kinds_stamp, read_manifest

ensure_sample()
ws = workspace()
st.title("Backtest")
st.caption("vectorbt portfolios from a model's out-of-sample predictions (in-sample periods are refused) or from a "
           "plain SMA-crossover rule; fees, slippage, funding; metrics annualised per timeframe (35,040 bars a year "
           "for 15m, 8,760 for 1h).")



@st.cache_data(show_spinner=False)
def _models(root: str, stamp: tuple) -> pd.DataFrame:
    cat = catalog()
    frames = [cat.query(kind=k) for k in model_kinds.backtest_artifact_kinds()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@st.cache_data(show_spinner=False)
def _runs(root: str, stamp: tuple) -> pd.DataFrame:
    rows = [{"id": b.id, "label": b.label(), "mode": b.mode, "created_at": b.manifest.created_at}
            for b in list_backtests(ws)]
    return pd.DataFrame(rows, columns=["id", "label", "mode", "created_at"])


@st.cache_data(show_spinner=False, max_entries=16)
def _read(root: str, bid: str, what: str) -> pd.DataFrame:
    return getattr(load_backtest(ws, bid), what)()


@st.cache_data(show_spinner=False, max_entries=8)
def _candles(root: str, symbol: str, tf: str, start: str, end: str) -> pd.DataFrame:
    from engine.data.store import load_candles

    return load_candles(ws, symbol, tf, start=start, end=end)


def _series() -> list[tuple[str, str]]:
    from engine.data.store import available

    return available(ws)


def _job_done(stt) -> None:
    res = stt.result or {}
    runs = res.get("backtests") or ([res] if res.get("backtest_id") else [])
    for r in runs:
        m = r.get("metrics", {})
        st.success(f"{r['backtest_id']}: total return {format_metric('total_return', m.get('total_return'))}, "
                   f"Sharpe {format_metric('sharpe', m.get('sharpe'))}, {m.get('trades', 0)} trades "
                   f"(annualised with {r.get('bars_per_year', 0):,} bars/year), {len(r.get('warnings') or [])} "
                   "warning(s). Open it under Results.")
    if runs and st.session_state.get(f"{RESULT}.job") != stt.id:  # once per job: open its result
        st.session_state[f"{RESULT}.job"] = stt.id
        st.session_state[RESULT] = st.session_state["res-pick"] = runs[-1]["backtest_id"]


def _sweep_done(stt) -> None:
    res = stt.result or {}
    if res.get("backtest_id"):
        sel = res.get("selection") or {}
        dsr, pbo = sel.get("deflated_sharpe"), sel.get("pbo")
        st.success(f"{res['backtest_id']}: {res['points']} grid points (grid kernel = vectorbt's from_signals cell for cell); "
                   f"{sel.get('n_cells_traded', '?')} traded; deflated Sharpe {'-' if dsr is None else f'{dsr:.2f}'}, "
                   f"PBO {'-' if pbo is None else f'{pbo:.2f}'}. See the heatmap and the held-out check below.")
        if st.session_state.get(f"{SWEEP_RESULT}.job") != stt.id:
            st.session_state[f"{SWEEP_RESULT}.job"] = stt.id
            st.session_state[SWEEP_RESULT] = st.session_state["sweep-pick"] = res["backtest_id"]


SWEEP_RANK_METRICS = [m for m in ("sharpe", "total_return", "sortino", "calmar", "max_drawdown", "win_rate", "profit_factor",
                                  "expectancy", "excess_return", "fees_paid", "max_drawdown_duration_days") if m in METRICS]
models = _models(str(ws.root), kinds_stamp(ws, *model_kinds.backtest_artifact_kinds()))
runs = _runs(str(ws.root), kinds_stamp(ws, "backtest"))
tab_run, tab_res, tab_cmp, tab_sweep = st.tabs(["Run", "Results", "Compare", "Sweep"])


def _source_inputs(key: str, *, many: bool, threshold: bool = True) -> tuple[dict, tuple | None, str]:
    """Source widgets -> (the source's request fields, default period, timeframe); no source: {}."""
    kinds = ["Model", "Plain rule (SMA crossover)"]
    choice = st.radio("Signals from", kinds, horizontal=True, key=f"{key}-src",
                      index=0 if len(models) else 1)
    if choice == "Model":
        if models.empty:
            st.info("No trained models yet: train one on the Training or Stage 2 page (or `python -m engine train ...`), "
                    "or backtest the plain rule.")
            return {}, None, ""
        every = models["id"].tolist()
        if many:
            picked = st.multiselect("Model(s)", every, default=every[:1], key=f"{key}-models", format_func=by_name(every))
        else:
            one = st.selectbox("Model", every, key=f"{key}-model", format_func=by_name(every))
            picked = [one] if one else []
        ids = list(picked)
        if not ids:
            return {}, None, ""
        m = read_manifest(ws, ids[0])
        period = model_period(m)
        syms = list(m.symbols)
        c1, c2, c3 = st.columns([2, 1, 1])
        chosen = c1.multiselect("Symbols", syms, default=syms, key=f"{key}-syms-{ids[0]}")
        src = {"model_ids": ids, "symbols": chosen if chosen and len(chosen) < len(syms) else []}
        kind = model_kinds.kind_of(m.kind, m.params)  # the registry's spec says how its signals are read
        sig = kind.signal_spec() if kind else None
        if threshold and sig:  # a sweep takes its thresholds from the grid
            t = sig.threshold
            if t.widget == "number":
                thr = c2.number_input(t.label, min_value=t.lo, max_value=t.hi, value=t.default, step=t.step,
                                      format=t.fmt, key=f"{key}-thr-p", help=t.help)
            else:
                thr = c2.slider(t.label, t.lo, t.hi, t.default, t.step, key=f"{key}-thr", help=t.help)
            src["threshold"] = float(thr)
        if sig and sig.horizons:
            h = c3.selectbox("Horizon", ["(model default)", *HORIZONS], key=f"{key}-h")
            if h != "(model default)":
                src["horizon"] = h
        if period[0] is None:
            st.warning(f"{ids[0]} records no split: its backtest will be refused (out-of-sample cannot be proven).")
        return src, period, m.timeframe or ""
    series = _series()
    tfs = sorted({tf for _, tf in series})
    if not tfs:
        st.info("Import candles on the Data page first.")
        return {}, None, ""
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    tf = c2.selectbox("Timeframe", tfs, key=f"{key}-tf")
    syms = sorted(s for s, t in series if t == tf)
    chosen = c1.multiselect("Symbols", syms, default=syms[:1], key=f"{key}-rsyms-{tf}")
    fast = c3.number_input("Fast SMA (bars)", min_value=2, value=20, key=f"{key}-fast")
    slow = c4.number_input("Slow SMA (bars)", min_value=3, value=50, key=f"{key}-slow")
    if not chosen:
        return {}, None, tf
    return {"rule": "sma_cross", "symbols": chosen, "timeframe": tf, "fast": int(fast), "slow": int(slow)}, (None, None), tf


with tab_run:
    src, period, tf = _source_inputs("run", many=True)
    # no form: the custom-period pickers, the size field and the fee default follow their
    # controls at once (inside a form they stayed hidden / stale until Run was pressed)
    symbols = src.get("symbols") or (list(read_manifest(ws, src["model_ids"][0]).symbols) if src.get("model_ids") else [])
    per = period_inputs("run", period, None)
    port = portfolio_inputs("run", symbols)
    go = st.button("Run backtest", type="primary", disabled=not src, key="run-go")
    if go and src:
        with user_errors():  # the typed request the CLI parses (engine.backtest.requests); the job runs its argv
            req = (RuleRequest if src.get("rule") else RunRequest).build(**src, **per, **port)
            start_job(req.argv(), Keys.BACKTEST_JOB, name=f"backtest {' '.join(src.get('model_ids') or ['rule'])}")
    follow_job(Keys.BACKTEST_JOB, on_done=_job_done)


# figure -> (sample key, its unit) shown beside it
_SAMPLE_OF = {"total_return": ("bars", "bars"), "sharpe": ("bars", "bars"), "max_drawdown": ("bars", "bars"),
              "win_rate": ("closed_trades", "closed trades"), "profit_factor": ("closed_trades", "closed trades")}


def _badges(k: str, m: dict, extra: dict) -> list[str]:
    """Short warning badges for one figure (the full sentences are listed under the figures)."""
    s, unc = extra.get("sample") or {}, extra.get("uncertainty") or {}
    out = []
    ci = unc.get(k)
    zero = 1.0 if k == "profit_factor" else 0.0
    if ci and k in ("sharpe", "total_return", "profit_factor") and ci[0] <= zero <= ci[1]:
        out.append(f"CI includes {zero:g}")
    if k in ("win_rate", "profit_factor") and s and s.get("closed_trades", 0) < 30:
        out.append("< 30 closed trades")
    if k in ("total_return", "sharpe") and s and s.get("days", 1e9) < 30:
        out.append("< 30 days")
    if k == "sharpe" and m.get("sharpe") is None and extra.get("annualised_not_headlined"):
        out.append("< 90 days: not annualised")
    if k == "win_rate" and any("open position" in w for w in extra.get("warnings") or []):
        out.append("open positions not counted")
    return out


def _evidence(m: dict, extra: dict) -> None:
    """The headline figures with their 95% CIs, sample sizes and warning badges; the warnings,
    why no trade, and the costs used."""
    s, unc = extra.get("sample") or {}, extra.get("uncertainty") or {}
    if extra.get("trades_explanation"):
        st.info(extra["trades_explanation"])
    keys = [["total_return", "sharpe", "max_drawdown", "buy_and_hold_return"],
            ["win_rate", "profit_factor", "trades", "exposure"]]
    for row in keys:
        for c, k in zip(st.columns(len(row)), row):
            value = format_metric(k, m.get(k))
            if k == "sharpe" and m.get(k) is None and extra.get("annualised_not_headlined"):
                value = "-"
            c.metric(LABELS[k][0], value)
            bits = [ci_text(k, unc.get(k))] if unc.get(k) else []
            if k in _SAMPLE_OF and s:
                key, unit = _SAMPLE_OF[k]
                bits.append(f"n = {s.get(key, 0):,} {unit}")
            if k == "sharpe" and m.get(k) is None and extra.get("annualised_not_headlined"):
                bits.append(f"period return {format_metric('total_return', m.get('total_return'))} instead")
            if k == "trades" and s:
                bits.append(f"{s.get('closed_trades', 0)} closed ({s.get('independent_trades', 0)} independent), "
                            f"{s.get('open_trades', 0)} open")
            if bits:
                c.caption(" · ".join(bits))
            for b in _badges(k, m, extra):
                c.markdown(f":orange-badge[⚠ {b}]")
    if s:
        st.caption(f"Sample: {s.get('bars', 0):,} bars over {s.get('days', 0):g} days; CIs: stationary block bootstrap "
                   f"(Politis-White block length, {((unc.get('method') or {}).get('returns') or {}).get('resamples', 1000):,} "
                   "resamples, seed 0)")
    for w in extra.get("warnings") or []:
        st.warning(w)
    st.caption(f"Costs used: {costs_text(extra.get('costs'))}")


def _show(bid: str) -> None:
    b = load_backtest(ws, bid)
    m, extra = b.manifest.metrics, b.manifest.extra or {}
    ann = extra.get("annualisation") or {}
    oos = extra.get("oos") or {}
    badge = ("out-of-sample verified" if oos.get("verified") else
             "plain rule (no training period)" if oos.get("verified") is None else "out-of-sample NOT fully verifiable")
    span = f"{pd.Timestamp(b.manifest.start):%Y-%m-%d %H:%M} → {pd.Timestamp(b.manifest.end):%Y-%m-%d %H:%M} UTC"
    st.markdown(f"**{b.manifest.name}** · {span} · annualised with "
                f"**{ann.get('bars_per_year', m.get('bars_per_year')):,} bars/year** ({ann.get('timeframe')}) · {badge}")
    for n in extra.get("notes") or []:
        st.caption(f"note: {n}")
    _evidence(m, extra)
    eq = _read(str(ws.root), bid, "equity")
    st.plotly_chart(figure(equity_figure, eq, "Equity and drawdown (incl. fees, slippage, funding)", key=bid),
                    width="stretch")
    left, right = st.columns([1, 2])
    with left:
        table = metrics_table([b]).rename(columns={b.label(): "value"})
        show_table(table, width="stretch", height=35 * (len(table) + 1) + 3)
    with right:
        trades = _read(str(ws.root), bid, "trades")
        sym = st.selectbox("Trades of", b.manifest.symbols, key=f"res-sym-{bid}")
        t0, t1 = pd.Timestamp(b.manifest.start), pd.Timestamp(b.manifest.end)
        # default: the whole backtest period (long periods are OHLC-aggregated for display, with a note)
        rng = st.date_input("Chart window (UTC)", value=(t0.date(), t1.date()),
                            min_value=t0.date(), max_value=t1.date(), key=f"res-win-{bid}")
        a, z = rng if isinstance(rng, tuple) and len(rng) == 2 else (t0.date(), t1.date())
        whole = (a, z) == (t0.date(), t1.date())
        lo = t0 if a == t0.date() else pd.Timestamp(a, tz="UTC")
        hi = t1 if z == t1.date() else pd.Timestamp(z, tz="UTC") + pd.Timedelta(hours=23, minutes=59, seconds=59)
        c = _candles(str(ws.root), sym, b.manifest.timeframe, f"{lo}", f"{hi}")
        if len(c):
            fig = figure(trades_figure, c, trades[trades["symbol"] == sym], f"{sym} trades", key=(bid, sym, lo, hi))
            st.plotly_chart(fig, width="stretch")
            note = (fig.layout.meta or {}).get("note")
            st.caption(("Chart window: the whole backtest period" if whole else
                        f"Chart window: {a} → {z} of the backtest's {t0:%Y-%m-%d %H:%M} → {t1:%Y-%m-%d %H:%M} UTC")
                       + (f"; {note}" if note else f" ({len(c):,} bars)"))
        show_table(trades[trades["symbol"] == sym], hide_index=True, width="stretch", height=240)
    trade_analytics(b)  # pages/backtest_trades.py: exit reasons, per-symbol summary, monthly returns, P&L
    if extra.get("per_symbol"):
        st.markdown("**Per symbol**")
        ps = pd.DataFrame(extra["per_symbol"]).set_index("symbol")
        cols = [k for k in METRICS if k in LABELS and k in ps.columns]
        show_table(pd.DataFrame({LABELS[k][0]: ps[k].map(lambda v, k=k: format_metric(k, v)) for k in cols}),
                     width="stretch")
    if extra.get("folds"):
        st.markdown("**Walk-forward folds** (each fold's out-of-sample block, stitched; return, Sharpe and max "
                    "drawdown per fold with its bars, days and closed trades)")
        folds = pd.DataFrame(extra["folds"])
        shown = folds.assign(**{k: folds[k].map(lambda v, key=key: format_metric(key, v))
                                for k, key in (("return", "total_return"), ("sharpe", "sharpe"),
                                               ("max_drawdown", "max_drawdown")) if k in folds})
        if "warnings" in shown:
            shown["warnings"] = shown["warnings"].map(lambda w: "; ".join(w or []) or "-")
        show_table(shown, hide_index=True, width="stretch")
        sp = extra.get("folds_spread") or {}
        rows = {k: {"min": format_metric(key, v["min"]), "median": format_metric(key, v["median"]),
                    "max": format_metric(key, v["max"]), "folds": v["n"]}
                for k, key in (("sharpe", "sharpe"), ("return", "total_return"), ("max_drawdown", "max_drawdown"))
                if (v := sp.get(k))}
        if rows:
            st.markdown("**Spread over the folds**")
            show_table(pd.DataFrame(rows).T, width="stretch")
    with st.expander("Parameters and lineage"):
        st.json({"params": b.manifest.params, "parents": b.manifest.parents, "equity file": str(b.path / "equity.parquet")},
                expanded=False)


with tab_res:
    singles = runs[runs["mode"] == "single"]
    if singles.empty:
        st.info("No backtests yet: run one in the Run tab (or `python -m engine backtest rule --symbol BTCUSDT "
                "--timeframe 15m`).")
    else:
        ids = list(singles["id"])
        want = st.session_state.get(RESULT)
        pick = st.selectbox("Backtest", ids, index=ids.index(want) if want in ids else 0,
                            format_func=by_name(ids), key="res-pick")
        manage_artifact(pick, key="backtest.result")
        with user_errors():
            _show(pick)

with tab_cmp:
    singles = runs[runs["mode"] == "single"]
    if len(singles) < 2:
        st.info("Run at least two backtests to compare them.")
    else:
        labels = artifact_names(singles["id"])
        chosen = st.multiselect("Backtests", list(labels), default=list(labels)[:2], format_func=labels.get,
                                key="cmp-pick")
        if chosen:
            with user_errors():
                c = compare(ws, chosen)
                for n in c["notes"]:
                    st.warning(n)
                show_table(metrics_table(c["runs"]).rename(columns={b.label(): labels[b.id] for b in c["runs"]}),
                             width="stretch")
                st.plotly_chart(compare_figure({labels[b.id]: c["curves"][b.id] for b in c["runs"]}), width="stretch")
    runs_explorer("backtest")  # pages/runs_widgets.py: runs table, parameter diff, parallel coordinates

def _fmt_ci(ci, key: str) -> str:
    return "" if not ci else f" [{format_metric(key, ci[0])}, {format_metric(key, ci[1])}]"


def _selection_panel(sel: dict) -> None:
    """DSR, PBO and the held-out confirmation of a sweep, in plain words, beside its heatmap."""
    if not sel:
        st.info("This sweep predates the selection-bias corrections: rerun it to get the deflated Sharpe ratio, "
                "the PBO and a held-out confirmation.")
        return
    n = sel.get("n_cells_traded", 0)
    st.markdown(f"**Selection** by **{sel['metric']}** ({'lowest' if sel['direction'] == 'min' else 'highest'} wins): "
                f"{n} of {sel['n_cells']} cells traded (cells without trades cannot be chosen)")
    best = sel.get("best")
    if best is None:
        st.warning("No cell traded in the selection part: nothing was chosen.")
    else:
        st.caption("chosen cell: " + ", ".join(f"{k} {'off' if v is None else f'{v:g}'}" for k, v in best.items()))
    dsr, d = sel.get("deflated_sharpe"), sel.get("dsr") or {}
    c1, c2 = st.columns(2)
    c1.metric("Deflated Sharpe ratio", "-" if dsr is None else f"{dsr:.2f}", help="Bailey & López de Prado (2014)")
    pbo, p = sel.get("pbo"), sel.get("pbo_detail") or {}
    c2.metric("PBO", "-" if pbo is None else f"{pbo:.2f}", help="Bailey, Borwein, López de Prado & Zhu (2017), CSCV")
    if dsr is not None:
        st.caption(f"DSR {dsr:.2f}: the probability that the chosen cell's true Sharpe ratio beats the best Sharpe that "
                   f"{n} cells without any skill would show by luck (per-bar Sharpe {d['sharpe']:.4f} vs expected maximum "
                   f"{d['sr0']:.4f}, {d['bars']:,} bars, skew {d['skewness']:.2f}, kurtosis {d['kurtosis']:.1f}). "
                   f"Above 0.95 is convincing; a DSR of 0.3 would mean a 70 % chance the figure is only the luck of "
                   f"picking the best of {n}.")
    if pbo is not None:
        st.caption(f"PBO {pbo:.2f}: in {pbo * 100:.0f} % of {p['combinations']:,} ways to cut the selection part into two "
                   f"halves ({p['blocks']} blocks), the cell that was best in one half ranked at or below the median in "
                   "the other. Near 0.5 or above: the ranking is noise (overfit); near 0: the best cell stays good.")
    elif p.get("reason"):
        st.caption(f"PBO: - ({p['reason']})")
    conf, ins = sel.get("confirmation"), sel.get("in_selection") or {}
    if conf:
        rows = {}
        for label, key in (("Total return", "total_return"), ("Sharpe", "sharpe"), ("Max drawdown", "max_drawdown"),
                           ("Win rate", "win_rate"), ("Profit factor", "profit_factor")):
            rows[label] = {"selection part (chosen)": format_metric(key, (ins.get("metrics") or {}).get(key)),
                           "held-out part": format_metric(key, conf["metrics"].get(key))
                           + _fmt_ci((conf.get("uncertainty") or {}).get(key), key)}
        for label, key in (("Closed trades", "closed_trades"), ("Independent trades", "independent_trades"),
                           ("Bars", "bars"), ("Days", "days")):
            rows[label] = {"selection part (chosen)": f"{(ins.get('sample') or {}).get(key, '-')}",
                           "held-out part": f"{conf['sample'].get(key, '-')}"}
        st.markdown(f"**Held-out confirmation** {pd.Timestamp(conf['start']):%Y-%m-%d} → {pd.Timestamp(conf['end']):%Y-%m-%d}"
                    f" (purge gap {conf.get('purge_bars', 0)} bars; 95 % block-bootstrap CI in brackets)")
        show_table(pd.DataFrame(rows).T, width="stretch")
    for w in sel.get("warnings") or []:
        st.warning(w, icon="⚠️")


with tab_sweep:
    st.caption("A grid over thresholds x stop-loss x take-profit simulated by a numba kernel that reproduces vectorbt's from_signals cell for cell, on the first "
               "part of the period; the best cell is then re-run on the held-out end of the period, which the selection "
               "never saw. The deflated Sharpe ratio and the PBO say how much of the best cell's figure is the luck of "
               "picking the best of many.")
    src, period, tf = _source_inputs("sweep", many=False, threshold=False)
    # no form (see the Run tab): every control shows its effect at once
    is_rule = bool(src.get("rule"))
    c1, c2, c3, c4 = st.columns(4)
    thr = c1.text_input("Thresholds", value="" if is_rule else "0.4:0.8:0.05", disabled=is_rule,
                        help="start:stop:step or a list, e.g. 0.5,0.6,0.7 (models only)")
    sls = c2.text_input("Stop-losses", value="none,0.01,0.02,0.04", help="'none' = no stop")
    tps = c3.text_input("Take-profits", value="none", help="e.g. none,0.02,0.04")
    metric = c4.selectbox("Metric", SWEEP_RANK_METRICS, key="sweep-metric",
                          format_func=lambda k: f"{k} ({'lowest' if METRIC_DIRECTION[k] == 'min' else 'highest'} wins)",
                          help="each metric is ranked in its own direction: fees and drawdown durations pick the "
                               "lowest, max_drawdown the one closest to 0")
    holdout = st.slider("Held out for confirmation (the end of the period)", 0.0, 0.8, 0.3, 0.05, key="sweep-holdout",
                        help="never seen by the selection; the chosen cell is re-run there. 0 = no confirmation")
    per = period_inputs("sweep", period, None)
    port = portfolio_inputs("sweep", [], stops=False)
    run_on = executor_inputs("sweep", title="Run the grid in parallel (local processes or a Ray cluster)",
                             what="the grid's cells in chunks as tasks (the same result as in one process)")
    go = st.button("Run sweep", type="primary", disabled=not src, key="sweep-go")
    if go and src:
        with user_errors():
            fields = {k: v for k, v in src.items() if k != "model_ids"}
            req = SweepRequest.build(model_id=None if is_rule else src["model_ids"][0], **fields, **per, **port,
                                     thresholds=thr.strip() if thr.strip() and not is_rule else None,
                                     sl_stops=sls.strip() or "none", tp_stops=tps.strip() or "none", metric=metric,
                                     holdout=float(holdout), **run_on)
            start_job(req.argv(), SWEEP_JOB, name="backtest sweep")
    follow_job(SWEEP_JOB, on_done=_sweep_done)
    sweeps = runs[runs["mode"] == "sweep"]
    if len(sweeps):
        ids = list(sweeps["id"])
        want = st.session_state.get(SWEEP_RESULT)
        pick = st.selectbox("Sweep", ids, index=ids.index(want) if want in ids else 0,
                            format_func=by_name(ids), key="sweep-pick")
        manage_artifact(pick, key="backtest.sweep")
        with user_errors():
            b = load_backtest(ws, pick)
            table = _read(str(ws.root), pick, "sweep")
            swept = [c for c in ("threshold", "sl_stop", "tp_stop") if table[c].nunique(dropna=False) > 1] or ["threshold"]
            c1, c2, c3 = st.columns(3)
            show = c1.selectbox("Metric shown", [m for m in METRICS if m in table.columns],
                                index=METRICS.index(b.manifest.params.get("metric", "sharpe")), key=f"sw-m-{pick}")
            x = c2.selectbox("x axis", swept, key=f"sw-x-{pick}")
            rest = [c for c in swept if c != x]
            y = c3.selectbox("y axis", rest or ["sl_stop"], key=f"sw-y-{pick}")
            fixed = {}
            for other in [c for c in rest if c != y]:
                vals = list(table[other].drop_duplicates())
                fixed[other] = st.select_slider(f"{other} fixed at", vals, key=f"sw-f-{pick}-{other}",
                                                format_func=lambda v: "off" if pd.isna(v) else f"{v:g}")
            sel = (b.manifest.extra or {}).get("selection") or {}
            left, right = st.columns([3, 2])
            with left:
                st.plotly_chart(heatmap_figure(table, show, x=x, y=y, fixed=fixed, best=sel.get("best")), width="stretch")
            with right:
                _selection_panel(sel)
            sp = sel.get("selection_period") or {"start": b.manifest.start, "end": b.manifest.end}
            direction = METRIC_DIRECTION.get(show, "max")
            st.markdown(f"**Top grid points by {show}** ({'lowest' if direction == 'min' else 'highest'} first; selection "
                        f"part {pd.Timestamp(sp['start']):%Y-%m-%d %H:%M} → {pd.Timestamp(sp['end']):%Y-%m-%d %H:%M} UTC, "
                        f"{b.manifest.metrics.get('bars_per_year', 0):,} bars/year; '-' = no value, e.g. a cell without "
                        "trades has no Sharpe)")
            top = table.sort_values(show, ascending=direction == "min", na_position="last").head(10)
            show_table(sweep_table(top), hide_index=True, width="stretch")
            for n in (b.manifest.extra or {}).get("notes") or []:
                st.caption(f"note: {n}")
