"""One executor rule for the four commands that fan out: the same options (and KLINELAB_EXECUTOR) give
the same executor spec, and a contradiction is the same one BadInput, whichever command parses them."""
from __future__ import annotations

import pytest

from config.errors import BadInput
from engine.backtest.requests import SweepRequest
from engine.cli import build_parser
from engine.stage2.requests import Stage2BatchRequest
from engine.training.config import TrainRequest
from engine.tuning.requests import TuneRequest

COMMANDS = [
    (["train", "direction", "--featureset", "fs-x", "--config", "base"], TrainRequest),
    (["backtest", "sweep", "model-x"], SweepRequest),
    (["stage2", "batch"], Stage2BatchRequest),
    (["tune", "run", "--featureset", "fs-x"], TuneRequest),
]
LOCAL2 = {"executor": "local", "workers": 2, "ray_address": None}
RAY = {"executor": "ray", "workers": None, "ray_address": "10.0.0.5:6379"}


def _specs(opts):
    out = []
    for argv, req in COMMANDS:
        try:
            out.append(req.from_args(build_parser().parse_args([*argv, *opts])).executor_spec())
        except BadInput as e:
            out.append(f"BadInput: {e}")
    return out


@pytest.mark.parametrize("env,opts,expected", [
    (None, [], None),
    (None, ["--workers", "2"], LOCAL2),
    (None, ["--ray-address", "10.0.0.5:6379"], RAY),
    (None, ["--executor", "local", "--workers", "2"], LOCAL2),
    ("ray", [], {"executor": "ray", "workers": None, "ray_address": None}),
    ("ray", ["--executor", "local", "--workers", "2"], LOCAL2),  # --executor wins over the environment
    ("local", ["--workers", "2"], LOCAL2),
    ("local", [], {"executor": "local", "workers": None, "ray_address": None}),
    ("ray", ["--ray-address", "10.0.0.5:6379"], RAY),
    (None, ["--workers", "2", "--ray-address", "h:1"], {"executor": "ray", "workers": 2, "ray_address": "h:1"}),
    ("ray", ["--workers", "2"], {"executor": "ray", "workers": 2, "ray_address": None}),  # tune: trials at once
    ("local", ["--ray-address", "h:1"], "BadInput: --ray-address is for --executor ray (the executor is local, from KLINELAB_EXECUTOR)"),
    (None, ["--executor", "local", "--ray-address", "h:1"], "BadInput: --ray-address is for --executor ray (the executor is local, from --executor)"),
])
def test_the_four_commands_resolve_the_same_options_to_the_same_executor(monkeypatch, env, opts, expected):
    if env is None:
        monkeypatch.delenv("KLINELAB_EXECUTOR", raising=False)
    else:
        monkeypatch.setenv("KLINELAB_EXECUTOR", env)
    assert _specs(opts) == [expected] * len(COMMANDS)
