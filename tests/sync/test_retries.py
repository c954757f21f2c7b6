"""The retry policies on tenacity: the Hub client's back-off (honouring Retry-After, transient errors
only, then mapped errors) and the remote-job follower's reconnects.  The failures are the real
exception types the clients raise; the sleeps are recorded instead of slept."""
import time

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError

from config.errors import KlineLabError, RemoteError


def http_error(status: int, retry_after: str | None = None) -> HfHubHTTPError:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    resp = httpx2.Response(status, headers=headers, request=httpx2.Request("GET", "http://127.0.0.1:9/api/x"))
    return HfHubHTTPError(f"HTTP {status}", response=resp)


@pytest.fixture
def sleeps(monkeypatch):
    got = []
    monkeypatch.setattr(time, "sleep", got.append)
    return got


def flaky(errors, result="ok"):
    calls = []

    def fn(*args, **kw):
        calls.append((args, kw))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return fn, calls


def test_hub_call_backs_off_exponentially_and_honours_retry_after(sleeps, capsys):
    from engine.hub import Hub

    hub = Hub("http://127.0.0.1:9", None, attempts=5, backoff_s=1.0, max_wait_s=30.0)
    fn, calls = flaky([http_error(503), http_error(502), http_error(429, "7")])
    assert hub.call("repo info", fn, 1, k=2) == "ok"
    assert len(calls) == 4 and calls[0] == ((1,), {"k": 2})
    assert 0.75 <= sleeps[0] <= 1.25 and 1.5 <= sleeps[1] <= 2.5 and sleeps[2] == 7.0  # 1 s, 2 s (+-25 %), Retry-After
    err = capsys.readouterr().err
    assert "repo info: HTTP 503, retrying in" in err and "(1/4)" in err and "repo info: HTTP 429, retrying in 7.0 s (3/4)" in err


def test_hub_call_gives_up_after_the_attempts_with_a_mapped_error(sleeps):
    from engine.hub import Hub

    hub = Hub("http://127.0.0.1:9", None, attempts=5, backoff_s=1.0, max_wait_s=3.0)
    fn, calls = flaky([http_error(503)] * 10)
    with pytest.raises(RemoteError, match="answered HTTP 503 after the retries") as e:
        hub.call("upload", fn)
    assert len(calls) == 5 and len(sleeps) == 4 and max(sleeps) <= 3.0 * 1.25  # capped at max_wait_s
    assert isinstance(e.value.__cause__, HfHubHTTPError)


def test_hub_call_does_not_retry_other_errors_or_when_told_not_to(sleeps):
    from engine.hub import Hub

    hub = Hub("http://127.0.0.1:9", None, attempts=5, backoff_s=1.0)
    fn, calls = flaky([http_error(412)])
    with pytest.raises(KlineLabError, match="the repository changed since the plan was made"):
        hub.call("commit", fn)
    assert len(calls) == 1
    fn, calls = flaky([http_error(503)])
    with pytest.raises(RemoteError, match="answered HTTP 503"):
        hub.call("commit", fn, retry=False)
    assert len(calls) == 1
    fn, calls = flaky([RemoteError("already ours")])
    with pytest.raises(RemoteError, match="already ours"):
        hub.call("commit", fn)
    assert len(calls) == 1 and sleeps == []


class _Client:
    def close(self):
        pass


def test_remote_follower_reconnects_with_back_off_then_gives_up(ws, monkeypatch, sleeps, capsys):
    from engine.sync import remote_jobs
    from engine.sync.ssh import HostProfile

    profile = HostProfile(name="gpu1", host="127.0.0.1", port=9, user="u")
    link = remote_jobs._Link(ws, profile)
    attempts = []

    def connect(ws, prof):
        attempts.append(prof.name)
        if len(attempts) <= 2:
            raise RemoteError("connection refused")
        return _Client()

    monkeypatch.setattr(remote_jobs, "connect", connect)
    assert isinstance(link.get(), _Client) and len(attempts) == 3 and sleeps == [1.0, 2.0]
    assert "connection to" in capsys.readouterr().err

    link.client = None
    attempts.clear()
    sleeps.clear()

    def down(ws, prof):
        attempts.append(prof.name)
        raise RemoteError("host down")

    monkeypatch.setattr(remote_jobs, "connect", down)
    with pytest.raises(RemoteError, match="host down"):
        link.get()
    assert len(attempts) == 8 and sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
