"""Hostile candle files (issue 17 defects 4 and 5) cost bounded time and memory.

Each case runs the real CLI (``python -m engine data import ...``) as a child process and measures it
with ``resource.getrusage(RUSAGE_CHILDREN)``.  The CLI is started from a small wrapper process of its
own, so the peak RSS reported is that CLI's alone: RUSAGE_CHILDREN of the pytest process itself would
be the maximum over every child it ever waited for (an earlier test's big import included)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
import zlib

import pytest

from engine.data.canonical import parse_utc
from tests.conftest import ROOT, error_line, snapshot
from tests.data.test_bad_inputs import gzip_nuls

MAX_SECONDS = 5.0
MAX_RSS_MB = 300.0

_WRAPPER = """
import json, resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr, "wall_s": time.monotonic() - t,
                  "cpu_s": u.ru_utime + u.ru_stime, "maxrss_mb": u.ru_maxrss / 1024}))
"""


def measured_cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "engine", *args], cwd=str(ROOT),
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def text_gzip_bomb(mib: int) -> bytes:
    """``mib`` MiB of well-formed candle rows, gzipped (about 1000x smaller)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"1735689600000,1,2,0.5,1.5,10\n" * (1 << 15)
    parts = [c.compress(b"time,open,high,low,close,volume\n")]
    parts += [c.compress(block) for _ in range(mib * (1 << 20) // len(block))]
    return b"".join(parts) + c.flush()


def build(case: str, tmp) -> tuple[list[str], str]:
    if case == "gzip_bomb_nul":  # the reproduction of defect 4: 300 KB of gzipped NULs, --source-format csv
        p = tmp / "BTCUSDT_15m.csv"
        p.write_bytes(gzip_nuls(300 * 1024 * 1024))
        assert p.stat().st_size < 400_000
        return ["data", "import", str(p), "--source-format", "csv"], "binary data (NUL bytes)"
    if case == "gzip_bomb_text":  # well-formed rows: caught by the unpacked-size cap, not by content
        p = tmp / "BTCUSDT_15m.csv.gz"
        p.write_bytes(text_gzip_bomb(200))
        return ["data", "import", str(p)], "possible decompression bomb"
    if case == "zip_bomb_text":
        p = tmp / "BTCUSDT-15m-2025-01.zip"
        block = b"1735689600000,1,2,0.5,1.5,10\n" * (1 << 15)
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, z.open("BTCUSDT-15m-2025-01.csv", "w") as f:
            for _ in range(200 * (1 << 20) // len(block)):
                f.write(block)
        return ["data", "import", str(p)], "too large"
    if case == "long_timestamp":  # the reproduction of defect 5: one 5 MB time token
        p = tmp / "BTCUSDT_15m.csv"
        rows = [f"2025-01-01 {h:02d}:{m:02d}:00,1,2,0.5,1.5,10" for h in range(10) for m in (0, 15, 30, 45)]
        rows[5] = "2025-01-01 " + "1" * 5_000_000 + ",1,2,0.5,1.5,10"
        p.write_text("time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
        return ["data", "import", str(p)], "a date/time is at most 64"
    if case == "long_epoch_token":
        p = tmp / "BTCUSDT_15m.csv"
        rows = [f"{1735689600000 + i * 900_000},1,2,0.5,1.5,10" for i in range(40)]
        rows[7] = "9" * 400_000 + ",1,2,0.5,1.5,10"
        p.write_text("open_time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
        return ["data", "import", str(p)], "time column"
    raise KeyError(case)


@pytest.mark.parametrize("case", ["gzip_bomb_nul", "gzip_bomb_text", "zip_bomb_text", "long_timestamp", "long_epoch_token"])
def test_hostile_file_is_refused_fast_in_bounded_memory(case, sample_ws, tmp_path):
    argv, needle = build(case, tmp_path)
    before = snapshot(sample_ws.root)
    m = measured_cli(*argv)
    assert m["rc"] == 2, m["stderr"][-2000:]
    assert needle in error_line(m["stderr"]), m["stderr"][-2000:]
    assert len(m["stderr"].strip().splitlines()) <= 2  # a progress line at most, then the one error line
    assert len(error_line(m["stderr"])) < 600
    assert m["wall_s"] < MAX_SECONDS, m
    assert m["maxrss_mb"] < MAX_RSS_MB, m
    assert snapshot(sample_ws.root) == before


def test_typed_date_of_5_mb_is_refused_at_once():
    t = time.monotonic()
    with pytest.raises(ValueError, match="longer than 64 characters"):
        parse_utc("2025-01-01" + "1" * 5_000_000, "start")
    assert time.monotonic() - t < 0.5
    assert parse_utc("2025-01-01T12:00").isoformat() == "2025-01-01T12:00:00+00:00"


@pytest.mark.parametrize("target", ["folder", "/dev/zero"])
def test_config_that_is_not_a_file_says_what_it_is(target, tmp_path):
    """Issue 17 defect 20: ``--config`` given a folder (or a device) said "does not exist"."""
    from config.errors import BadInput
    from engine.features.config import load_config as load_features_config
    from engine.training.config import resolve_path

    p = tmp_path if target == "folder" else target
    what = "is a folder, not a file" if target == "folder" else "exists but is a character device"
    with pytest.raises(BadInput, match=what):
        resolve_path(p)
    with pytest.raises(BadInput, match=what):
        load_features_config(p)
    with pytest.raises(BadInput, match="does not exist"):
        resolve_path(tmp_path / "nope.yaml")
    r = subprocess.run([sys.executable, "-m", "engine", "train", "patchtst", "--config", str(p), "--featureset", "x"],
                       cwd=str(ROOT), capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and what in error_line(r.stderr), r.stderr
