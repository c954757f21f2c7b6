"""`python -m engine data import-hub` through the real huggingface_hub client against the
Hub-compatible test server, with files in the seeds' dataset layout
``klines/{SYMBOL}/{BASE}_{tf}.parquet`` carrying Binance's full kline columns (built from the
real bundled sample), plus its errors: exit 2, one ``error:`` line, workspace untouched."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli, snapshot
from tests.fixtures.klines import binance_klines, kline_file_bytes, resample, sample_candles

REPO = "klinelab/v2-crypto-ohlcv-data"


@pytest.fixture
def kline_repo(hub_server, tmp_path):
    """A dataset repo holding BTC 15m (epoch-ms times) + 1h, ETH 15m (datetime times), two months each."""
    btc = sample_candles("BTCUSDT", "2025-06-01", "2025-08-01")
    eth = sample_candles("ETHUSDT", "2025-06-01", "2025-08-01")
    files = {
        "klines/BTCUSDT/BTC_15m.parquet": kline_file_bytes(btc, "15m", tmp_path, "b15.parquet"),
        "klines/BTCUSDT/BTC_1h.parquet": kline_file_bytes(resample(btc, "1h"), "1h", tmp_path, "b1h.parquet"),
        "klines/ETHUSDT/ETH_15m.parquet": kline_file_bytes(eth, "15m", tmp_path, "e15.parquet", time_as="datetime"),
    }
    hub_server.seed(REPO, files, message="klines")
    return {"BTCUSDT": btc, "ETHUSDT": eth}


def _check_series(ws, symbol, tf, candles):
    from engine.data.store import load_candles

    got = load_candles(ws, symbol, tf)
    want = binance_klines(candles, tf)
    assert len(got) == len(want)
    assert (got.timestamp.astype("int64") // 10**6 if got.timestamp.dt.unit == "ns" else
            got.timestamp.astype("datetime64[ms, UTC]").astype("int64")).tolist() == want.open_time.tolist()
    for ours, theirs in [("open", "open"), ("high", "high"), ("low", "low"), ("close", "close"), ("volume", "volume"),
                         ("quote_volume", "quote_asset_volume"), ("trades", "number_of_trades"),
                         ("taker_buy_base", "taker_buy_base_asset_volume"),
                         ("taker_buy_quote", "taker_buy_quote_asset_volume")]:
        assert ours in got.columns, f"{ours} was not imported"
        np.testing.assert_allclose(got[ours].to_numpy(dtype=float), want[theirs].to_numpy(dtype=float), rtol=1e-12,
                                   err_msg=ours)


def test_import_hub_full_kline_columns(ws, kline_repo, hub_server):
    r = run_cli("data", "import-hub", "--repo-id", REPO, "--symbols", "BTCUSDT,ETHUSDT", "--timeframes", "15m", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert sorted((x["symbol"], x["timeframe"], x["status"]) for x in doc["imported"]) == [
        ("BTCUSDT", "15m", "created"), ("ETHUSDT", "15m", "created")]
    _check_series(ws, "BTCUSDT", "15m", kline_repo["BTCUSDT"])
    _check_series(ws, "ETHUSDT", "15m", kline_repo["ETHUSDT"])
    # the 1h file of the same repo, and a second import of the same data changes nothing
    r = run_cli("data", "import-hub", "--repo-id", REPO, "--symbols", "BTCUSDT", "--timeframes", "1h", "--json")
    assert r.returncode == 0, r.stderr
    _check_series(ws, "BTCUSDT", "1h", resample(kline_repo["BTCUSDT"], "1h"))
    before = snapshot(ws.artifacts_dir)
    r = run_cli("data", "import-hub", "--repo-id", REPO, "--symbols", "BTCUSDT", "--timeframes", "15m", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["imported"][0]["status"] == "unchanged"
    assert snapshot(ws.artifacts_dir) == before


def test_import_hub_records_provenance(ws, kline_repo):
    r = run_cli("data", "import-hub", "--repo-id", REPO, "--symbols", "BTCUSDT", "--timeframes", "15m")
    assert r.returncode == 0, r.stderr
    from storage.artifacts import read_manifest

    src = read_manifest(ws, "ohlcv-BTCUSDT-15m").params["sources"]
    assert src and src[0]["type"] == "huggingface" and src[0]["repo_id"] == REPO
    assert src[0]["filename"] == "klines/BTCUSDT/BTC_15m.parquet"


def test_import_hub_private_repo_needs_the_token(ws, hub_server, kline_repo, tmp_path):
    eth = sample_candles("ETHUSDT", "2025-06-01", "2025-07-01")
    hub_server.seed("klinelab/private-klines", {"klines/ETHUSDT/ETH_15m.parquet": kline_file_bytes(eth, "15m", tmp_path, "p.parquet")},
                    private=True)
    args = ("data", "import-hub", "--repo-id", "klinelab/private-klines", "--symbols", "ETHUSDT", "--timeframes", "15m")
    r = run_cli(*args)
    assert r.returncode == 2 and "repository not found" in r.stderr
    assert not ws.artifacts_dir.exists() or not any(ws.artifacts_dir.rglob("manifest.json"))
    r = run_cli(*args, "--json", env={"HF_TOKEN": hub_server.read_token})
    assert r.returncode == 0, r.stderr
    assert hub_server.read_token not in r.stdout + r.stderr
    _check_series(ws, "ETHUSDT", "15m", eth)


@pytest.mark.parametrize("case", ["unknown repo", "missing file", "bad symbol"])
def test_import_hub_errors_exit_2_and_write_nothing(sample_ws, hub_server, kline_repo, case):
    args = {"unknown repo": ("--repo-id", "klinelab/no-such-repo", "--symbols", "BTCUSDT", "--timeframes", "15m"),
            # BTC exists, SOL does not: nothing at all may be stored (all or nothing)
            "missing file": ("--repo-id", REPO, "--symbols", "BTCUSDT,SOLUSDT", "--timeframes", "15m"),
            "bad symbol": ("--repo-id", REPO, "--symbols", "BTC/../../x", "--timeframes", "15m")}[case]
    before = snapshot(sample_ws.root)
    r = run_cli("data", "import-hub", *args)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, r.stderr
    expected = {"unknown repo": "repository not found", "missing file": "SOLUSDT/SOL_15m.parquet: file not found",
                "bad symbol": "symbol"}[case]
    assert expected in lines[0], lines[0]
    after = snapshot(sample_ws.root)
    assert {k: v for k, v in after.items() if not k.startswith(("catalog.duckdb", "tmp/"))} == \
           {k: v for k, v in before.items() if not k.startswith(("catalog.duckdb", "tmp/"))}
    assert pd.read_parquet(sample_ws.artifact_dir("ohlcv", "ohlcv-BTCUSDT-15m") / "ohlcv.parquet").timestamp.iloc[0] \
        == pd.Timestamp("2025-04-10 17:00", tz="UTC")  # the sample's own series is untouched


def test_import_hub_unreachable_is_not_reported_as_a_missing_file(sample_ws, monkeypatch):
    """The client retries a refused connection for ~23 s (1+2+4+8+8 s of back-off); its sleeps are
    skipped here, the connection errors are real."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    from config.errors import RemoteError
    from engine.data.importer import import_sources
    from engine.data.sources.hub import HubSource

    dead = "http://127.0.0.1:9"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", dead + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(_http.time, "sleep", lambda s: None)
    before = snapshot(sample_ws.artifacts_dir)
    with pytest.raises(RemoteError, match="cannot reach the Hub at http://127.0.0.1:9"):
        import_sources(sample_ws, [HubSource(REPO, symbols=["BTCUSDT"], timeframes=["15m"])])
    assert snapshot(sample_ws.artifacts_dir) == before
