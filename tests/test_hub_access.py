"""The one Hub access layer (engine/hub.py) as data import and Stage 1 import use it: a transient
5xx on the GET of a file's content (which huggingface_hub itself does not retry) is retried with
back-off and the import goes through; a Hub that keeps failing gives one mapped error and writes
nothing.  Real huggingface_hub client, real Hub-compatible server on loopback (``hub_server``,
whose ``fail_next`` answers the matching requests with the status); the back-off sleeps are
recorded instead of slept."""
from __future__ import annotations

import time

import pytest

from config.errors import RemoteError
from tests.conftest import snapshot
from tests.fixtures.klines import kline_file_bytes, sample_candles

REPO = "klinelab/v2-crypto-ohlcv-data"


@pytest.fixture
def sleeps(monkeypatch):
    got: list[float] = []
    monkeypatch.setattr(time, "sleep", got.append)
    return got


@pytest.fixture
def kline_repo(hub_server, tmp_path):
    btc = sample_candles("BTCUSDT", "2025-06-01", "2025-07-01")
    hub_server.seed(REPO, {"klines/BTCUSDT/BTC_15m.parquet": kline_file_bytes(btc, "15m", tmp_path, "b.parquet")})
    return btc


def _content_gets(hub_server, name: str) -> list[int]:
    return [status for method, path, status in hub_server.requests("GET", name) if "/resolve/" in path]


def test_data_import_retries_a_transient_5xx(ws, hub_server, kline_repo, sleeps):
    from engine.data.importer import import_sources
    from engine.data.sources.hub import HubSource
    from engine.data.store import load_candles

    hub_server.fail_next(503, match=r"^GET .*/resolve/.*BTC_15m\.parquet", times=2)
    import_sources(ws, [HubSource(REPO, symbols=["BTCUSDT"], timeframes=["15m"])])
    assert _content_gets(hub_server, "BTC_15m.parquet") == [503, 503, 200]
    assert len(sleeps) == 2 and 0.75 <= sleeps[0] <= 1.25 and 1.5 <= sleeps[1] <= 2.5  # 1 s, 2 s (+-25 %)
    assert len(load_candles(ws, "BTCUSDT", "15m")) == len(kline_repo)


def test_data_import_gives_up_with_one_mapped_error_and_writes_nothing(ws, hub_server, kline_repo, sleeps):
    from engine.data.importer import import_sources
    from engine.data.sources.hub import HubSource

    before = snapshot(ws.root)
    hub_server.fail_next(502, match=r"^GET .*/resolve/.*BTC_15m\.parquet", times=50)
    with pytest.raises(RemoteError, match=f"{REPO}/klines/BTCUSDT/BTC_15m.parquet: the Hub at .* answered HTTP 502 "
                                          "after the retries"):
        import_sources(ws, [HubSource(REPO, symbols=["BTCUSDT"], timeframes=["15m"])])
    assert _content_gets(hub_server, "BTC_15m.parquet") == [502] * 5 and len(sleeps) == 4
    assert snapshot(ws.root) == before


def test_stage1_import_retries_a_transient_5xx(ws, hub_server, tmp_path, sleeps):
    from engine.stage2.stage1_io import import_stage1
    from tests.stage2.helpers import FEATURES, seed_model

    folder = seed_model(tmp_path / "m", classes=5)
    hub_server.seed(REPO, {"v1_model/BTCUSDT/15m/classification.h5": folder / "classification.h5",
                           "v1_model/BTCUSDT/15m/params.json": folder / "params.json"})
    hub_server.fail_next(500, match=r"^GET .*/resolve/.*classification\.h5", times=1)
    hub_server.fail_next(503, match=r"^GET .*/resolve/.*params\.json", times=1, retry_after=3)
    res = import_stage1(ws, REPO, "BTCUSDT", "15m", feature_names=FEATURES)
    assert _content_gets(hub_server, "classification.h5") == [500, 200]
    assert _content_gets(hub_server, "params.json") == [503, 200]
    assert 0.75 <= sleeps[0] <= 1.25 and sleeps[1] == 3.0  # back-off, then the server's Retry-After
    d = ws.artifact_dir("stage1", res["stage1_id"]) / "v1_model/BTCUSDT/15m"
    assert (d / "classification.h5").read_bytes() == (folder / "classification.h5").read_bytes()


def test_a_download_whose_head_kept_failing_is_mapped_by_its_cause():
    """huggingface_hub reports a HEAD that failed after its own retries as LocalEntryNotFoundError raised
    from the HTTP error: the layer retries it and names the status, not "file not found"."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from engine.hub import hub_error, transient

    resp = httpx2.Response(503, request=httpx2.Request("HEAD", "http://127.0.0.1:9/x"))
    try:
        try:
            raise HfHubHTTPError("HTTP 503", response=resp)
        except HfHubHTTPError as cause:
            raise LocalEntryNotFoundError("cannot find the requested files") from cause
    except LocalEntryNotFoundError as e:
        err = e
    assert transient(err) and not transient(LocalEntryNotFoundError("no cause: offline mode"))
    mapped = hub_error(err, "a/b/x.parquet", "http://127.0.0.1:9")
    assert isinstance(mapped, RemoteError) and "answered HTTP 503 after the retries" in str(mapped)


def _http(cls, status: int):
    import httpx2

    resp = httpx2.Response(status, request=httpx2.Request("GET", "http://127.0.0.1:9/api/x"))
    return cls(f"HTTP {status}", response=resp)


def test_one_error_mapping_for_every_caller():
    """Each failure the client raises becomes one KlineLab error whose class and message say what to do."""
    import httpx2
    from huggingface_hub import errors as hfe

    from config.errors import Conflict, NotFound, Refused
    from engine.hub import hub_error

    url = "http://127.0.0.1:9"
    cases = [
        (_http(hfe.HfHubHTTPError, 412), Conflict, "changed since the plan was made"),
        (_http(hfe.HfHubHTTPError, 429), RemoteError, "rate limiting (HTTP 429)"),
        (_http(hfe.HfHubHTTPError, 401), Refused, "refused the token (HTTP 401)"),
        (_http(hfe.HfHubHTTPError, 403), Refused, "refused the token (HTTP 403)"),
        (_http(hfe.GatedRepoError, 403), RemoteError, "the repository is gated"),
        (_http(hfe.RepositoryNotFoundError, 404), NotFound, f"repository not found on {url}"),
        (_http(hfe.RevisionNotFoundError, 404), NotFound, "revision not found"),
        (_http(hfe.RemoteEntryNotFoundError, 404), NotFound, "file not found in the repository"),
        (hfe.EntryNotFoundError("x"), NotFound, "file not found in the repository"),
        (_http(hfe.HfHubHTTPError, 503), RemoteError, f"the Hub at {url} answered HTTP 503 after the retries"),
        (_http(hfe.HfHubHTTPError, 418), RemoteError, "the Hub answered HTTP 418"),
        (httpx2.ConnectError("connection refused"), RemoteError, f"cannot reach the Hub at {url} (ConnectError"),
    ]
    for err, cls, text in cases:
        mapped = hub_error(err, "a/b/x.parquet", url)
        assert type(mapped) is cls and mapped.message.startswith("a/b/x.parquet: ") and text in mapped.message, \
            (type(err).__name__, type(mapped).__name__, mapped.message)
    already = NotFound("ours")
    assert hub_error(already, "x", url) is already
