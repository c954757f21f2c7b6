"""Typed ``stage1`` / ``stage2`` requests (engine/stage2/requests.py): the Stage 2 page builds the requests the
CLI parses; every field round-trips; the parsers' options are the requests' fields."""
import pytest

from config.errors import BadInput
from engine.stage2.requests import (
    Stage1ImportRequest,
    Stage1InspectRequest,
    Stage1TrainRequest,
    Stage2BatchRequest,
    Stage2TrainRequest,
)
from tests.request_checks import build_parser, check_contract, round_trip

SOURCE = {"source": "owner/repo", "symbol": "BTCUSDT", "timeframe": "15m", "features": "rsi_14,atr_pct_14",
          "features_file": "names.txt", "sequence_length": 16, "revision": "v2", "repo_type": "model", "model_file": "detection.h5"}
S1_TRAIN = {"classes": 5, "sequence_length": 16, "units": 8, "dropout": 0.2, "epochs": 3, "batch_size": 64,
            "s1_learning_rate": 0.01, "patience": 1, "oof_folds": 3, "seed": 1, "features": "a,b", "features_file": "f.txt"}
S2 = {"threshold": 0.3, "no_stage1_probs": True, "stage2_features": ["a", "b"], "cv_folds": 3, "num_boost_round": 50,
      "early_stopping_rounds": 5, "learning_rate": 0.1, "max_depth": 4, "num_leaves": 15, "seed": 1}
CASES = [
    (Stage1InspectRequest, [SOURCE]),
    (Stage1ImportRequest, [SOURCE | {"name": "seed model"}]),
    (Stage1TrainRequest, [S1_TRAIN | {"symbol": "BTCUSDT", "timeframe": "15m", "featureset": "fs", "name": "lstm"}]),
    (Stage2TrainRequest, [S2 | {"symbol": "BTCUSDT", "timeframe": "15m", "stage1": "s1", "featureset": "fs", "name": "n"},
                          {"symbol": "BTCUSDT", "timeframe": "15m", "pass_rate": 0.04}]),
    (Stage2BatchRequest, [S1_TRAIN | S2 | {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["15m", "1h"], "stage1": "train",
                                           "featureset": "fs", "repo_id": "o/r", "revision": "v1", "executor": "local",
                                           "workers": 2, "ray_address": "h:1"},
                          {"resume": "job-1", "retry_failed": True, "pass_rate": 0.04}]),
]
COMMANDS = {Stage1InspectRequest: ("stage1", "inspect"), Stage1ImportRequest: ("stage1", "import"),
            Stage1TrainRequest: ("stage1", "train"), Stage2TrainRequest: ("stage2", "train"),
            Stage2BatchRequest: ("stage2", "batch")}


@pytest.mark.parametrize("cls,cases", CASES)
def test_every_field_round_trips_and_the_cli_options_are_the_fields(cls, cases):
    assert cls.command == COMMANDS[cls]
    check_contract(cls, cases)


def test_the_page_requests_are_the_commands_the_cli_accepts():
    # what pages/stage2.py builds: the Hub import with the page's defaults, a Stage 1 training, a batch, a resume
    imp = Stage1ImportRequest.build(source="owner/repo", symbol="BTCUSDT", timeframe="15m", features="a,b",
                                    sequence_length=None, revision=None, model_file="classification.h5")
    assert round_trip(imp) == ["stage1", "import", "owner/repo", "--features", "a,b", "--symbol", "BTCUSDT", "--timeframe", "15m"]
    s1 = Stage1TrainRequest.build(symbol="BTCUSDT", timeframe="15m", featureset="fs", classes=2, sequence_length=32, units=64,
                                  epochs=10, features=None)
    assert round_trip(s1) == ["stage1", "train", "--units", "64", "--symbol", "BTCUSDT", "--timeframe", "15m", "--featureset", "fs"]
    batch = Stage2BatchRequest.build(stage1="hub", symbols=["BTCUSDT"], timeframes=["15m", "1h"], repo_id="o/r", features=None,
                                     pass_rate=0.04, threshold=None)
    assert round_trip(batch) == ["stage2", "batch", "--pass-rate", "0.04", "--symbols", "BTCUSDT", "--timeframes", "15m,1h",
                                 "--stage1", "hub", "--repo-id", "o/r"]
    assert round_trip(Stage2BatchRequest.build(resume="job-1")) == ["stage2", "batch", "--resume", "job-1"]


def test_the_batch_flags_of_the_stage1_options_are_prefixed():
    ns = build_parser().parse_args(["stage2", "batch", "--s1-sequence-length", "8", "--s1-learning-rate", "0.5"])
    req = Stage2BatchRequest.from_args(ns)
    assert (req.sequence_length, req.s1_learning_rate) == (8, 0.5)
    assert Stage1TrainRequest.from_args(build_parser().parse_args(
        ["stage1", "train", "--symbol", "X", "--timeframe", "15m", "--learning-rate", "0.5"])).s1_learning_rate == 0.5


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="classes must be one of 2, 5, got 3"):
        Stage1TrainRequest.build(symbol="X", timeframe="15m", classes=3)
    with pytest.raises(BadInput, match="num_leaves must be an integer in \\[2, 131072\\], got 1"):
        Stage2TrainRequest.build(symbol="X", timeframe="15m", num_leaves=1)
    with pytest.raises(BadInput, match="stage1 must be one of latest, hub, train"):
        Stage2BatchRequest.build(stage1="newest")
