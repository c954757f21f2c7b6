"""Typed ``train`` requests (engine/training/config.py): ``train MODEL`` (TrainRequest) and ``train resume``
(ResumeRequest), what the Training page builds and the CLI parses."""
import pytest

from config.errors import BadInput
from engine.requests import CliRequest
from engine.training.config import ResumeRequest, TrainRequest
from tests.request_checks import dests, round_trip, unset_fields


def test_resume_round_trips_and_is_the_cli_command():
    req = ResumeRequest.build(run_id="run-20260101-000000-abcdef")
    assert round_trip(req) == ["train", "resume", "run-20260101-000000-abcdef"]
    assert dests("train", "resume") == set(ResumeRequest.model_fields)


def test_train_with_every_field_round_trips_through_the_command_line():
    req = TrainRequest.build(model="patchtst", config="test", featureset="fs", report="rep", targets=["direction_1h", "future_return_1h"],
                             name="a run", remote="gpu", executor="ray", workers=3, ray_address="10.0.0.5:6379")
    round_trip(req)
    assert unset_fields(TrainRequest, [req]) == [] and issubclass(TrainRequest, CliRequest)
    assert dests("train", "patchtst") | {"model"} == set(TrainRequest.model_fields)  # the model kind is the sub-command
    assert dests("train", "direction") | {"model", "targets"} == set(TrainRequest.model_fields)


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="run_id"):
        ResumeRequest.build(run_id="")
    with pytest.raises(BadInput, match="workers must be an integer or null in \\[1, 1024\\], got 0"):
        TrainRequest.build(model="direction", config="test", workers=0)
    with pytest.raises(BadInput, match="executor must be one of local, ray"):
        TrainRequest.build(model="direction", config="test", executor="dask")


def test_train_request_uses_the_shared_machinery():
    """No hand-written argv / build / from_args: a field added to TrainRequest reaches the job's command
    line through CliRequest.argv like every other request's (the model kind as the sub-command)."""
    assert not {"argv", "build", "from_args"} & set(vars(TrainRequest))
    req = TrainRequest.build(model="direction", config="test", name="", remote="", targets=[], workers=2)
    assert req.argv() == ["train", "direction", "--workers", "2", "--config", "test"]  # empty page inputs: not given
