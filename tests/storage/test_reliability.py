"""Issue 17 (storage / concurrency / untrusted manifests): one regression test per defect
(1, 2, 6, 7, 8, 10, 21), the two-writer concurrency test, and the publish journal."""
from __future__ import annotations

import json
import os
import signal
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
    import shutil

    from engine.data.importer import import_path

    files = [_csv(tmp_path / f"BTCUSDT_15m_{i}.csv", i * 5000, (i + 1) * 5000) for i in range(3)]
    refusals = 0
    for _ in range(10):
        if ws.root.exists():
            shutil.rmtree(ws.root)
        import_path(ws, files[0])  # the set-up in-process; the two racing imports are real CLI processes
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


# -- defect 21: a killed folder import, stale staging -------------------------------------------
_KILL_AFTER_RENAMES = """
import os, signal, sys
import storage.publish as pub
real, n = os.rename, [0]
def rename(a, b):
    real(a, b)
    n[0] += 1
    if n[0] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
pub.os = type(os)("os_shim"); pub.os.__dict__.update(os.__dict__); pub.os.rename = rename
from engine.data.importer import import_path
from storage.workspace import Workspace
import_path(Workspace.open(), sys.argv[1])
"""


@pytest.mark.parametrize("renames", [1, 2, 3])
def test_defect21_a_folder_import_killed_while_publishing_is_rolled_back_at_start_up(ws, tmp_path, renames):
    """Series BTC existed (rows 0-100); a folder import of BTC (100-200) + ETH + SOL is killed after
    1, 2 or 3 renames of its publish: the next CLI start puts the workspace back as it was."""
    from engine.data.importer import import_path

    import_path(ws, _csv(tmp_path / "BTCUSDT_15m.csv", 0, 100))
    folder = tmp_path / "folder"
    folder.mkdir()
    _csv(folder / "BTCUSDT_15m.csv", 100, 200)
    _csv(folder / "ETHUSDT_15m.csv", 0, 100, 5.0)
    _csv(folder / "SOLUSDT_15m.csv", 0, 100, 7.0)
    p = subprocess.run([sys.executable, "-c", _KILL_AFTER_RENAMES, str(folder), str(renames)], cwd=str(ROOT), check=False,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert list(ws.tmp_dir.glob("publish.*.partial"))  # the journal of the dead writer is there
    r = run_cli("catalog", "query", "--kind", "ohlcv", "--json")  # any command: the start-up cleanup runs first
    assert r.returncode == 0, r.stderr
    assert len(_rows(ws)) == 100  # the old BTC series is back, whole
    assert not ws.artifact_dir("ohlcv", "ohlcv-ETHUSDT-15m").exists()
    assert not ws.artifact_dir("ohlcv", "ohlcv-SOLUSDT-15m").exists()
    assert not list(ws.tmp_dir.glob("*.partial"))  # staging of the dead writer removed
    # and the import can simply be run again
    import_path(ws, folder)
    assert len(_rows(ws)) == 200 and ws.artifact_dir("ohlcv", "ohlcv-SOLUSDT-15m").is_dir()


def test_defect21_an_exception_while_publishing_undoes_the_moves_done(ws, tmp_path, monkeypatch):
    import storage.publish as pub
    from engine.data.importer import import_path

    import_path(ws, _csv(tmp_path / "BTCUSDT_15m.csv", 0, 100))
    folder = tmp_path / "folder"
    folder.mkdir()
    _csv(folder / "BTCUSDT_15m.csv", 100, 200)
    _csv(folder / "ETHUSDT_15m.csv", 0, 100, 5.0)
    real, n = os.rename, [0]

    def rename(a, b):
        n[0] += 1
        if n[0] == 3:
            raise OSError(28, "No space left on device")
        real(a, b)

    shim = type(os)("os_shim")
    shim.__dict__.update(os.__dict__)
    shim.rename = rename
    monkeypatch.setattr(pub, "os", shim)
    with pytest.raises(OSError):
        import_path(ws, folder)
    monkeypatch.undo()
    assert len(_rows(ws)) == 100
    assert not ws.artifact_dir("ohlcv", "ohlcv-ETHUSDT-15m").exists()
    assert not list(ws.tmp_dir.glob("*.partial"))


def test_defect21_stale_staging_only_of_dead_writers_is_cleaned_at_start_up(ws):

    ws.ensure()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = ws.tmp_dir / f"ohlcv-X.00000000.p{dead.pid}-1.partial"
    gone.mkdir()
    (gone / "ohlcv.parquet").write_bytes(b"half")
    alive = ws.staging_dir("features-being-written")  # this test process: alive
    legacy_old = ws.tmp_dir / "old.abcd1234.partial"
    legacy_old.mkdir()
    os.utime(legacy_old, (time.time() - 3 * 86400,) * 2)
    legacy_new = ws.tmp_dir / "new.abcd1234.partial"
    legacy_new.mkdir()
    ended = ws.tmp_dir / "stage2-batch-20260101-000000-abcdef.json"
    ended.write_text(json.dumps({"pairs": [{"status": "succeeded"}], "options": {}}))
    resumable = ws.tmp_dir / "stage2-batch-20260101-000000-fedcba.json"
    resumable.write_text(json.dumps({"pairs": [{"status": "pending"}], "options": {}}))
    for f in (ended, resumable):
        os.utime(f, (time.time() - 2 * 3600,) * 2)
    r = run_cli("catalog", "query", "--json")
    assert r.returncode == 0, r.stderr
    assert not gone.exists() and not legacy_old.exists() and not ended.exists()
    assert alive.is_dir() and legacy_new.is_dir() and resumable.is_file()


# -- defect 8: a manifest whose id / kind do not match its folder ------------------------------------
def test_defect8_a_manifest_claiming_another_series_id_never_shadows_it(ws, tmp_path):
    from engine.data.importer import import_path
    from storage.catalog import Catalog

    import_path(ws, _csv(tmp_path / "BTCUSDT_15m.csv", 0, 100))
    import_path(ws, _csv(tmp_path / "SOLUSDT_15m.csv", 0, 100, 7.0))
    sol = ws.artifact_dir("ohlcv", "ohlcv-SOLUSDT-15m") / "manifest.json"
    doc = json.loads(sol.read_text())
    doc["id"] = "ohlcv-BTCUSDT-15m"
    sol.write_text(json.dumps(doc))
    for cmd in (("catalog", "rebuild", "--json"), ("catalog", "refresh", "--json")):
        r = run_cli(*cmd)
        assert r.returncode == 0, r.stderr
        skipped = json.loads(r.stdout)["skipped"]
        assert [Path(s["path"]).parent.name for s in skipped] == ["ohlcv-SOLUSDT-15m"]
        assert "ohlcv-BTCUSDT-15m" in skipped[0]["reason"] and "ohlcv/ohlcv-SOLUSDT-15m" in skipped[0]["reason"]
        assert "warning: 1 manifest(s) skipped" in r.stderr
        got = Catalog(ws).get("ohlcv-BTCUSDT-15m")
        assert got["_path"].endswith("ohlcv-BTCUSDT-15m") and got["metrics"]["rows"] == 100
    ids = set(Catalog(ws).query(kind="ohlcv")["id"])
    assert ids == {"ohlcv-BTCUSDT-15m"}  # the real BTC series kept; the lying SOL manifest skipped, not indexed
    # a kind that does not match its folder is skipped the same way
    doc["id"], doc["kind"] = "ohlcv-SOLUSDT-15m", "model"
    sol.write_text(json.dumps(doc))
    r = run_cli("catalog", "refresh", "--json")
    assert "model" in json.loads(r.stdout)["skipped"][0]["reason"]


def test_the_same_id_in_two_kind_folders_is_reported_not_shadowed(ws, tmp_path):
    from storage.catalog import Catalog
    from storage.manifest import Manifest

    for kind in ("analysis", "model"):
        Manifest(id="dup-1", kind=kind).write(ws.artifact_dir(kind, "dup-1"))
    res = Catalog(ws).rebuild()
    assert len(res.skipped) == 1 and "duplicate id" in res.skipped[0]["reason"]
    assert Catalog(ws).get("dup-1")["kind"] == "analysis"  # the one find_artifact_dir resolves
    assert ws.find_artifact_dir("dup-1").parent.name == "analysis"


@pytest.mark.parametrize("page", ["features.py", "stage2.py", "backtest.py"])
def test_defect2_pages_render_with_an_ill_typed_manifest_in_the_workspace(ws, page):
    """Issue 17 defect 2: after an ill-typed manifest arrived, the Features, Stage 2 and Backtest pages raised."""
    from streamlit.testing.v1 import AppTest

    from storage.manifest import Manifest

    for kind in ("features", "stage1", "stage2", "backtest", "model"):
        d = ws.artifact_dir(kind, f"{kind}-bad")
        d.mkdir(parents=True)
        doc = Manifest(id=f"{kind}-bad", kind=kind, symbols=["BTCUSDT"], timeframe="15m").to_dict()
        doc.update(metrics=[1, 2], extra=[3], params="x")
        (d / "manifest.json").write_text(json.dumps(doc))
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
