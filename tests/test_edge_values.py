"""Issue 17: values checked at the edge, environment errors as one line with exit 2, JSON output
always valid, secrets masked (defects 9, 12, 13, 14, 17, 19).  Each reproduction as reported."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, error_line, run_cli, snapshot


def one_line_exit_2(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    line = error_line(r.stderr)
    for n in needles:
        assert n in line, line
    return line


# -- defect 12: tracebacks on bad values -> one line, exit 2 ------------------------------------------
@pytest.mark.parametrize("argv,needle", [
    (["stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--num-leaves", "1"], "--num-leaves"),
    (["backtest", "rule", "--timeframe", "15m", "--symbols", "BTCUSDT", "--slow", "10000000"], "--slow"),
    (["catalog", "query", "--limit", "-1"], "--limit"),
    (["jobs", "sleep", "--seconds", "-1"], "--seconds"),
    (["jobs", "sleep", "--seconds", "nan"], "nan / inf"),
    (["features", "audit", "fs-x", "--window", "-5"], "--window"),  # defect 14
    (["sync", "ssh", "host-add", "h", "--host", "example.org", "--port", "70000"], "--port"),
])
def test_out_of_range_numeric_options_are_refused_before_any_work(ws, argv, needle):
    r = run_cli(*argv)
    one_line_exit_2(r, needle, "out of range" if "nan" not in argv else "not allowed")
    assert snapshot(ws.root).keys() <= {"catalog.duckdb"}  # nothing written (at most the empty catalog)


def test_every_numeric_cli_option_has_a_range():
    """The mechanism: no option of any command is typed plain int / float (argparse would take
    -1, 1e308, nan, inf)."""
    from engine.argtypes import unranged_numeric_options
    from engine.cli import build_parser

    assert unranged_numeric_options(build_parser()) == []


def test_ranged_types():
    import argparse

    from engine.argtypes import float_in, int_in

    assert int_in(1, 10)("10") == 10
    assert float_in(0, 1, lo_open=True)("1") == 1.0
    for t, v in ((int_in(1, 10), "0"), (int_in(1, 10), "1.5"), (float_in(0, 1, lo_open=True), "0"),
                 (float_in(None, None), "inf"), (float_in(None, None), "nan"), (int_in(None, 5), "x" * 10_000)):
        with pytest.raises(argparse.ArgumentTypeError) as e:
            t(v)
        assert len(str(e.value)) < 120


def test_stage2_batch_resume_with_a_malformed_state_file(ws, tmp_path):
    for doc in ({"options": {}, "pairs": [{}]}, {"options": {"stage1": "latest"}, "pairs": [1]},
                {"options": {"stage1": "latest", "stage1_config": {}, "stage2_config": {"threshold": "x"}}, "pairs": []},
                {"options": {"stage1": "rm -rf"}, "pairs": []}):
        p = tmp_path / "state.json"
        p.write_text(json.dumps(doc))
        r = run_cli("stage2", "batch", "--resume", str(p))
        one_line_exit_2(r, "not a valid Stage 2 batch state")
    p.write_text("{not json")
    one_line_exit_2(run_cli("stage2", "batch", "--resume", str(p)), "cannot read the batch state")


# -- defect 12: environment ------------------------------------------------------------------------
def test_home_pointing_at_a_regular_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    one_line_exit_2(run_cli("--home", str(f), "catalog", "query"), "is a file, not a folder")
    one_line_exit_2(run_cli("--home", str(f / "ws"), "jobs", "list"), f"{f} is a file")
    assert f.read_text() == "x"


def _can_unshare() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare (a private mount namespace) to mount a read-only / full file system"
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return None if r.returncode == 0 else f"unshare -m is not permitted here: {r.stderr.decode()[:200]}"


def _in_namespace(setup: str, argv: list[str], after: str = "") -> subprocess.CompletedProcess:
    """Run the CLI inside a private mount namespace after ``setup`` (shell); nothing leaks out."""
    cli = " ".join(["exec" if not after else "", sys.executable, "-m", "engine", *argv]).strip()
    script = f"set -e; {setup}; set +e; {cli}" + (f"; rc=$?; {after}; exit $rc" if after else "")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.skipif(_can_unshare() is not None, reason=str(_can_unshare()))
def test_read_only_workspace_is_one_line_exit_2(ws):
    """Defect 9: every writing command on a read-only workspace gave `OSError: [Errno 30]` with a traceback."""
    root = str(ws.root)
    assert run_cli("catalog", "rebuild").returncode == 0
    before = snapshot(ws.root)
    ro = f"mount --bind {root} {root} && mount -o remount,bind,ro {root}"
    for argv in (["jobs", "sleep", "--artifact", "--seconds", "0", "--steps", "1"], ["data", "import-sample"],
                 ["sync", "ssh", "host-add", "h", "--host", "example.org"]):
        r = _in_namespace(ro, ["--home", root, *argv])
        one_line_exit_2(r, "read-only")
    assert snapshot(ws.root) == before


@pytest.mark.skipif(_can_unshare() is not None, reason=str(_can_unshare()))
def test_full_disk_is_one_line_exit_2_and_leaves_no_staging(tmp_path):
    root = tmp_path / "small"
    root.mkdir()
    r = _in_namespace(f"mount -t tmpfs -o size=300k tmpfs {root}", ["--home", str(root), "data", "import-sample"],
                      after=f"find {root} -name '*.partial' -o -name manifest.json")
    one_line_exit_2(r, "no space left")
    assert r.stdout.strip() == "", r.stdout  # no staging folder, no half-written artifact


# -- defect 13: device cuda on a CPU machine ---------------------------------------------------------
def test_device_cuda_without_cuda_leaves_no_run_folder(ws, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: device: cuda is valid here")
    cfg = tmp_path / "cuda.yaml"
    cfg.write_text("training:\n  device: cuda\n")
    r = run_cli("train", "patchtst", "--config", str(cfg), "--featureset", "fs-x")
    one_line_exit_2(r, "cuda", "no CUDA device")
    assert not (ws.root / "training").exists() and not list(ws.root.rglob("run.json"))


# -- defect 14: nonsense accepted ------------------------------------------------------------------
def test_negative_and_unknown_target_weights_are_refused(tmp_path):
    neg = tmp_path / "neg.yaml"
    neg.write_text("loss:\n  target_weights: {future_return_4h: -1.5}\n")
    one_line_exit_2(run_cli("train", "patchtst", "--config", str(neg), "--featureset", "fs-x"),
                    "loss.target_weights.future_return_4h", "[0,")
    neg.write_text("loss:\n  type_weights: {regression: -1}\n")
    one_line_exit_2(run_cli("train", "patchtst", "--config", str(neg), "--featureset", "fs-x"), "loss.type_weights")
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss:\n  target_weights: {no_such_target: 2.0}\n")
    one_line_exit_2(run_cli("train", "patchtst", "--config", str(bad), "--featureset", "fs-x"),
                    "no_such_target", "does not learn")
    bad.write_text("loss:\n  target_weights: {future_return_4h: 2.0}\n")  # a PatchTST target, not a direction one
    one_line_exit_2(run_cli("train", "direction", "--config", str(bad), "--featureset", "fs-x"), "does not learn")


def test_catalog_since_garbage_kind_and_unknown_lineage(sample_ws):
    one_line_exit_2(run_cli("catalog", "query", "--since", "garbage"), "--since 'garbage' is not a date")
    one_line_exit_2(run_cli("catalog", "query", "--until", "x" * 5000), "--until")
    one_line_exit_2(run_cli("catalog", "query", "--kind", "bogus"), "unknown artifact kind")
    one_line_exit_2(run_cli("catalog", "lineage", "no-such-artifact"), "no artifact 'no-such-artifact'")
    r = run_cli("catalog", "query", "--since", "2020-01-01", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["count"] >= 7
    r = run_cli("catalog", "lineage", "ohlcv-BTCUSDT-15m", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ancestors"] == []


def test_jobs_start_of_an_unknown_command_is_refused_before_a_job_exists(ws):
    for argv in (["frobnicate"], ["jobs", "sleep", "--seconds", "-1"], ["catalog"], ["jobs", "sleep", "--help"]):
        r = run_cli("jobs", "start", "--", *argv)
        one_line_exit_2(r)
    assert not ws.jobs_dir.exists() or not any(ws.jobs_dir.iterdir())
    r = run_cli("jobs", "start", "--", "jobs", "sleep", "--seconds", "0", "--steps", "1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"].startswith("job-jobs-sleep")


# -- defect 17: JSON always valid ------------------------------------------------------------------
def _strict_json(text: str):
    def refuse(c):
        raise ValueError(f"bare {c} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_catalog_query_json_has_no_bare_nan(sample_ws):
    """Job artifacts have no timeframe: the catalog's DataFrame holds NaN there, which json.dumps wrote as NaN."""
    r = run_cli("jobs", "start", "--", "jobs", "sleep", "--seconds", "0", "--steps", "1", "--artifact")
    assert r.returncode == 0, r.stderr
    import time

    from engine import jobs

    job_id = r.stdout.split()[1]
    for _ in range(200):
        if not jobs.get(sample_ws, job_id).active:
            break
        time.sleep(0.1)
    r = run_cli("catalog", "query", "--json")
    assert r.returncode == 0, r.stderr
    doc = _strict_json(r.stdout)  # fails on NaN / Infinity
    assert doc["count"] == len(doc["artifacts"]) >= 8
    assert any(a["timeframe"] is None for a in doc["artifacts"])


def test_json_writer_converts_nan_inf_and_numpy():
    import numpy as np
    import pandas as pd

    from engine.cli import dumps_json

    doc = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": np.float32("nan"), "d": np.int64(3),
           "e": np.array([1.0, np.nan]), "f": pd.NaT, "g": pd.Timestamp("2026-01-01", tz="UTC"), "h": (np.bool_(True),)}
    out = _strict_json(dumps_json(doc))
    assert out == {"a": None, "b": [None, None, 1.5], "c": None, "d": 3, "e": [1.0, None], "f": None,
                   "g": "2026-01-01 00:00:00+00:00", "h": [True]}


# -- defect 19: secrets in database URLs -------------------------------------------------------------
def test_unencoded_at_in_a_database_password_never_leaks(ws):
    secret_tail = "Zq7Tail"
    url = f"postgresql+psycopg://alice:s3cr@{secret_tail}@127.0.0.1:1/db"
    r = run_cli("data", "import-sql", "--url", url, "--table", "candles", "--symbol", "BTCUSDT", "--timeframe", "15m")
    assert r.returncode == 2, r.stderr
    assert secret_tail not in r.stderr + r.stdout and "s3cr" not in r.stderr + r.stdout, r.stderr
    assert "alice:***@127.0.0.1:1/db" in error_line(r.stderr)


def test_mask_url_and_parse_url():
    from engine.data.sources.sql import mask_url, parse_url

    u = parse_url("postgresql://u:p@ss:w@rd@db.example:5432/x")
    assert (u.username, u.password, u.host, u.port) == ("u", "p@ss:w@rd", "db.example", 5432)
    for url in ("postgresql://u:p@ss:w@rd@db.example:5432/x", "postgresql://u:p%40ss@h/x", "mysql://u:topsecret@h/x"):
        shown = mask_url(url)
        assert "***" in shown and not any(part in shown for part in ("p@ss", "w@rd", "ss:w", "topsecret", "%40ss"))


def test_sqlite_url_to_a_missing_file_is_refused_and_creates_nothing(ws, tmp_path):
    target = tmp_path / "elsewhere" / "nothere.db"
    target.parent.mkdir()
    r = run_cli("data", "import-sql", "--url", f"sqlite:///{target}", "--table", "t", "--symbol", "BTCUSDT",
                "--timeframe", "15m")
    one_line_exit_2(r, "does not exist")
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_mask_args_masks_each_url_password_and_keeps_everything_else():
    from config.secrets import mask_args

    args = ["tune", "run", "--storage", "postgresql://me:p@ss:w@rd@db.example:5432/x", "--study", "a@b",
            "--url=mysql://u:topsecret@h/x", "sqlite:///study.db", "postgresql://nopass@h/db",
            "--query", "select 'x://y@z' as s", "pg://u:pw@@@", "--json"]
    out = mask_args(args)
    assert out[:3] == args[:3] and out[4:6] == args[4:6] and out[7:11] == args[7:11] and out[-1] == "--json"
    assert out[3] == "postgresql://me:***@db.example:5432/x" and out[6] == "--url=mysql://u:***@h/x"
    assert not any(s in " ".join(out) for s in ("p@ss", "w@rd", "topsecret"))
    assert out[11] in ("***", "pg://u:***@@@") and "pw" not in out[11]
    assert mask_args(out) == out  # recording a recorded command again changes nothing
