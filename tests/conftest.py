"""Shared fixtures (freqtrade-style): every test runs in its own temporary workspace
(autouse), a session-built copy of the bundled sample is available, the real data in
../shared/data is used when present and skipped with a reason when not."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout (KLINELAB_SHARED_DATA points elsewhere, e.g. from a second worktree)
SHARED_DATA = Path(os.environ.get("KLINELAB_SHARED_DATA") or (ROOT.parent / "shared" / "data")).resolve()
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KLINELAB_NO_SAMPLE", "0")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = os.environ.get("HF_HUB_OFFLINE", "0")


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest runs a page as ``__main__`` and leaves it in ``sys.modules``; a spawned
    process (the local executor's pool) then re-runs that temporary page script at start-up and dies
    (NameError: __args), so a later executor test in the same xdist worker saw every item's worker
    'die'. Put the real ``__main__`` back after each test."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def ws(tmp_path, monkeypatch):
    """A fresh, empty workspace for every test (KLINELAB_HOME points at it)."""
    from storage.workspace import Workspace

    root = tmp_path / "workspace"
    monkeypatch.setenv("KLINELAB_HOME", str(root))
    return Workspace.open(root)


@pytest.fixture(scope="session")
def _sample_template(tmp_path_factory):
    from engine.data.sources.sample import import_sample
    from storage.workspace import Workspace

    root = tmp_path_factory.mktemp("sample-template") / "workspace"
    import_sample(Workspace.open(root))
    return root


@pytest.fixture
def sample_ws(ws, _sample_template):
    """The per-test workspace, holding the bundled sample (copied from a session template)."""
    shutil.copytree(_sample_template, ws.root, dirs_exist_ok=True)
    from storage.catalog import Catalog

    Catalog(ws).rebuild()  # paths in the copied catalog point at the template
    return ws


@pytest.fixture(scope="session")
def shared_data():
    """../shared/data (real Binance candles); tests that need it skip with a reason when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is not present at {SHARED_DATA} (a fresh clone has no shared folder)")
    return SHARED_DATA


def run_cli(*args: str, env: dict | None = None, timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m engine ...`` as a user would (a real subprocess)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=str(cwd or ROOT), env=e, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture
def cli():
    return run_cli


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (for byte-for-byte checks)."""
    out = {}
    if not Path(root).exists():
        return out
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def pg_url():
    """URL of a real PostgreSQL server (started for the session), or skip with the reason."""
    url = os.environ.get("KLINELAB_TEST_PG_URL")
    if url:
        yield url
        return
    from tests.fixtures.postgres import PgServer

    try:
        srv = PgServer().start()
    except (FileNotFoundError, RuntimeError, subprocess.SubprocessError) as e:
        pytest.skip(f"no PostgreSQL server available: {e}")
    try:
        yield srv.url
    finally:
        srv.stop()


def main_json(capsys, *argv: str) -> dict:
    """Run ``python -m engine ARGV --json`` in this process (engine.cli.main), assert it succeeded
    and return its JSON document (stderr in the assertion message)."""
    import json

    from engine.cli import main

    capsys.readouterr()
    rc = main([*argv, "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err[-3000:]
    return json.loads(out.out)


def error_line(stderr: str) -> str:
    """The contract's single ``error: ...`` line of a failed command (progress lines may precede it)."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, f"expected exactly one 'error:' line, got: {stderr[-2000:]}"
    return lines[0]


# --- features (issue 3): a feature set built once per session on the bundled sample -------------
FEATURE_SAMPLE_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FEATURE_SAMPLE_START = "2025-12-10"  # the last ~4 months of the sample (15m): quick to build


@pytest.fixture(scope="session")
def sample_feature_set(_sample_template, tmp_path_factory):
    """``(workspace_root, featureset_id)``: a session workspace holding the bundled sample and a
    feature set of BTCUSDT, ETHUSDT, SOLUSDT 15m (2025-12-10 -> 2026-04-10, all families, audited).
    Read-only: tests copy it with ``feature_ws``."""
    from engine.features.pipeline import build_feature_set
    from storage.catalog import Catalog
    from storage.workspace import Workspace

    root = tmp_path_factory.mktemp("features-template") / "workspace"
    shutil.copytree(_sample_template, root)
    w = Workspace.open(root)
    Catalog(w).rebuild()
    res = build_feature_set(w, FEATURE_SAMPLE_SYMBOLS, "15m", start=FEATURE_SAMPLE_START)
    return root, res["featureset_id"]


@pytest.fixture
def feature_ws(ws, sample_feature_set):
    """The per-test workspace holding the sample and the session's feature set; returns its id."""
    root, fid = sample_feature_set
    shutil.copytree(root, ws.root, dirs_exist_ok=True)
    from storage.catalog import Catalog

    Catalog(ws).rebuild()
    return fid


# Hub-compatible HTTP server on loopback (Cloud Sync area): fixture `hub_server` with .url, .token
# (write), .read_token, .fail_next(status, ...), .commits(repo), .files(repo), .seed(repo, {...});
# it points HF_ENDPOINT (and an already-imported huggingface_hub) at itself. See tests/fixtures/hub_server.py.
from tests.fixtures.hub_server import hub_server  # noqa: F401
