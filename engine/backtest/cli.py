"""`backtest` commands.

    python -m engine backtest MODEL_ID [MODEL_ID ...] [options]      backtest model(s) on their out-of-sample bars
    python -m engine backtest rule --symbol S --timeframe TF [...]   the plain SMA-crossover baseline
    python -m engine backtest sweep MODEL_ID | --rule ... --thresholds 0.4:0.8:0.05 [--sl-stops ...] [--tp-stops ...]
        [--executor local|ray] [--workers K] [--ray-address A]   (the grid's cells in chunks as executor tasks)
    python -m engine backtest compare ID ID ...                      metrics side by side
    python -m engine backtest list | show ID

``--json`` prints the backtest id, its metrics, the annualisation used (bars_per_year) and the
path of its equity-curve file.
"""
from __future__ import annotations

import argparse
from collections.abc import Mapping

from config.errors import BadInput
from engine.argtypes import float_in, int_in, lazy_choices
from engine.cli_base import add_symbols, add_timeframe
from engine.executor.choose import add_cli_options

COMMANDS = ("rule", "sweep", "compare", "list", "show")


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("portfolio and costs")
    add_symbols(g, upper=True, help="comma-separated symbols (default: all the model's)")
    g.add_argument("--direction", choices=["long", "short", "both"],
                   help="default: the cost model's (config/costs.yaml): long-only on spot symbols, both on perpetuals; "
                        "shorting spot pays --borrow-rate")
    g.add_argument("--sizing", default="all", choices=["all", "percent", "value", "amount"],
                   help="all equity / fraction of cash / fixed cash per trade / fixed coins per trade")
    g.add_argument("--size", type=float_in(None, None), help="the size for percent (0..1], value (cash) or amount (coins)")
    g.add_argument("--sl-stop", type=float_in(None, None), help="stop-loss as a fraction of the entry price (0.02 = 2%%)")
    g.add_argument("--tp-stop", type=float_in(None, None), help="take-profit as a fraction of the entry price")
    g.add_argument("--sl-trail", action="store_true", help="trailing stop-loss")
    g.add_argument("--fee-type", default="taker", choices=["taker", "maker"],
                   help="which cost-model fee when --fees is not given (config/costs.yaml)")
    g.add_argument("--fees", type=float_in(None, None), help="fee per fill as a fraction (0.0005 = 0.05%%); default: config/costs.yaml")
    g.add_argument("--slippage", type=float_in(None, None), help="slippage per fill as a fraction; default: config/costs.yaml")
    g.add_argument("--borrow-rate", type=float_in(None, None),
                   help="annual borrow rate of spot shorts (0.10 = 10%% a year); default: config/costs.yaml")
    g.add_argument("--no-funding", action="store_true", help="do not charge perpetual funding")
    g.add_argument("--init-cash", type=float_in(None, 1e15), default=10_000.0)
    g.add_argument("--execution", default="next_open", choices=["next_open", "close"],
                   help="fill at the next bar's open (default) or at the signal bar's close")
    g.add_argument("--start", help="period start (default: the model's test split)")
    g.add_argument("--end", help="period end")
    g.add_argument("--hold-bars", type=int_in(None, 1_000_000), help="hold event signals (Stage 2) at most this many bars")


def _ci_text(key: str, ci) -> str:
    from engine.backtest.store import ci_text

    return f"  [{ci_text(key, ci)}]" if ci else ""


def evidence_lines(r: dict) -> list[str]:
    """Sample, costs, the trades explanation, folds and warnings of a single backtest as text lines
    (``r``: the run's JSON document or a manifest's extra)."""
    from engine.backtest.store import costs_text, format_metric

    lines = []
    s = r.get("sample")
    if s:
        lines.append(f"  sample: {s['bars']:,} bars, {s['days']:g} days, {s['closed_trades']} closed trades "
                     f"({s['independent_trades']} independent), {s.get('open_trades', 0)} open")
    if r.get("costs") is not None:
        lines.append(f"  costs: {costs_text(r['costs'])}")
    sp = r.get("folds_spread")
    for f in r.get("folds") or []:
        lines.append(f"  fold {f['fold']}: return {format_metric('total_return', f.get('return'))}, Sharpe "
                     f"{format_metric('sharpe', f.get('sharpe'))}, max DD {format_metric('max_drawdown', f.get('max_drawdown'))} "
                     f"({f.get('bars', 0):,} bars, {f.get('days', 0):g} days, {f.get('closed_trades', 0)} closed trades)")
    if sp:
        for k, key in (("sharpe", "sharpe"), ("return", "total_return"), ("max_drawdown", "max_drawdown")):
            v = sp.get(k)
            if v:
                lines.append(f"  folds {k}: min {format_metric(key, v['min'])}, median {format_metric(key, v['median'])}, "
                             f"max {format_metric(key, v['max'])} (n={v['n']})")
    lines += [f"  warning: {w}" for w in r.get("warnings") or []]
    return lines


def _result_text(r: dict) -> str:
    from engine.backtest.metrics import LABELS
    from engine.backtest.store import format_metric

    m = r["metrics"]
    unc = r.get("uncertainty") or {}
    head = (f"{r['backtest_id']}: {r['source'].get('kind')} {r.get('model_id') or ''} {','.join(r['symbols'])} "
            f"{r['timeframe']} {r['period']['start']} -> {r['period']['end']}  "
            f"(annualised with {r['bars_per_year']:,} bars/year)")
    lines = [head] + [f"  {label:<26} {format_metric(k, m.get(k))}{_ci_text(k, unc.get(k))}"
                      for k, (label, _, _) in LABELS.items()]
    lines += evidence_lines(r)
    lines += [f"  equity curve: {r['equity_path']}"] + [f"  note: {n}" for n in r.get("notes", [])]
    return "\n".join(lines)


# -- commands ------------------------------------------------------------------------------


def _build_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_ids", nargs="+", metavar="MODEL_ID")
    p.add_argument("--threshold", type=float_in(None, None), help="signal threshold (direction / Stage 2: probability; "
                                                                  "PatchTST: expected return over the round-trip cost)")
    p.add_argument("--horizon", help="prediction horizon of direction / PatchTST models (15m, 1h, 4h, 12h)")
    _add_common(p)


def _run_models(args, ws) -> dict:
    from engine.backtest.prepare import prepare
    from engine.backtest.requests import RunRequest
    from engine.backtest.run import run_prepared
    from engine.backtest.sources import load_model_source

    req = RunRequest.from_args(args)
    params = req.params(threshold=req.threshold)
    params.validated()  # bad values fail before anything is read
    sources = [load_model_source(ws, mid, horizon=req.horizon) for mid in dict.fromkeys(req.model_ids)]
    preps = [prepare(ws, src, params) for src in sources]  # every model checked before any run is written
    results = [run_prepared(ws, prep) for prep in preps]
    if len(results) == 1:
        r = results[0]
        r["_text"] = _result_text(r)
        return r
    return {"backtests": results, "_text": "\n\n".join(_result_text(r) for r in results)}


def _rule_args(p: argparse.ArgumentParser, required: bool) -> None:
    add_timeframe(p, required=required)
    p.add_argument("--fast", type=int_in(None, 100_000), default=20, help="fast SMA length (bars)")
    p.add_argument("--slow", type=int_in(None, 100_000), default=50, help="slow SMA length (bars)")
    p.add_argument("--period-of", metavar="MODEL_ID", help="use this model's out-of-sample period (for comparisons)")


def _build_rule(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rule", default="sma_cross", choices=["sma_cross"])
    _rule_args(p, True)
    _add_common(p)


def _run_rule(args, ws) -> dict:
    from engine.backtest.requests import RuleRequest
    from engine.backtest.run import rule_source, run_backtest

    req = RuleRequest.from_args(args)
    params = req.params()
    params.validated()
    if not params.symbols:
        raise BadInput("the rule needs --symbol", hint="e.g. --symbol BTCUSDT (comma-separated for several)")
    src = rule_source(ws, symbols=params.symbols, timeframe=req.timeframe, rule=req.rule, fast=req.fast,
                      slow=req.slow, period_of=req.period_of)
    r = run_backtest(ws, src, params)
    r["_text"] = _result_text(r)
    return r


def _build_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_id", nargs="?", metavar="MODEL_ID")
    p.add_argument("--rule", choices=["sma_cross"], help="sweep the plain rule instead of a model")
    _rule_args(p, False)
    p.add_argument("--horizon")
    p.add_argument("--thresholds", help="e.g. 0.4:0.8:0.05 or 0.5,0.6,0.7 (default: the model's default)")
    p.add_argument("--sl-stops", help="stop-losses, e.g. none,0.01,0.02")
    p.add_argument("--tp-stops", help="take-profits, e.g. none,0.02,0.04")
    p.add_argument("--metric", default="sharpe", choices=lazy_choices("engine.backtest.metrics", "METRICS"), metavar="METRIC",
                   help="metric to rank by, in its own direction (sharpe: highest; fees_paid, drawdown "
                        "durations: lowest; max_drawdown: closest to 0)")
    p.add_argument("--holdout", type=float_in(None, None), default=0.3,
                   help="fraction of the period held out (the end) to confirm the chosen cell; 0 = none")
    p.add_argument("--pbo-blocks", type=int_in(None, None), default=16, help="CSCV blocks of the PBO (even, <= 16)")
    add_cli_options(p)  # the grid's cells in chunks as executor tasks; none given: the whole grid in this process
    _add_common(p)


def _run_sweep(args, ws) -> dict:
    from engine.backtest.params import parse_grid
    from engine.backtest.requests import SweepRequest
    from engine.backtest.run import rule_source, run_sweep
    from engine.backtest.sources import load_model_source

    req = SweepRequest.from_args(args)
    if bool(req.model_id) == bool(req.rule):
        raise BadInput("give either a MODEL_ID or --rule sma_cross", hint="see `python -m engine backtest sweep --help`")
    params = req.params()
    params.validated()
    thresholds = parse_grid(req.thresholds, "threshold")
    sl, tp = parse_grid(req.sl_stops, "sl-stop"), parse_grid(req.tp_stops, "tp-stop")
    if req.rule:
        if not req.timeframe or not params.symbols:
            raise BadInput("a rule sweep needs --symbol and --timeframe")
        src = rule_source(ws, symbols=params.symbols, timeframe=req.timeframe, rule=req.rule, fast=req.fast,
                          slow=req.slow, period_of=req.period_of)
    else:
        src = load_model_source(ws, req.model_id, horizon=req.horizon)
    r = run_sweep(ws, src, params, thresholds=thresholds, sl_stops=sl, tp_stops=tp, metric=req.metric,
                  holdout=req.holdout, pbo_blocks=req.pbo_blocks, executor=req.executor_spec())
    r["_text"] = _sweep_text(r)
    return r


def _sweep_text(r: dict) -> str:
    from engine.backtest.store import format_metric

    sel, metric = r["selection"], r["metric"]
    b = r["best"] or {}
    sp = sel["selection_period"]
    lines = [(f"{r['backtest_id']}: {r['points']} grid points simulated by the grid kernel (vectorbt's from_signals "
              f"reproduced cell for cell) on the selection part {sp['start']} -> {sp['end']} ({sp['bars']:,} bars); "
              f"{sel['n_cells_traded']} of {sel['n_cells']} cells traded, {sel.get('n_cells_ruined', 0)} wiped out the account")]
    if sel["best"] is None:
        lines.append("  no cell traded without wiping out the account: nothing chosen")
    else:
        lines.append(f"  best {metric} ({sel['direction']}) {format_metric(metric, b.get(metric))} at "
                     f"threshold={b.get('threshold')}, sl={b.get('sl_stop')}, tp={b.get('tp_stop')} "
                     f"({b.get('closed_trades')} closed trades)")
        dsr, pbo = sel["deflated_sharpe"], sel["pbo"]
        lines.append(f"  deflated Sharpe ratio {'-' if dsr is None else f'{dsr:.3f}'} (N = {sel['n_cells_traded']} trials); "
                     f"PBO {'-' if pbo is None else f'{pbo:.3f}'} ({(sel['pbo_detail'] or {}).get('combinations', 0):,} "
                     "CSCV splits)")
    c = sel.get("confirmation")
    if c:
        m = c["metrics"]
        lines.append(f"  held out {c['start']} -> {c['end']} ({c['sample']['bars']:,} bars, {c['sample']['closed_trades']} "
                     f"closed trades): total return {format_metric('total_return', m.get('total_return'))}, Sharpe "
                     f"{format_metric('sharpe', m.get('sharpe'))}, max drawdown {format_metric('max_drawdown', m.get('max_drawdown'))}")
    lines.append(f"  table: {r['sweep_path']}")
    lines += [f"  warning: {w}" for w in sel["warnings"]] + [f"  note: {n}" for n in r["notes"]]
    return "\n".join(lines)


def _compare(args, ws) -> dict:
    from engine.backtest.metrics import LABELS
    from engine.backtest.store import compare, format_metric

    c = compare(ws, args.ids)
    rows = []
    for b in c["runs"]:
        rows.append({"backtest_id": b.id, "name": b.manifest.name, "source": (b.manifest.extra or {}).get("source"),
                     "symbols": b.manifest.symbols, "timeframe": b.manifest.timeframe,
                     "period": {"start": b.manifest.start, "end": b.manifest.end}, "metrics": b.manifest.metrics,
                     "bars_per_year": b.manifest.metrics.get("bars_per_year"),
                     "equity_path": str(b.path / "equity.parquet")})
    table = c["table"]
    text_rows = [f"{'':<26}" + "".join(f"{b.id[-13:]:>16}" for b in c["runs"])]
    for k in table.index:
        label = LABELS.get(k, (k,))[0]
        text_rows.append(f"{label:<26}" + "".join(f"{format_metric(k, v):>16}" for v in table.loc[k]))
    return {"runs": rows, "metrics": {k: table.loc[k].to_dict() for k in table.index}, "notes": c["notes"],
            "_text": "\n".join(text_rows + [f"note: {n}" for n in c["notes"]])}


def _list(args, ws) -> dict:
    from engine.backtest.store import list_backtests

    rows = [{"backtest_id": b.id, "name": b.manifest.name, "mode": b.mode, "symbols": b.manifest.symbols,
             "timeframe": b.manifest.timeframe, "start": b.manifest.start, "end": b.manifest.end,
             "total_return": b.manifest.metrics.get("total_return"), "sharpe": b.manifest.metrics.get("sharpe"),
             "created_at": b.manifest.created_at} for b in list_backtests(ws, mode=args.mode, model_id=args.model)]
    text = "\n".join(f"{r['backtest_id']}  {r['mode']:<6} {r['name']}" for r in rows) or "no backtests yet"
    return {"backtests": rows, "_text": text}


def _show(args, ws) -> dict:
    from engine.backtest.store import load_backtest

    b = load_backtest(ws, args.id)
    m = b.manifest
    extra = m.extra or {}
    d = {"backtest_id": b.id, "mode": b.mode, "params": m.params, "metrics": m.metrics, "parents": m.parents,
         "annualisation": extra.get("annualisation"), "extra": m.extra, "path": str(b.path)}
    if b.mode == "sweep":
        d["sweep_path"] = str(b.path / "sweep.parquet")
        d["selection"] = (m.extra or {}).get("selection")
        d["warnings"] = (m.extra or {}).get("warnings", [])
    else:
        d["equity_path"] = str(b.path / "equity.parquet")
        for k in ("sample", "uncertainty", "warnings", "costs", "trades_explanation", "folds", "folds_spread"):
            d[k] = extra.get(k)
        d["_text"] = _result_text({**d, "source": extra.get("source") or {}, "model_id": (extra.get("source") or {}).get("id"),
                                   "symbols": m.symbols, "timeframe": m.timeframe,
                                   "period": {"start": m.start, "end": m.end},
                                   "bars_per_year": (extra.get("annualisation") or {}).get("bars_per_year")
                                   or m.metrics.get("bars_per_year", 0), "notes": extra.get("notes") or []})
    return d


class _RunByDefault(argparse._SubParsersAction):
    """``backtest MODEL_ID ...`` is ``backtest run MODEL_ID ...``: a first word that is not a command
    selects ``run`` (one parser for the whole group: no second parse of leftover words)."""

    class _Choices(Mapping):
        """The commands, as argparse checks a choice: any word that is not an option is accepted."""

        def __init__(self, real: dict):
            self.real = real

        def __getitem__(self, key):
            return self.real[key]

        def __iter__(self):
            return iter(self.real)

        def __len__(self) -> int:
            return len(self.real)

        def __contains__(self, key) -> bool:
            return isinstance(key, str) and not key.startswith("-")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = self._Choices(self._name_parser_map)

    def __call__(self, parser, namespace, values, option_string=None):
        if values and values[0] not in self._name_parser_map:
            values = ["run", *values]
        super().__call__(parser, namespace, values, option_string)


def _no_command(args, ws) -> dict:
    raise BadInput("backtest: give a MODEL_ID or a command", hint=f"commands: {', '.join(COMMANDS)}; "
                   "see `python -m engine backtest --help`")


def register(sub) -> None:
    g = sub.add_parser("backtest", help="vectorbt backtests of models and rules: run, sweep, compare",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.register("action", "parsers_run_by_default", _RunByDefault)
    g.set_defaults(func=_no_command)
    s = g.add_subparsers(dest="cmd", metavar="MODEL_ID|COMMAND", parser_class=type(g), action="parsers_run_by_default")
    for name, helptext, build, func in (
            ("run", "backtest model(s) on their out-of-sample bars (the default: `backtest MODEL_ID ...`)", _build_run,
             _run_models),
            ("rule", "the plain SMA-crossover baseline", _build_rule, _run_rule),
            ("sweep", "a grid over thresholds x stop-loss x take-profit", _build_sweep, _run_sweep)):
        p = s.add_parser(name, help=helptext)
        build(p)
        p.set_defaults(func=func)
    p = s.add_parser("compare", help="metrics side by side")
    p.add_argument("ids", nargs="+", metavar="BACKTEST_ID")
    p.set_defaults(func=_compare)
    p = s.add_parser("list", help="stored backtests")
    p.add_argument("--model", help="only backtests of this model")
    p.add_argument("--mode", choices=["single", "sweep"])
    p.set_defaults(func=_list)
    p = s.add_parser("show", help="one stored backtest")
    p.add_argument("id", metavar="BACKTEST_ID")
    p.set_defaults(func=_show)
