"""Typed backtest requests (engine.backtest.requests): the page builds the request the CLI parses.

Every field round-trips through its command line (what a page-started job runs), and the CLI's options
and the request's fields are the same set, so a new option cannot be added to one and not the other."""
import pytest

from config.errors import BadInput
from engine.backtest.requests import RuleRequest, RunRequest, SweepRequest
from engine.cli import build_parser
from tests.request_checks import dests, unset_fields

CASES = [
    (RunRequest, {"model_ids": ["model-a", "model-b"], "threshold": 0.55, "horizon": "4h"}),
    (RuleRequest, {"timeframe": "1h", "fast": 10, "slow": 30, "period_of": "model-a"}),
    (SweepRequest, {"model_id": "model-a", "horizon": "1h", "thresholds": "0.4:0.8:0.05", "sl_stops": "none,0.02",
                        "tp_stops": "none,0.04", "metric": "total_return", "holdout": 0.25, "pbo_blocks": 8,
                        "executor": "local", "workers": 2}),
    (SweepRequest, {"rule": "sma_cross", "timeframe": "1h", "fast": 10, "slow": 30, "period_of": "model-a", "tp_stops": "none,0.04",
                        "executor": "ray", "ray_address": "10.0.0.5:6379"}),
]
PORTFOLIO = {"symbols": ["BTCUSDT", "ETHUSDT"], "direction": "both", "sizing": "percent", "size": 0.5, "sl_stop": 0.02,
                 "tp_stop": 0.04, "sl_trail": True, "fee_type": "maker", "fees": 0.0004, "slippage": 0.0002, "borrow_rate": 0.05,
                 "no_funding": True, "init_cash": 5000.0, "execution": "close", "start": "2026-01-01 00:00:00",
                 "end": "2026-02-01 23:59:59", "hold_bars": 16}


@pytest.mark.parametrize("cls,fields", CASES)
def test_every_field_round_trips_through_the_command_line(cls, fields):
    req = cls.build(**fields, **PORTFOLIO)
    argv = req.argv()
    assert argv[0] == "backtest" and all(isinstance(w, str) for w in argv)
    assert cls.from_args(build_parser().parse_args(argv)) == req


def test_the_cases_set_every_field_to_a_non_default_value():
    for cls in (RunRequest, RuleRequest, SweepRequest):
        reqs = [c.build(**f, **PORTFOLIO) for c, f in CASES if c is cls]
        unset = unset_fields(cls, reqs)
        assert unset == (["rule"] if cls is RuleRequest else []), (cls.__name__, unset)  # a rule has one value


@pytest.mark.parametrize("cls,command", [(RunRequest, "run"), (RuleRequest, "rule"), (SweepRequest, "sweep")])
def test_cli_options_and_request_fields_are_one_set(cls, command):
    assert dests("backtest", command) == set(cls.model_fields)


def test_a_model_id_first_is_the_run_command_and_defaults_stay_out_of_argv():
    req = RunRequest.build(model_ids=["m1"])
    assert req.argv() == ["backtest", "m1"]
    ns = build_parser().parse_args(["backtest", "m1", "--symbol", "btcusdt"])
    assert ns.func.__name__ == "_run_models" and RunRequest.from_args(ns).symbols == ["BTCUSDT"]


def test_bad_request_fields_are_one_line_naming_the_field():
    with pytest.raises(BadInput, match="sizing must be one of all, percent, value, amount, got 'most'"):
        RunRequest.build(model_ids=["m1"], sizing="most")
    with pytest.raises(BadInput, match="model_ids must be a non-empty list"):
        RunRequest.build(model_ids=[])
    with pytest.raises(BadInput, match="unknown key"):
        SweepRequest.build(model_id="m1", thresold="0.5")


def test_the_sweeps_executor_options():
    assert SweepRequest.build(model_id="m1").executor_spec() is None  # default: the whole grid in this process
    assert SweepRequest.build(model_id="m1", workers=2).executor_spec() == {"executor": "local", "workers": 2,
                                                                             "ray_address": None}
    assert SweepRequest.build(model_id="m1", ray_address="10.0.0.5:6379").executor_spec()["executor"] == "ray"
    with pytest.raises(BadInput, match="executor must be one of local, ray"):
        SweepRequest.build(model_id="m1", executor="dask")
