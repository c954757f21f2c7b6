"""The one Hugging Face Hub access layer: endpoint and token resolution, retries with back-off
on 408 / 429 / 5xx / network errors (``tenacity``), and every Hub failure mapped onto one
``config.errors`` error with a message a user can act on.

Used by data import (``engine/data/sources/hub.py``), Stage 1 import
(``engine/stage2/stage1_io.py``) and Cloud Sync (``engine/sync/hub_*.py``); nothing else calls
huggingface_hub.  It imports nothing from KlineLab but ``config`` and ``engine.progress``, so any
area may use it without an import cycle.

The token comes from (first found): an explicit value (the page's session-only password
field, passed to jobs through the environment), ``--token-file``, ``HF_TOKEN``, or the
client's own stored login (``hf auth login``).  It is held in memory only: never logged,
never put into manifests, the catalog, job files, sync history or reports.

huggingface_hub retries some requests itself (a failed ``HEAD`` of a download, listing calls),
but not the ``GET`` of a file's content: one 503 there failed a data or Stage 1 import before
this layer retried it.
"""
from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from config import settings
from config.errors import BadInput, Conflict, KlineLabError, NotFound, Refused, RemoteError

T = TypeVar("T")
RETRY_STATUS = (408, 429, 500, 502, 503, 504)
REPO_TYPES = ("dataset", "model")
DEFAULT_REPO = "zongowo111/v2-crypto-ohlcv-data"  # the seeds' dataset: klines/ and v1_model/ layouts
TOKEN_HINT = "set HF_TOKEN, pass --token-file FILE, or enter it in the page's token field"


def endpoint(explicit: str | None = None) -> str:
    from huggingface_hub import constants

    url = explicit or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"invalid Hub endpoint {url!r}", hint="use a URL such as https://huggingface.co")
    return url.rstrip("/")


def resolve_token(token: str | None = None, token_file: str | None = None) -> str | None:
    if token:
        return token.strip()
    if token_file:
        from config.bounded import read_small_text

        p = Path(token_file).expanduser()
        # a regular file of at most 64 KB (a token is ~40 bytes): /dev/zero or a FIFO is refused unread
        value = read_small_text(p, "token file").strip()
        if not value:
            raise BadInput(f"the token file {p} is empty")
        return value
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"].strip()
    from huggingface_hub import get_token

    return get_token()


def check_repo_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}", repo_id) \
            or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise BadInput(f"invalid repo id {repo_id!r}", hint="use owner/name, e.g. my-user/klinelab-data")
    return repo_id


def check_repo_type(repo_type: str) -> str:
    if repo_type not in REPO_TYPES:
        raise BadInput(f"invalid repo type {repo_type!r}", hint="use dataset (default) or model")
    return repo_type


# -- what a failure was --------------------------------------------------------------------------
def _underlying(e: BaseException) -> BaseException:
    """The HTTP / network error behind a failed download: huggingface_hub reports a HEAD call that
    kept failing (5xx, connection refused) as ``LocalEntryNotFoundError`` raised from it."""
    from huggingface_hub import errors as hfe

    if isinstance(e, hfe.LocalEntryNotFoundError) and e.__cause__ is not None:
        return e.__cause__
    return e


def _status(e: BaseException) -> int | None:
    resp = getattr(_underlying(e), "response", None)
    return getattr(resp, "status_code", None)


def _retry_after(e: BaseException) -> float | None:
    resp = getattr(_underlying(e), "response", None)
    value = getattr(resp, "headers", {}).get("Retry-After") if resp is not None else None
    return float(value) if value and value.strip().isdigit() else None


def _network(e: BaseException) -> bool:
    return type(e).__module__.startswith(("httpx", "httpcore")) and any(
        k in type(e).__name__ for k in ("Timeout", "Connect", "Network", "RemoteProtocol", "ReadError"))


def transient(e: BaseException) -> bool:
    """Worth another attempt: 408 / 429 / 5xx, or the network failed (also behind a failed download)."""
    if isinstance(e, KlineLabError):
        return False
    return _status(e) in RETRY_STATUS or _network(_underlying(e))


def hub_error(e: BaseException, what: str, url: str) -> KlineLabError:
    """The one KlineLab error for a failed Hub call; ``what`` names the call (messages never carry the token)."""
    if isinstance(e, KlineLabError):
        return e
    from huggingface_hub import errors as hfe

    status = _status(e)
    if status == 412:
        return Conflict(f"{what}: the repository changed since the plan was made",
                        hint="plan again (another upload or delete happened in between)")
    if status == 429:
        return RemoteError(f"{what}: the Hub is rate limiting (HTTP 429) and kept refusing after the retries",
                           hint="wait a few minutes and run it again")
    if isinstance(e, hfe.GatedRepoError):
        return RemoteError(f"{what}: the repository is gated; accept its terms on the Hub and use a token",
                           hint=TOKEN_HINT)
    if status in (401, 403) and not isinstance(e, hfe.RepositoryNotFoundError):
        return Refused(f"{what}: the Hub refused the token (HTTP {status}): it is missing, invalid or read-only",
                       hint=f"use a token with access to the repository (write access to change it): {TOKEN_HINT}")
    if isinstance(e, hfe.RepositoryNotFoundError):
        return NotFound(f"{what}: repository not found on {url} (or it is private and no valid token was given)",
                        hint="check the repo id and type; set HF_TOKEN for private repos")
    if isinstance(e, (hfe.LocalEntryNotFoundError, hfe.OfflineModeIsEnabled)) or transient(e):
        # LocalEntryNotFoundError subclasses EntryNotFoundError: told apart from "file not found" first
        cause = e.__cause__ or e.__context__ or e
        if status:
            return RemoteError(f"{what}: the Hub at {url} answered HTTP {status} after the retries",
                               hint="the Hub has a problem; try again later")
        return RemoteError(f"{what}: cannot reach the Hub at {url} ({type(cause).__name__}: {str(cause)[:160]})",
                           hint="check the network connection and HF_ENDPOINT")
    if isinstance(e, hfe.RevisionNotFoundError):
        return NotFound(f"{what}: revision not found")
    if isinstance(e, (hfe.EntryNotFoundError, hfe.RemoteEntryNotFoundError)):
        return NotFound(f"{what}: file not found in the repository")
    if isinstance(e, hfe.HfHubHTTPError):
        return RemoteError(f"{what}: the Hub answered HTTP {status or '?'}: {str(e).splitlines()[0][:200]}")
    if isinstance(e, (ConnectionError, OSError, TimeoutError)):
        return RemoteError(f"{what}: cannot reach the Hub at {url} ({type(e).__name__}: {str(e)[:160]})")
    return RemoteError(f"{what}: {type(e).__name__}: {e}")


# -- the client ----------------------------------------------------------------------------------
@dataclass
class Hub:
    """An HfApi bound to one endpoint and token, whose calls are retried and mapped."""

    url: str
    token: str | None
    attempts: int = 5
    backoff_s: float = field(default_factory=settings.HUB_BACKOFF_S.get)
    max_wait_s: float = 30.0
    _api: Any = field(default=None, init=False, repr=False)

    @classmethod
    def connect(cls, *, endpoint_url: str | None = None, token: str | None = None, token_file: str | None = None) -> Hub:
        return cls(endpoint(endpoint_url), resolve_token(token, token_file))

    @property
    def api(self):
        from huggingface_hub import HfApi

        if self._api is None:
            self._api = HfApi(endpoint=self.url, token=self.token if self.token else False)
        return self._api

    def need_token(self, what: str) -> None:
        if not self.token:
            raise Refused(f"{what} needs a Hugging Face token with write access", hint=TOKEN_HINT)

    def call(self, what: str, fn: Callable[..., T], *args: Any, retry: bool = True, **kw: Any) -> T:
        """``fn(*args, **kw)``; 408 / 429 / 5xx / network errors are retried with exponential back-off
        (honouring ``Retry-After``; ``tenacity``), then every failure becomes a KlineLab error."""
        import tenacity

        from engine.progress import progress

        def wait(rs: tenacity.RetryCallState) -> float:
            after = _retry_after(rs.outcome.exception())
            if after is not None:
                return after
            return min(self.max_wait_s, self.backoff_s * 2 ** (rs.attempt_number - 1)) * (0.75 + 0.5 * random.random())

        def note(rs: tenacity.RetryCallState) -> None:
            e = rs.outcome.exception()
            progress(None, f"{what}: {('HTTP ' + str(_status(e))) if _status(e) else type(_underlying(e)).__name__}, "
                           f"retrying in {rs.next_action.sleep:.1f} s ({rs.attempt_number}/{self.attempts - 1})")

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts if retry else 1), wait=wait, before_sleep=note,
            retry=tenacity.retry_if_exception(transient), sleep=time.sleep, reraise=True)
        try:
            return retrying(fn, *args, **kw)
        except KlineLabError:
            raise
        except Exception as e:  # mapped here
            raise hub_error(e, what, self.url) from e

    # -- the calls KlineLab makes ------------------------------------------------------
    def head(self, repo_id: str, repo_type: str, revision: str | None = None) -> str | None:
        """The commit the revision points to, or None if the repo does not exist."""
        from huggingface_hub import errors as hfe

        try:
            info = self.call(f"{repo_id}: repository info", self._info_raw, repo_id, repo_type, revision)
        except NotFound as e:
            if isinstance(e.__cause__, hfe.RevisionNotFoundError):
                raise
            return None
        return info.sha

    def _info_raw(self, repo_id: str, repo_type: str, revision: str | None):
        return self.api.repo_info(repo_id, repo_type=repo_type, revision=revision)

    def whoami(self) -> dict:
        if not self.token:
            raise Refused("no Hugging Face token given", hint="set HF_TOKEN, --token-file, or the page's token field")
        return self.call("token check", self.api.whoami)

    def tree(self, repo_id: str, repo_type: str, revision: str | None, prefix: str = "") -> dict[str, dict]:
        """path -> {size, lfs_sha256, oid} of every file under ``prefix`` ({} when it does not exist)."""
        from huggingface_hub import errors as hfe
        from huggingface_hub.hf_api import RepoFile

        def listing():
            try:
                return list(self.api.list_repo_tree(repo_id, prefix.rstrip("/") or None, recursive=True,
                                                    repo_type=repo_type, revision=revision))
            except hfe.RemoteEntryNotFoundError:
                return []

        out = {}
        for f in self.call(f"{repo_id}: listing {prefix or 'the repository'}", listing):
            if isinstance(f, RepoFile):
                out[f.path] = {"size": f.size, "lfs_sha256": f.lfs.sha256 if f.lfs else None, "oid": f.blob_id}
        return out

    def create_repo(self, repo_id: str, repo_type: str, *, private: bool) -> None:
        self.call(f"{repo_id}: creating the repository", self.api.create_repo, repo_id, repo_type=repo_type,
                  private=private, exist_ok=True)

    def download(self, repo_id: str, repo_type: str, revision: str | None, path: str, local_dir: Path,
                 what: str | None = None) -> Path:
        """One file into ``local_dir/path`` (an interrupted attempt is resumed by the next one)."""
        return Path(self.call(what or f"{repo_id}/{path}: download", self.api.hf_hub_download, repo_id, path,
                              repo_type=repo_type, revision=revision, local_dir=str(local_dir)))
