"""Issue 17, defect 11: the server started the way ``make run`` and the Docker image start it
(``scripts/serve.py``) answers only to allowed Host headers, on HTTP and on the WebSocket
(DNS rebinding), checks the WebSocket's Origin, and forbids framing.  Real requests against a
real server on a free loopback port."""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

EXTRA_HOSTS = "klinelab.example.org,proxy.internal:9443"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw(port: int, request: str) -> str:
    """Send a raw HTTP/1.1 request (any Host header) and return the status line and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(request.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode("latin-1")


def get(port: int, host: str, path: str = "/") -> tuple[int, dict[str, str]]:
    head = _raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ":" in ln)}
    return int(lines[0].split()[1]), headers


def ws_upgrade(port: int, host: str, origin: str | None) -> int:
    key = base64.b64encode(os.urandom(16)).decode()
    head = _raw(port, f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n"
                      + (f"Origin: {origin}\r\n" if origin else "") + "\r\n")
    return int(head.split()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    home = tmp_path_factory.mktemp("guard") / "workspace"
    env = dict(os.environ, KLINELAB_HOME=str(home), PYTHONUNBUFFERED="1", KLINELAB_ALLOWED_HOSTS=EXTRA_HOSTS)
    log_path = home.parent / "serve.log"
    with open(log_path, "wb") as log:
        # started from another folder: the project's .streamlit/config.toml (loopback address) must still apply
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "--server.port", str(port),
                                 "--server.headless", "true"], cwd=str(home.parent), env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve.py exited: {log_path.read_text()[-2000:]}")
            try:
                # what the Docker HEALTHCHECK does (Host: 127.0.0.1:<port>)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"serve.py not healthy in 90 s: {log_path.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield port
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (psutil reads the kernel's socket table)."""
    import psutil

    return {c.laddr.ip for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port}


def test_binds_loopback_only_from_any_working_directory(server):
    addrs = _listening_addresses(server)
    if not addrs:
        pytest.skip("the socket table is not readable here (psutil found no listening socket)")
    assert addrs == {"127.0.0.1"}, addrs  # not 0.0.0.0 / ::


def test_http_allowlist_and_anti_framing_headers(server):
    port = server
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LOCALHOST:{port}",
                 "klinelab.example.org", "klinelab.example.org:443", "proxy.internal:9443"):
        status, headers = get(port, host)
        assert status == 200, host
        assert headers.get("x-frame-options") == "DENY", headers
        assert headers.get("content-security-policy") == "frame-ancestors 'none'", headers
    status, headers = get(port, f"localhost:{port}", "/_stcore/health")
    assert status == 200 and headers.get("x-frame-options") == "DENY"
    for host in (f"evil.example:{port}", "evil.example", f"localhost:{port + 1}", "localhost", "proxy.internal:9444",
                 f"127.0.0.1.evil.example:{port}", f"localhost:{port}@evil.example", "x" * 5000):
        status, headers = get(port, host)
        assert status == 400, host
        assert headers.get("x-frame-options") == "DENY"
    assert get(port, f"evil.example:{port}", "/_stcore/health")[0] == 400
    # no Host header at all (HTTP/1.0)
    head = _raw(port, "GET / HTTP/1.0\r\n\r\n")
    assert head.split()[1] == "400"


def test_websocket_dns_rebinding_is_refused(server):
    port = server
    # the reported attack: a page on evil.example rebound to 127.0.0.1 (its Origin matches its Host)
    assert ws_upgrade(port, f"evil.example:{port}", f"http://evil.example:{port}") == 403
    # a good Host but a foreign page's Origin (cross-site WebSocket hijacking)
    assert ws_upgrade(port, f"localhost:{port}", f"http://evil.example:{port}") == 403
    assert ws_upgrade(port, f"localhost:{port}", "https://klinelab.example.org.evil.example") == 403
    # the app itself (and a reverse proxy from the allowlist) still connect
    assert ws_upgrade(port, f"localhost:{port}", f"http://localhost:{port}") == 101
    assert ws_upgrade(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101
    assert ws_upgrade(port, "klinelab.example.org", "https://klinelab.example.org") == 101
    assert ws_upgrade(port, f"localhost:{port}", None) == 101  # non-browser clients send no Origin
