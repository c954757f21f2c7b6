"""Typed ``tune run`` request (engine/tuning/requests.py): the Tuning tab builds the request the CLI parses,
and the parser's ranges and defaults are the request's fields."""
import pytest

from config.errors import BadInput
from engine.tuning.requests import TuneRequest
from tests.request_checks import build_parser, check_contract, round_trip

FULL = {"kind": "stage2", "featureset": "fs", "symbol": "BTCUSDT", "stage1": "stage1-x", "config": "test", "space": "space.yaml",
        "horizon": "4h", "trials": 50, "executor": "ray", "ray_address": "10.0.0.5:6379", "workers": 4,
        "storage": "sqlite:///study.db", "study": "s1", "holdout": 0.25, "folds": 5, "val_frac": 0.3, "last_bars": 3000,
        "seed": 7, "name": "a study"}


def test_every_field_round_trips_and_the_cli_options_are_the_fields():
    check_contract(TuneRequest, [FULL])


def test_the_page_request_is_the_command_the_cli_accepts():
    # what pages/tuning_widgets.py builds for the direction kind with its initial values
    req = TuneRequest.build(kind="direction", featureset="fs", config="test", horizon="1h", trials=12, workers=2, folds=3,
                            holdout=0.2, executor="local", last_bars=3000)
    assert round_trip(req) == ["tune", "run", "--executor", "local", "--workers", "2", "--featureset", "fs", "--config", "test",
                               "--trials", "12", "--last-bars", "3000"]


def test_the_parser_range_is_the_field_range():
    with pytest.raises(BadInput, match="out of range: must be a whole number in \\[1, 20\\]"):
        build_parser().parse_args(["tune", "run", "--featureset", "fs", "--folds", "21"])
    with pytest.raises(BadInput, match="folds must be an integer in \\[1, 20\\], got 21"):
        TuneRequest.build(featureset="fs", folds=21)


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="horizon must be one of 15m, 1h, 4h, 12h"):
        TuneRequest.build(featureset="fs", horizon="2h")
