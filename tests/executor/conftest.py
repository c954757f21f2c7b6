"""A real Ray cluster on this machine: a head and one more worker node, one CPU each, started with
``ray start`` (session scope) and stopped by killing the process groups those commands started
(never a machine-wide ``ray stop``: other Ray users on the machine are left alone)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.stage2.conftest import S1_FEATURES, btc_candles, small_pair, stage1_template  # noqa: F401 - fixtures

RAY = str(Path(sys.executable).with_name("ray"))

# Token authentication, as on a real cluster, with a token of this test session only (never
# ~/.ray/auth_token).  This process and the job processes it starts are drivers of the cluster, so
# they need it too, and Ray reads it when it is first imported: hence here, before any test imports ray.
_AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex, "RAY_USAGE_STATS_ENABLED": "0"}
_SAVED = {k: os.environ.get(k) for k in _AUTH}
os.environ.update(_AUTH)
os.environ.pop("RAY_AUTH_TOKEN_PATH", None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str]) -> int:
    proc = subprocess.Popen([RAY, "start", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)
    out, _ = proc.communicate(timeout=180)
    if proc.returncode != 0:
        _stop([proc.pid])
        pytest.fail(f"ray start {' '.join(args)} failed:\n{out[-3000:]}")
    return proc.pid  # the process group its daemons belong to


def _stop(groups: list[int]) -> None:
    for sig, pause in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 0.5)):
        for g in groups:
            try:
                os.killpg(g, sig)
            except ProcessLookupError:
                pass
        time.sleep(pause)


@pytest.fixture(scope="session")
def ray_cluster():
    """``host:port`` of a running two-node Ray cluster (head + worker, 1 CPU each)."""
    if not Path(RAY).is_file():
        pytest.fail("ray is not installed (requirements.txt pins it)")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    env.pop("KLINELAB_JOB_ID", None)
    port = _free_port()
    common = ["--num-cpus=1", "--disable-usage-stats", "--object-store-memory=200000000"]  # small: CI /dev/shm
    groups = []
    try:
        groups.append(_start(["--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
                              f"--temp-dir={temp}", f"--ray-client-server-port={_free_port()}",
                              f"--dashboard-agent-listen-port={_free_port()}", *common], env))
        groups.append(_start([f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1",
                              f"--dashboard-agent-listen-port={_free_port()}", *common], env))
        yield f"127.0.0.1:{port}"
    finally:
        try:
            import ray

            ray.shutdown()
        finally:
            _stop(groups)
            shutil.rmtree(temp, ignore_errors=True)
            for k, v in _SAVED.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="session")
def ray_executor(ray_cluster):
    from engine.executor.ray_exec import RayExecutor

    ex = RayExecutor(address=ray_cluster, max_retries=1)
    yield ex
    ex.close()


@pytest.fixture(scope="session")
def batch_template(stage1_template, tmp_path_factory):
    """The Stage 2 test workspace (sample feature set BTC/ETH/SOL 15m, a tiny Stage 1 of BTC) plus tiny
    Stage 1 models of ETH and SOL, so three pairs have everything ``--stage1 latest`` needs.  Read-only."""
    from engine.stage2.pipeline import train_stage1_pair
    from engine.stage2.stage1_train import Stage1TrainConfig
    from storage.catalog import Catalog
    from storage.workspace import Workspace

    src, fsid, _ = stage1_template
    root = tmp_path_factory.mktemp("batch-template") / "workspace"
    shutil.copytree(src, root)
    w = Workspace.open(root)
    Catalog(w).rebuild()
    for sym in ("ETHUSDT", "SOLUSDT"):
        train_stage1_pair(w, sym, "15m", Stage1TrainConfig(sequence_length=8, units=8, epochs=2, patience=1,
                                                           features=S1_FEATURES, oof_folds=3), featureset_id=fsid)
    return root, fsid
