"""The executor interface on a real Ray cluster (head + one worker node on loopback) and on local
processes: results in order, errors per item, dead workers retried or reported, cancel; and a
Stage 2 batch of four pairs that gives on Ray exactly what it gives locally."""
from __future__ import annotations

import contextlib
import threading
import time

import pandas as pd
import pytest

from config.errors import BadInput, Cancelled
from engine.executor.choose import get_executor
from engine.executor.local import LocalExecutor
from tests.executor import helpers

PAIRS = {"symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], "timeframes": ["15m"]}


def _check_errors(results):
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.ok for r in results] == [True, True, False, False, True]
    assert [r.value for r in results if r.ok] == [0, 1, 16]
    assert results[2].error == "item 2 is bad on purpose" and results[2].error_type == "BadInput"
    assert results[3].error == "unexpected failure: ZeroDivisionError: division by zero"


def test_choice_of_executor(monkeypatch):
    monkeypatch.delenv("KLINELAB_EXECUTOR", raising=False)
    assert get_executor().name == "local" and get_executor(workers=3).workers == 3
    monkeypatch.setenv("KLINELAB_EXECUTOR", "ray")
    assert get_executor().name == "ray"
    with pytest.raises(BadInput, match="unknown executor 'dask'"):
        get_executor("dask")
    with pytest.raises(BadInput, match="--ray-address is for --executor ray"):
        get_executor("local", address="127.0.0.1:6379")


def test_an_unreachable_ray_address_fails_fast():
    from config.errors import RemoteError

    t0 = time.monotonic()
    with pytest.raises(RemoteError, match="cannot reach the Ray cluster at 127.0.0.1:1"), \
            get_executor("ray", address="127.0.0.1:1") as ex:
        ex.map(helpers.square_or_raise, [1])
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_reports_each_items_error_in_order(workers):
    seen = []
    res = LocalExecutor(workers=workers).map(helpers.square_or_raise, range(5), on_progress=lambda k, n, r: seen.append((k, n)))
    _check_errors(res)
    assert seen == [(k, 5) for k in range(1, 6)]


def test_local_pool_retries_a_dead_worker_then_reports(tmp_path):
    ex = LocalExecutor(workers=2, max_retries=1)
    res = ex.map(helpers.die_once, [str(tmp_path / "m")])
    assert res[0].ok and res[0].attempts == 2
    res = ex.map(helpers.always_die, ["x"])
    assert not res[0].ok and res[0].error_type == "WorkerDied" and "died 2 time(s)" in res[0].error


def test_local_pool_reports_only_the_item_whose_worker_died(tmp_path):
    """One item kills its process every time; the others, broken off with it (a dead worker breaks the
    whole pool), run again each in a process of its own and succeed: only the killer is reported.  The
    shared-pool break is nobody's death; the killer dies max_retries + 1 times alone, and its attempts
    are its real runs (counted by the item itself)."""
    seen = []
    res = LocalExecutor(workers=2, max_retries=1).map(helpers.die_or_echo, ["a", "die", "b", "c"],
                                                      on_progress=lambda k, n, r: seen.append((k, r.index)))
    assert [r.ok for r in res] == [True, False, True, True] and [r.value for r in res if r.ok] == ["a", "b", "c"]
    assert res[1].error_type == "WorkerDied" and res[1].attempts == 3
    assert res[1].error == ("the worker process died 2 time(s) running this item alone (3 attempt(s) in all, "
                            "the first in a shared pool that a worker's death broke)")
    assert [k for k, _ in seen] == [1, 2, 3, 4] and sorted(i for _, i in seen) == [0, 1, 2, 3]  # each once


@pytest.mark.parametrize("max_retries", [0, 2])
def test_local_pool_attempts_are_the_killers_real_runs(tmp_path, max_retries):
    res = LocalExecutor(workers=2, max_retries=max_retries).map(
        helpers.die_or_echo_counted, [(x, str(tmp_path)) for x in ["a", "die", "b"]])
    runs = len((tmp_path / "die.runs").read_text().splitlines())
    assert runs == res[1].attempts == max_retries + 2  # one in the shared pool, max_retries + 1 alone
    assert res[1].error.startswith(f"the worker process died {max_retries + 1} time(s) running this item alone "
                                   f"({max_retries + 2} attempt(s) in all")
    assert [r.value for r in res if r.ok] == ["a", "b"]


def test_an_empty_map_starts_nothing_and_returns_no_results():
    from engine.executor.ray_exec import RayExecutor

    for workers in (1, 2):
        assert LocalExecutor(workers=workers).map(helpers.square_or_raise, []) == []
    # nothing listens at this address: reaching for the cluster would raise RemoteError
    assert RayExecutor(address="127.0.0.1:1").map(helpers.square_or_raise, []) == []


POOL_DRIVER = """
import sys
from config.errors import Cancelled
from engine.cli import _install_sigterm
from engine.executor.local import LocalExecutor
from tests.executor.helpers import die_once_or_wait

_install_sigterm()  # what a job's process does: its cancel is a SIGTERM (to its whole process group)
try:
    res = LocalExecutor(workers=2, max_retries=0).map(die_once_or_wait, [("die", sys.argv[1]), ("a", sys.argv[1])])
    print("results:", [(r.ok, r.error_type) for r in res], flush=True)
except Cancelled:
    print("cancelled", flush=True)
    sys.exit(130)
"""


def test_a_job_cancel_that_kills_the_isolated_reruns_is_a_cancel_not_a_death(tmp_path):
    """The shared pool breaks ("die" kills its worker), "a" runs again alone; then the job is cancelled:
    SIGTERM to the driver's process group, which kills "a"'s process too.  With max_retries=0 that
    death would be "a"'s last one (reported WorkerDied: a Stage 2 batch would save the pair "failed");
    it is the cancel's doing: the driver raises Cancelled."""
    import os
    import signal
    import subprocess
    import sys

    from config.version import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("KLINELAB_JOB_ID", None)
    proc = subprocess.Popen([sys.executable, "-c", POOL_DRIVER, str(tmp_path)], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        runs = tmp_path / "a.runs"
        while not (runs.is_file() and "after the death" in runs.read_text()):  # its rerun alone started
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        time.sleep(1.0)  # past any shared-pool run of it that began just then: this is the rerun alone
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 130
        assert proc.stdout.read().strip() == "cancelled"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_ray_reports_each_items_error_in_order(ray_executor):
    seen = []
    res = ray_executor.map(helpers.square_or_raise, range(5), on_progress=lambda k, n, r: seen.append(k))
    _check_errors(res)
    assert sorted(seen) == [1, 2, 3, 4, 5]
    import ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2  # a head and a worker node


def test_ray_retries_a_killed_worker_or_reports_it(ray_executor, tmp_path):
    res = ray_executor.map(helpers.die_once, [str(tmp_path / "marker")])
    assert res[0].ok, res[0].error  # the first attempt's worker was SIGKILLed; Ray ran it again
    assert (tmp_path / "marker").read_text() == "died once"
    res = ray_executor.map(helpers.always_die, ["x"])
    assert not res[0].ok and res[0].error_type == "WorkerDied" and "2 attempt(s)" in res[0].error


def test_ray_cancel_stops_the_tasks(ray_executor, tmp_path):
    stop = threading.Event()
    items = [(str(tmp_path / "fast"), 0.0)] + [(str(tmp_path / f"slow{i}"), 6.0) for i in range(3)]
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        ray_executor.map(helpers.slow_mark, items, on_progress=lambda k, n, r: stop.set(), cancel=stop)
    assert time.monotonic() - t0 < 6.0
    time.sleep(7.0)
    assert (tmp_path / "fast").is_file()
    assert not any((tmp_path / f"slow{i}").exists() for i in range(3))  # cancelled: never finished


def _outcome(ws, res):
    from storage.artifacts import artifact_path, read_manifest

    out = {}
    for r in res["pairs"]:
        key = (r["symbol"], r["timeframe"])
        if r["status"] != "succeeded":
            out[key] = (r["status"], r["error"])
            continue
        m = read_manifest(ws, r["stage2_id"], "stage2")
        preds = pd.read_parquet(artifact_path(ws, r["stage2_id"], "stage2") / "predictions.parquet")
        out[key] = (r["status"], m.metrics, m.parents, m.extra["performance"], m.extra["cv_folds"], preds)
    return out


def _copy(root, dest):
    import shutil

    from storage.catalog import Catalog
    from storage.workspace import Workspace

    w = Workspace.open(dest)
    shutil.copytree(root, w.root, dirs_exist_ok=True)
    Catalog(w).rebuild()
    return w


def test_stage2_batch_on_ray_equals_local(batch_template, ray_executor, ws):
    """Four pairs (three with data, one without) in this process, and as Ray tasks that get their inputs
    shipped through the object store (as a worker without the driver's disk does): same results."""
    from engine.stage2.batch import run_batch
    from engine.stage2.stage2 import Stage2Config

    root, fsid = batch_template
    cfg = Stage2Config(cv_folds=3, num_boost_round=60)
    local_ws = _copy(root, ws.root.parent / "local-ws")
    _copy(root, ws.root)
    local = run_batch(local_ws, stage2_config=cfg, **PAIRS)
    ray_executor.shared_disk = False
    try:
        remote = run_batch(ws, stage2_config=cfg, executor=ray_executor, **PAIRS)
    finally:
        ray_executor.shared_disk = None
    a, b = _outcome(local_ws, local), _outcome(ws, remote)
    _same(a, b)
    assert remote["succeeded"] == 3 and remote["failed"] == 1
    assert {r.get("inputs_via") for r in remote["pairs"][:3]} == {"shipped"}  # the object store, not the disk
    # adopted through create_artifact: indexed, checked, and it says where it ran
    from storage.artifacts import read_manifest
    from storage.catalog import Catalog as C

    for sid in remote["stage2_ids"]:
        m = read_manifest(ws, sid, "stage2")
        assert m.parents == [fsid, m.params["stage1_id"]] and not m.verify_files(ws.artifact_dir("stage2", sid))
        assert m.extra["executed_on"]["worker"]
        assert str(ws.root) in (ws.artifact_dir("stage2", sid) / "summary.txt").read_text()
    assert sorted(C(ws).query(kind="stage2")["id"]) == sorted(remote["stage2_ids"])
    assert not list(ws.tmp_dir.glob("*.partial"))  # nothing left half-way


def test_stage2_batch_on_a_local_pool_equals_sequential(batch_template, tmp_path):
    from engine.stage2.batch import run_batch
    from engine.stage2.stage2 import Stage2Config

    root, _ = batch_template
    cfg = Stage2Config(cv_folds=3, num_boost_round=60)
    seq_ws, pool_ws = _copy(root, tmp_path / "seq"), _copy(root, tmp_path / "pool")
    seq = run_batch(seq_ws, stage2_config=cfg, **PAIRS)
    pool = run_batch(pool_ws, stage2_config=cfg, executor=LocalExecutor(workers=2), **PAIRS)
    _same(_outcome(seq_ws, seq), _outcome(pool_ws, pool))
    assert pool["succeeded"] == 3 and {r.get("inputs_via") for r in pool["pairs"][:3]} == {"linked"}


def _same(a, b):
    assert list(a) == list(b) == [(s, "15m") for s in PAIRS["symbols"]]
    assert a[("XRPUSDT", "15m")] == b[("XRPUSDT", "15m")]  # the same error, word for word
    assert b[("XRPUSDT", "15m")][0] == "failed" and b[("XRPUSDT", "15m")][1].startswith("no feature set for XRPUSDT 15m")
    for key in [(s, "15m") for s in PAIRS["symbols"][:3]]:
        la, rb = a[key], b[key]
        assert la[0] == rb[0] == "succeeded"
        assert la[1] == rb[1] and la[2] == rb[2] and la[3] == rb[3] and la[4] == rb[4]  # metrics, lineage, CV
        pd.testing.assert_frame_equal(la[5], rb[5])  # every prediction


DRIVER = """
import sys
from pathlib import Path
from config.errors import Cancelled
from engine.cli import _install_sigterm
from engine.executor.ray_exec import RayExecutor
from tests.executor.helpers import slow_mark

_install_sigterm()  # what a job's process does: its cancel is a SIGTERM
tmp = Path(sys.argv[2])
items = [(str(tmp / "fast"), 0.0)] + [(str(tmp / f"slow{i}"), 8.0) for i in range(3)]
with RayExecutor(address=sys.argv[1]) as ex:
    try:
        ex.map(slow_mark, items, on_progress=lambda k, n, r: print("first done", flush=True))
    except Cancelled:
        print("cancelled", flush=True)
        sys.exit(130)
"""


def test_sigterm_of_the_driver_cancels_its_ray_tasks(ray_cluster, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from config.version import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("KLINELAB_JOB_ID", None)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, ray_cluster, str(tmp_path)], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "first done"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130 and "cancelled" in proc.stdout.read()
    finally:
        proc.kill()
    time.sleep(9.0)
    assert (tmp_path / "fast").is_file() and not any((tmp_path / f"slow{i}").exists() for i in range(3))


def test_stage2_batch_job_with_executor_ray(batch_template, ray_cluster, ws):
    import shutil

    from engine import jobs
    from engine.stage2.batch import read_state
    from storage.catalog import Catalog

    root, fsid = batch_template
    shutil.copytree(root, ws.root, dirs_exist_ok=True)
    Catalog(ws).rebuild()
    st = jobs.submit(ws, ["stage2", "batch", "--symbols", "BTCUSDT,XRPUSDT", "--timeframes", "15m", "--cv-folds", "3",
                          "--executor", "ray", "--ray-address", ray_cluster], env={"KLINELAB_SHARED_DISK": "1"})
    st = jobs.wait(ws, st.id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(ws, st.id)
    state = read_state(st.id, ws)
    assert state["executor"]["executor"] == "ray" and state["executor"]["address"] == ray_cluster
    btc, xrp = state["pairs"]
    assert btc["status"] == "succeeded" and btc["stage2_id"] in st.artifacts and btc["featureset_id"] == fsid
    assert btc["worker"] and btc["attempts"] == 1 and btc["inputs_via"] == "linked"  # same machine: same disk
    assert xrp["status"] == "failed" and xrp["error"].startswith("no feature set for XRPUSDT 15m")
    assert "[1/2] BTCUSDT 15m: succeeded" in jobs.log_tail(ws, st.id)
    assert st.progress == 1.0


def test_cancelling_a_ray_batch_job_keeps_what_finished_and_resumes(batch_template, ray_cluster, ray_executor, ws):
    """The job's cancel (SIGTERM) reaches the Ray tasks; pairs that finished are adopted, the rest are
    pending (nothing half-indexed), and ``--resume`` on Ray finishes them."""
    from engine import jobs
    from engine.stage2.batch import STATE_FILE, read_state, run_batch
    from storage.catalog import Catalog

    root, _ = batch_template
    _copy(root, ws.root)
    st = jobs.submit(ws, ["stage2", "batch", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--timeframes", "15m",
                          "--cv-folds", "3", "--executor", "ray", "--ray-address", ray_cluster])
    path = ws.jobs_dir / st.id / STATE_FILE
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if path.is_file() and any(r["status"] == "succeeded" for r in read_state(str(path))["pairs"]):
            break
        assert jobs.get(ws, st.id).status in ("queued", "running"), jobs.log_tail(ws, st.id)
        time.sleep(0.2)
    st = jobs.cancel(ws, st.id)
    assert st.status == "cancelled", (st.error, jobs.log_tail(ws, st.id)[-3000:])
    time.sleep(1.0)
    state = read_state(st.id, ws)
    done = [r for r in state["pairs"] if r["status"] == "succeeded"]
    left = [r for r in state["pairs"] if r["status"] != "succeeded"]
    assert done and left and all(r["status"] == "pending" for r in left), state["pairs"]
    indexed = set(Catalog(ws).query(kind="stage2")["id"])
    assert indexed == {r["stage2_id"] for r in done}  # only what finished, whole
    assert not list(ws.tmp_dir.glob("*.partial"))
    res = run_batch(ws, resume=st.id, executor=ray_executor)
    assert res["succeeded"] == 3 and res["failed"] == 0
    assert set(Catalog(ws).query(kind="stage2")["id"]) == set(res["stage2_ids"])


def test_ray_batch_that_trains_stage1_brings_back_both_artifacts(batch_template, ray_executor, ws):
    """--stage1 train: the task makes a Stage 1 and a Stage 2; the driver adopts the Stage 1 first (the
    Stage 2's parent), both whole, indexed, with their lineage."""
    from engine.stage2.batch import run_batch
    from engine.stage2.stage1_train import Stage1TrainConfig
    from engine.stage2.stage2 import Stage2Config
    from storage.artifacts import read_manifest
    from storage.catalog import Catalog
    from tests.executor.conftest import S1_FEATURES

    root, fsid = batch_template
    _copy(root, ws.root)
    before = set(Catalog(ws).query(kind="stage1")["id"])
    res = run_batch(ws, symbols=["SOLUSDT"], timeframes=["15m"], stage1="train", executor=ray_executor,
                    stage1_config=Stage1TrainConfig(sequence_length=8, units=8, epochs=2, patience=1,
                                                    features=S1_FEATURES, oof_folds=3),
                    stage2_config=Stage2Config(cv_folds=3, num_boost_round=60))
    (rec,) = res["pairs"]
    assert rec["status"] == "succeeded", rec["error"]
    s1 = read_manifest(ws, rec["stage1_id"], "stage1")
    s2 = read_manifest(ws, rec["stage2_id"], "stage2")
    assert s1.id not in before and s1.parents == [fsid] and not s1.verify_files(ws.artifact_dir("stage1", s1.id))
    assert s2.parents == [fsid, s1.id] and s1.extra["executed_on"]["worker"] == s2.extra["executed_on"]["worker"]
    assert set(Catalog(ws).query(kind="stage1")["id"]) == before | {s1.id}
