"""Browser tests: a real ``streamlit run Home.py`` on a free loopback port with the bundled
sample in a temporary workspace, driven by Playwright's Python package in Debian's
headless Chromium (``executable_path``).  Skipped with a printed reason when Chromium or
Playwright is missing (``make test`` installs Chromium via scripts/system-deps.sh)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for c in (os.environ.get("KLINELAB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if c and Path(c).exists():
            return c
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium at /usr/bin/chromium (install Debian's chromium: scripts/system-deps.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def app_workspace(tmp_path_factory):
    """A workspace with the sample imported, shared by the browser tests of the session."""
    from engine.data.sources.sample import import_sample
    from storage.workspace import Workspace

    root = tmp_path_factory.mktemp("e2e") / "workspace"
    import_sample(Workspace.open(root))
    return root


@contextmanager
def running_app(workspace: Path, env: dict[str, str] | None = None):
    """``scripts/serve.py`` (what ``make run`` starts) on a free loopback port; yields its URL.
    ``env``: more environment for the app (e.g. ``KLINELAB_NO_SAMPLE=1``: no sample imported at start)."""
    port = _free_port()
    env = dict(os.environ, KLINELAB_HOME=str(workspace), PYTHONUNBUFFERED="1", **(env or {}))
    log_path = workspace.parent / f"streamlit-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it until the finally below closes it
    proc = subprocess.Popen([sys.executable, "scripts/serve.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not become healthy in 90 s")
        yield url
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)
        log.close()


@pytest.fixture(scope="session")
def app_url(app_workspace):
    """URL of the running app shared by the browser tests (workspace: the bundled sample)."""
    with running_app(app_workspace) as url:
        yield url


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def open_page(page, url: str, path: str, *, wait_text: str | None = None, timeout: float = 60_000) -> None:
    """Open ``url/path``, wait for the app to finish running, assert no exception is shown.
    ``wait_text`` is looked for in the page's main area (not the sidebar, whose links carry the
    page names from the start)."""
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    if wait_text:
        page.locator('[data-testid="stMain"]').get_by_text(wait_text, exact=False).first.wait_for(timeout=timeout)
    wait_idle(page, timeout)
    assert_no_exception(page)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit reports the script is no longer running."""
    deadline = time.time() + timeout / 1000
    time.sleep(0.5)
    while time.time() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        if running == 0:
            time.sleep(0.3)
            if page.locator('[data-testid="stStatusWidget"]').count() == 0:
                return
        time.sleep(0.2)


def click_until(page, button, appears, *, tries: int = 3, timeout: float = 15_000) -> None:
    """Click ``button`` until ``appears`` (a locator) shows: a click that lands while a rerun is still
    being drawn can be lost on a loaded machine. The last try's timeout is raised."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        button.click()
        wait_idle(page)
        try:
            appears.wait_for(timeout=timeout)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def assert_no_exception(page) -> None:
    exc = page.locator('[data-testid="stException"]')
    if exc.count():
        raise AssertionError("the page shows an exception: " + exc.first.inner_text()[:2000])
    if page.get_by_text("Page not found").count():
        raise AssertionError(f"{page.url} is not a page of the app (Streamlit shows 'Page not found')")


def cli_json(home: Path, *args: str) -> dict:
    """``python -m engine ARGS --json`` in the app's workspace (as a user on the same machine
    would); it must succeed; returns its JSON document."""
    from tests.conftest import run_cli

    r = run_cli(*args, "--json", env={"KLINELAB_HOME": str(home)})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    p = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(p), full_page=True)
    return p
