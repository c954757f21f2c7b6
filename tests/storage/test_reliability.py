"""Issue 17 (storage / concurrency / untrusted manifests): one regression test per defect
(1, 2, 6, 7, 8, 10, 21), the two-writer concurrency test, and the publish journal."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, run_cli

BARS = 15000


def _csv(path: Path, a: int, b: int, symbol_shift: float = 0.0) -> Path:
    """Rows a..b of one synthetic 15m series (the same prices whichever slice is written)."""
    ts = pd.date_range("2024-01-01", periods=BARS, freq="15min", tz="UTC")[a:b]
    p = 100 + np.arange(BARS)[a:b] * 0.01 + symbol_shift
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "open": p, "high": p + 1, "low": p - 1,
                  "close": p + 0.5, "volume": 10.0}).to_csv(path, index=False)
    return path


def _popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=str(ROOT), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(ws, aid="ohlcv-BTCUSDT-15m") -> pd.DataFrame:
    return pd.read_parquet(ws.artifact_dir("ohlcv", aid) / "ohlcv.parquet")


# -- defect 1: concurrent imports into one series ------------------------------------------------
def test_defect1_two_concurrent_imports_into_one_series_never_lose_bars(ws, tmp_path):
    """10 rounds: rows 0-5000 imported, then 5000-10000 and 10000-15000 at the same time (real CLI
    processes).  Every round ends with all 15,000 bars, or one clear refusal and the other complete."""
    files = [_csv(tmp_path / f"BTCUSDT_15m_{i}.csv", i * 5000, (i + 1) * 5000) for i in range(3)]
    refusals = 0
    for _ in range(10):
        if ws.artifacts_dir.exists():
            import shutil

            shutil.rmtree(ws.root)
        r = run_cli("data", "import", str(files[0]))
        assert r.returncode == 0, r.stderr
        procs = [_popen("data", "import", str(files[1])), _popen("data", "import", str(files[2]))]
        outs = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        ok = [o for o in outs if o[0] == 0]
        expected = 5000 + 5000 * len(ok)
        for rc, _out, err in outs:
            if rc != 0:  # a refusal must be one clear line, never a traceback
                refusals += 1
                assert err.strip().splitlines()[-1].startswith("error:") and "Traceback" not in err, err
        assert len(_rows(ws)) == expected, outs
        assert _rows(ws)["timestamp"].is_unique
    assert refusals <= 10


def test_a_held_series_lock_makes_a_writer_wait_then_refuse_with_busy(ws, tmp_path, monkeypatch):
    from config.errors import Busy
    from engine.data.importer import import_path
    from storage.locks import artifact_lock

    _csv(tmp_path / "BTCUSDT_15m.csv", 0, 100)
    monkeypatch.setenv("KLINELAB_LOCK_TIMEOUT", "0.3")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from storage.workspace import Workspace; from storage.locks import artifact_lock\n"
        f"with artifact_lock(Workspace.open({str(ws.root)!r}), 'ohlcv-BTCUSDT-15m'):\n"
        "    print('held', flush=True); time.sleep(30)")], cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(Busy, match="being written by another process"):
            import_path(ws, tmp_path / "BTCUSDT_15m.csv")
        assert time.monotonic() - t0 >= 0.25
        assert not ws.artifact_dir("ohlcv", "ohlcv-BTCUSDT-15m").exists()
    finally:
        holder.kill()
        holder.wait()
    # the kernel released the dead holder's lock: the import goes through
    import_path(ws, tmp_path / "BTCUSDT_15m.csv")
    assert len(_rows(ws)) == 100
    with artifact_lock(ws, "ohlcv-BTCUSDT-15m"), artifact_lock(ws, "ohlcv-BTCUSDT-15m"):  # re-entrant in-process
        pass
