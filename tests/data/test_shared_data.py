"""Every candle file in ../shared/data: imported (or refused with the exact reason), and the
canonical output matches the source bar for bar; 15m and 1m roll up exactly into the
independent 1h files."""
import json

import numpy as np
import pandas as pd
import pytest

from engine.data.names import parse_file_name
from engine.data.resample import resample
from engine.data.store import load_candles, load_funding
from tests.conftest import run_cli

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

EXPECTED_REFUSALS = {
    "SOURCES.json": "missing column(s)",
    "XAUUSD_H1_mt5.csv": "MetaTrader export",
    "XRP_ETH-trades.feather": "individual trades",
    "public_trades_list.csv": "individual trades",
    "orderflow_candles.json": "--symbol",
    # perpetual candles named like spot ones: the conflict with the spot series is explained
    "BTCUSDT_15m_365.csv": "overlapping bars differ",
    "ETHUSDT_15m_365.csv": "overlapping bars differ",
    # external-formats/ (real files from other tools; each is also tested alone in test_external_formats.py):
    # no symbol in the name; and freqtrade's BTC/USDT 1h disagrees with Binance's own 1h dump on the low of
    # 2 bars (2021-01-11 08:00: 34249 vs 34101), so it is refused against the stored series, never merged
    "brenda_crypto_data.csv": "--symbol",
    "BTC_USDT-1h.json": "overlapping bars differ",
}


def _read_source(path):
    if path.suffix == ".feather":
        df = pd.read_feather(path)
    elif path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path)
    tcol = next(c for c in ("timestamp", "date", "time") if c in df.columns)
    t = df[tcol]
    if pd.api.types.is_integer_dtype(t):
        t = pd.to_datetime(t, unit="ms", utc=True)
    else:
        t = pd.to_datetime(t, utc=True)
    return df.assign(timestamp=t)


@pytest.fixture(scope="module")
def imported(tmp_path_factory, shared_data):
    home = tmp_path_factory.mktemp("shared") / "workspace"
    r = run_cli("data", "import", str(shared_data), "--skip-bad", "--json", env={"KLINELAB_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    return home, json.loads(r.stdout)


def test_every_file_is_imported_or_refused_with_the_reason(imported, shared_data):
    _home, out = imported
    skipped = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in out["skipped"]}
    assert set(skipped) == set(EXPECTED_REFUSALS), skipped
    for name, needle in EXPECTED_REFUSALS.items():
        assert needle in skipped[name], (name, skipped[name])
    assert sorted(p.rsplit("/", 1)[-1] for p in out["ignored"] if not p.endswith(".h5")) == ["README.md", "README.md"]
    ids = {x["id"] for x in out["imported"]}
    assert {"ohlcv-BTCUSDT-15m", "ohlcv-BTCUSDT-1h", "ohlcv-BTCUSDT-1m", "ohlcv-BTCUSDT-PERP-15m",
            "ohlcv-BTCUSDT-PERP-funding", "ohlcv-PAXGUSDT-1h", "ohlcv-DOTUSDT-15m"} <= ids


def test_canonical_output_matches_every_source_bar_for_bar(imported, shared_data):
    from storage.workspace import Workspace

    home, _ = imported
    ws = Workspace.open(home)
    checked = 0
    for path in sorted(shared_data.rglob("*")):
        if path.suffix not in (".parquet", ".feather", ".csv") or path.name in EXPECTED_REFUSALS:
            continue
        if "external-formats" in path.parts:  # other tools' layouts: compared bar for bar in test_external_formats.py
            continue
        info = parse_file_name(path)
        src = _read_source(path)
        if info.market == "funding":
            got = load_funding(ws, info.symbol).set_index("timestamp")
            np.testing.assert_array_equal(got.loc[src.timestamp, "funding_rate"].to_numpy(), src["open"].to_numpy())
            checked += 1
            continue
        got = load_candles(ws, info.symbol, info.timeframe)
        from engine.data.canonical import ts_ns

        g_ns, s_ns = ts_ns(got.timestamp), ts_ns(src.timestamp)
        idx = np.searchsorted(g_ns, s_ns)
        assert (idx < len(g_ns)).all() and (g_ns[np.minimum(idx, len(g_ns) - 1)] == s_ns).all(), path.name
        got = got.iloc[idx]
        for c in ("open", "high", "low", "close", "volume"):
            a, b = got[c].to_numpy(), src[c].to_numpy()
            same = a == b
            # a bar caught while still open (the source's last bar) is stored in its finished form
            if not same.all():
                assert np.flatnonzero(~same).tolist() == [len(src) - 1], (path.name, c)
        checked += 1
    assert checked >= 50


def test_15m_and_1m_roll_up_exactly_into_the_independent_1h_files(imported, shared_data):
    """binance-perp-15m-funding: 15m futures -> 1h equals the 1h futures file; 1m spot -> 1h equals the 1h spot file."""
    from storage.workspace import Workspace

    home, _ = imported
    ws = Workspace.open(home)
    f15 = pd.read_feather(shared_data / "binance-perp-15m-funding" / "ETH_USDT_USDT-15m-futures.feather").rename(columns={"date": "timestamp"})
    f1h = pd.read_feather(shared_data / "binance-perp-15m-funding" / "ETH_USDT_USDT-1h-futures.feather").rename(columns={"date": "timestamp"})
    out, _dropped = resample(f15, "15m", "1h")
    both = out.merge(f1h, on="timestamp", suffixes=("", "_ref"))
    assert len(both) > 20000
    # Three hours of 20,339 differ, all real incidents in the source files, none a resampling error:
    # the 15m export filled an outage (2024-10-28 20:00-20:45) with flat zero-volume bars (the validator
    # reports them as "filled_bars"), its 21:00 bar starts mid-hour after the outage, and the two exports
    # disagree on the 2025-01-14 15:00 hour's low.  The exports also disagree on the volume of 9 hours
    # (data revised by the exchange between the two downloads); all other hours match exactly.
    bad = np.zeros(len(both), dtype=bool)
    for c in ("open", "high", "low", "close"):
        bad |= both[c].to_numpy() != both[f"{c}_ref"].to_numpy()
    assert set(both.timestamp[bad].dt.strftime("%Y-%m-%d %H:%M")) == {"2024-10-28 20:00", "2024-10-28 21:00", "2025-01-14 15:00"}
    vol_bad = ~np.isclose(both["volume"].to_numpy(), both["volume_ref"].to_numpy(), rtol=1e-9)
    assert vol_bad.sum() == 9 and (bad <= vol_bad).all()
    flat = (f15.open == f15.high) & (f15.high == f15.low) & (f15.low == f15.close) & (f15.volume == 0)
    assert set(f15.timestamp[flat].dt.floor("1h").dt.strftime("%Y-%m-%d %H:%M")) == {"2024-10-28 20:00"}
    m1 = load_candles(ws, "BTCUSDT", "1m")
    h1 = load_candles(ws, "BTCUSDT", "1h")
    out, _dropped = resample(m1, "1m", "1h")
    both = out.merge(h1, on="timestamp", suffixes=("", "_ref"))
    assert len(both) > 2000
    for c in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(both[c].to_numpy(), both[f"{c}_ref"].to_numpy())
    np.testing.assert_allclose(both["volume"].to_numpy(), both["volume_ref"].to_numpy(), rtol=1e-6)


def test_resample_command_merges_into_an_agreeing_series(imported):
    home, _ = imported
    r = run_cli("data", "resample", "BTCUSDT", "--from", "1m", "--to", "1h", "--json", env={"KLINELAB_HOME": str(home)})
    assert r.returncode == 0, r.stderr  # agrees with the independent 1h data already stored
    assert json.loads(r.stdout)["status"] in ("unchanged", "updated")
