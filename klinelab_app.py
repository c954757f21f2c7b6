"""The app as an ASGI application (``st.App``) with a Host-header guard: what ``scripts/serve.py``
(``make run``, the Docker image) starts.  It lives beside Home.py on purpose: Streamlit reads the
entry script's ``.streamlit/config.toml`` (loopback-only address, upload limits, theme) from the
folder of the file given to ``streamlit run``, whatever the current directory.

Why (issue 17, defect 11): Streamlit accepts any ``Host`` header, so a web page on
``evil.example`` whose DNS name is rebound to 127.0.0.1 could open the app's WebSocket (its
Origin then matches its Host) and drive the app - and with it the Hub token and the SSH keys it
can use.  The guard refuses every HTTP request and WebSocket upgrade whose ``Host`` is not on the
allowlist (and a WebSocket whose ``Origin`` is not either), and forbids framing the app
(``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no clickjacking).

Allowlist: ``localhost``, ``127.0.0.1`` and ``[::1]`` with the port the server listens on (read
per request: Streamlit moves to the next port when the configured one is busy), plus the entries
of ``KLINELAB_ALLOWED_HOSTS`` (comma separated; ``name`` allows that name on any port,
``name:port`` only that port) - for a reverse proxy or a different published Docker port.

The hook is Streamlit's supported one: ``st.App(..., middleware=[...])`` (Streamlit >= 1.53 runs on
Starlette/uvicorn; ``streamlit run`` on a file defining an ``st.App`` serves it with uvicorn).
The middleware is plain ASGI (a few lines, written by hand: Starlette's ``TrustedHostMiddleware``
ignores ports, cannot follow a port chosen at start-up and does not check WebSocket Origins).
"""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.middleware import Middleware

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # Home.py and its pages import engine / pages / storage from the project root
    sys.path.insert(0, str(ROOT))

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "[::1]")
FRAME_HEADERS = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]


def _port() -> int:
    try:
        from streamlit import config

        return int(config.get_option("server.port"))
    except Exception:  # noqa: BLE001 - outside a Streamlit process: the default port
        return 8501


def allowed_hosts(port: int | None = None) -> tuple[set[str], set[str]]:
    """(exact ``host:port`` entries, names allowed on any port), all lower case."""
    port = _port() if port is None else port
    exact = {f"{h}:{port}" for h in DEFAULT_HOSTS}
    if port in (80, 443):
        exact |= set(DEFAULT_HOSTS)
    from config import settings

    names: set[str] = set()
    for entry in (settings.ALLOWED_HOSTS.get() or "").split(","):
        e = entry.strip().lower()
        if not e:
            continue
        host, sep, p = e.rpartition(":") if not e.endswith("]") else ("", "", "")
        if sep and p.isdigit() and host:
            exact.add(e)
        else:
            names.add(e)
    return exact, names


def host_allowed(host: str | None, port: int | None = None) -> bool:
    if not host or len(host) > 300:
        return False
    h = host.strip().lower().rstrip(".")
    exact, names = allowed_hosts(port)
    if h in exact:
        return True
    name = h if h.endswith("]") or ":" not in h else h.rsplit(":", 1)[0]
    return name in names


class HostGuard:
    """ASGI middleware: Host allowlist on HTTP and WebSocket, Origin check on WebSocket, anti-framing headers."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        ok = host_allowed(headers.get("host"))
        if ok and kind == "websocket" and headers.get("origin") not in (None, "null"):
            ok = host_allowed(urlsplit(headers["origin"]).netloc)
        if not ok:
            if kind == "websocket":
                # closing before accepting: uvicorn answers the upgrade with HTTP 403
                await send({"type": "websocket.close", "code": 1008})
                return None
            body = (b"Invalid Host header. KlineLab answers only on localhost / 127.0.0.1 / [::1] with its port; "
                    b"behind a reverse proxy set KLINELAB_ALLOWED_HOSTS.\n")
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())] + FRAME_HEADERS})
            await send({"type": "http.response.body", "body": body})
            return None
        if kind == "websocket":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message.get("type") == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers") or []}
                extra = [(k, v) for k, v in FRAME_HEADERS if k not in names]
                message = {**message, "headers": list(message.get("headers") or []) + extra}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


# `streamlit run` finds this assignment by reading the file (AST), then serves `klinelab_app:app` with uvicorn
app = st.App(str(ROOT / "Home.py"), middleware=[Middleware(HostGuard)])
