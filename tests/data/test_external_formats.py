"""Candle formats other tools write (issue 13 item 3): freqtrade JSON (and .json.gz), CryptoDataDownload
CSVs (banner line, newest bar first), Yahoo Finance daily CSVs, Binance REST klines with synonym headers,
the Hub's Binance.US parquet as the seed's updater writes it, and the partial-last-bar rule judged
against the timeframe and the export time.

Each format is tested twice: on the real files in ../shared/data/external-formats/ (skipped when the
shared folder is absent) and on small files the tests write themselves from the bundled real candles, so
a fresh clone tests them too."""
from __future__ import annotations

import gzip
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from engine.data.importer import import_path
from engine.data.resample import resample
from engine.data.store import load_candles
from tests.conftest import error_line, run_cli, snapshot
from tests.data.corpus import real_candles

EXT = "external-formats"


def assert_bars(stored: pd.DataFrame, ts_ms, o, h, lo, c, v) -> None:
    assert len(stored) == len(ts_ms)
    np.testing.assert_array_equal(pd.DatetimeIndex(stored.timestamp).as_unit("ms").asi8, np.asarray(ts_ms, dtype="int64"))
    for col, want in zip(("open", "high", "low", "close", "volume"), (o, h, lo, c, v)):
        np.testing.assert_array_equal(stored[col].to_numpy(), np.asarray(want, dtype="float64"), err_msg=col)


def daily_candles(n: int = 120) -> pd.DataFrame:
    """Real daily bars: the bundled 15m sample rolled up exactly."""
    out, _ = resample(real_candles(35040).drop(columns="amount"), "15m", "1d")
    return out.head(n).reset_index(drop=True)


def ms(ts) -> np.ndarray:
    return pd.DatetimeIndex(ts).as_unit("ms").asi8


def findings(res, check: str) -> list[dict]:
    return [f for r in res.reports for f in r["findings"] if f["check"] == check]


def notes(res) -> list[str]:
    return [n for r in res.reports for n in r["notes"]]


# --- freqtrade JSON ------------------------------------------------------------------------------
def write_freqtrade_json(df: pd.DataFrame, path, gz: bool = False):
    rows = [[int(t), o, h, lo, c, v] for t, o, h, lo, c, v in zip(ms(df.timestamp), df.open, df.high, df.low, df.close, df.volume)]
    data = json.dumps(rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("fmt", ["auto", "freqtrade"])
def test_freqtrade_json_auto_and_freqtrade_format(ws, tmp_path, fmt, gz):
    src = real_candles(300)
    p = write_freqtrade_json(src, tmp_path / ("BTC_USDT-15m.json" + (".gz" if gz else "")), gz=gz)
    res = import_path(ws, p, source_format=fmt)
    assert res.imported[0].symbol == "BTCUSDT" and res.imported[0].timeframe == "15m"
    assert any("freqtrade JSON candles" in n for n in notes(res))
    assert_bars(load_candles(ws, "BTCUSDT", "15m"), ms(src.timestamp), src.open, src.high, src.low, src.close, src.volume)


def test_freqtrade_format_still_reads_feather(ws, tmp_path):
    src = real_candles(200)
    p = tmp_path / "ETH_USDT-15m.feather"
    src.rename(columns={"timestamp": "date"}).drop(columns="amount").to_feather(p)
    import_path(ws, p, source_format="freqtrade")
    assert len(load_candles(ws, "ETHUSDT", "15m")) == 200


def test_real_freqtrade_json(ws, shared_data, tmp_path):
    f = shared_data / EXT / "BTC_USDT-1h.json"
    rows = json.loads(f.read_text())
    a = np.array(rows, dtype="float64")
    for fmt in ("auto", "freqtrade"):
        r = run_cli("data", "validate", str(f), "--source-format", fmt)
        assert r.returncode == 0, r.stderr
        assert "4090 rows, 1h" in r.stdout
    g = tmp_path / "BTC_USDT-1h.json.gz"
    g.write_bytes(gzip.compress(f.read_bytes()))
    for p in (f, g):
        res = import_path(ws, p, replace=True)
        assert res.imported[0].rows == 4090 == len(rows)
        assert_bars(load_candles(ws, "BTCUSDT", "1h"), a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5])


# --- CryptoDataDownload --------------------------------------------------------------------------
def test_cryptodatadownload_banner_newest_first_unix_column(ws, tmp_path):
    src = real_candles(200)
    lines = ["https://www.CryptoDataDownload.com", "Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount"]
    for i in range(len(src) - 1, -1, -1):  # newest bar first
        r = src.iloc[i]
        lines.append(f"{ms([r.timestamp])[0]},{r.timestamp:%Y-%m-%d %H:%M:%S},BTC/USDT,{r.open},{r.high},{r.low},{r.close},"
                     f"{r.volume},{r.amount},{100 + i}")
    p = tmp_path / "Binance_BTCUSDT_15m.csv"
    p.write_text("\n".join(lines) + "\n")
    res = import_path(ws, p)
    assert res.imported[0].symbol == "BTCUSDT" and res.imported[0].timeframe == "15m"
    n = notes(res)
    assert any("skipped 1 line(s) before the header" in x and "CryptoDataDownload" in x for x in n), n
    assert any("newest bar first" in x for x in n), n
    got = load_candles(ws, "BTCUSDT", "15m")
    assert_bars(got, ms(src.timestamp), src.open, src.high, src.low, src.close, src.volume)
    np.testing.assert_array_equal(got.quote_volume.to_numpy(), src.amount.to_numpy())
    np.testing.assert_array_equal(got.trades.to_numpy(), np.arange(len(src)) + 100.0)


def test_newest_first_with_a_duplicate_is_still_refused(ws, tmp_path):
    src = real_candles(50)
    rows = [f"{t:%Y-%m-%d %H:%M:%S},{o},{h},{lo},{c},{v}" for t, o, h, lo, c, v in
            zip(src.timestamp, src.open, src.high, src.low, src.close, src.volume)][::-1]
    rows.insert(10, rows[10])
    p = tmp_path / "BTCUSDT_15m.csv"
    p.write_text("time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    r = run_cli("data", "import", str(p))
    assert r.returncode == 2 and "duplicate timestamp" in error_line(r.stderr)


def test_real_cryptodatadownload_export(ws, shared_data):
    f = shared_data / EXT / "gemini_BTCUSD_1d.csv"
    ref = pd.read_csv(f, skiprows=1).iloc[::-1].reset_index(drop=True)
    res = import_path(ws, f)
    assert (res.imported[0].symbol, res.imported[0].timeframe) == ("BTCUSD", "1d")
    got = load_candles(ws, "BTCUSD", "1d")
    t = ms(pd.to_datetime(ref["Date"], utc=True))
    assert_bars(got, t, ref.Open, ref.High, ref.Low, ref.Close, ref["Volume BTC"])
    np.testing.assert_array_equal(got.quote_volume.to_numpy(), ref["Volume USD"].to_numpy())
    assert any("newest bar first" in x for x in notes(res))
    # "Created on 06-02-2019": the 2019-06-02 daily bar was still open when the file was written
    (part,) = findings(res, "partial_last_bar")
    assert "2019-06-02 00:00" in part["message"] and "Created on" in part["message"]


# --- Yahoo Finance -------------------------------------------------------------------------------
def test_yahoo_daily_csv(ws, tmp_path):
    src = daily_candles(120)
    p = tmp_path / "BTC-USD.csv"
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{t:%Y-%m-%d},{o},{h},{lo},{c},{c},{v}" for t, o, h, lo, c, v in
              zip(src.timestamp, src.open, src.high, src.low, src.close, src.volume)]
    p.write_text("\n".join(lines) + "\n")
    res = import_path(ws, p)
    assert (res.imported[0].symbol, res.imported[0].timeframe) == ("BTCUSD", "1d")
    assert any("Yahoo Finance layout" in x for x in notes(res))
    assert not any("UTC offsets" in x for x in notes(res))  # "2025-04-11" ends in "-11", which is no offset
    assert_bars(load_candles(ws, "BTCUSD", "1d"), ms(src.timestamp), src.open, src.high, src.low, src.close, src.volume)


# --- Binance REST klines with synonym headers, partial last daily bar ------------------------------
REST_HEADERS = {
    "brenda": "open_time,open,high,low,close,volume,close_time,quote_asset_volume,num_trades,taker_base_volume,taker_quote_volume,ignore",
    "api_doc": ("Open time,Open,High,Low,Close,Volume,Close time,Quote asset volume,Number of trades,"
                "Taker buy base asset volume,Taker buy quote asset volume,Ignore"),
    "long": ("open_time,open,high,low,close,volume,close_time,quote_asset_volume,number_of_trades,"
             "taker_buy_base_asset_volume,taker_buy_quote_asset_volume,ignore"),
}


def write_rest_klines(src: pd.DataFrame, path, header: str, last_volume_factor: float = 1.0):
    day = 86_400_000
    ot = ms(src.timestamp)
    vol = src.volume.to_numpy().copy()
    vol[-1] *= last_volume_factor
    out = pd.DataFrame({"a": ot, "o": src.open, "h": src.high, "l": src.low, "c": src.close, "v": vol, "ct": ot + day - 1,
                        "q": (vol * src.close).round(4), "n": np.arange(len(src)) * 3 + 1000, "tb": (vol * 0.45).round(6),
                        "tq": (vol * src.close * 0.45).round(4), "ig": 0})
    out.to_csv(path, index=False, header=header.split(","))
    return out


@pytest.mark.parametrize("layout", list(REST_HEADERS))
def test_rest_klines_synonyms_are_kept_not_dropped(ws, tmp_path, layout):
    src = daily_candles(100)
    p = tmp_path / "BTCUSDT_1d.csv"
    out = write_rest_klines(src, p, REST_HEADERS[layout])
    res = import_path(ws, p)
    assert not any("ignored column" in x for x in notes(res)), notes(res)
    got = load_candles(ws, "BTCUSDT", "1d")
    np.testing.assert_array_equal(got.trades.to_numpy(), out.n.to_numpy(dtype="float64"))
    np.testing.assert_array_equal(got.taker_buy_base.to_numpy(), out.tb.to_numpy())
    np.testing.assert_array_equal(got.taker_buy_quote.to_numpy(), out.tq.to_numpy())
    np.testing.assert_array_equal(got.quote_volume.to_numpy(), out.q.to_numpy())


def test_partial_last_daily_bar_judged_against_the_export_time(ws, tmp_path):
    src = daily_candles(100)
    p = tmp_path / "BTCUSDT_1d.csv"
    write_rest_klines(src, p, REST_HEADERS["brenda"], last_volume_factor=0.5)  # half a day's volume
    last = src.timestamp.iloc[-1]
    # a file written now (mtime after the bar closed) and half the median volume: a quiet day, not flagged
    res = import_path(ws, p, dry_run=True)
    assert findings(res, "partial_last_bar") == []
    # the same file written at noon of the last day (its mtime says so): flagged whatever its volume
    noon = (last + pd.Timedelta(hours=12)).timestamp()
    os.utime(p, (noon, noon))
    res = import_path(ws, p, dry_run=True)
    (f,) = findings(res, "partial_last_bar")
    assert "still open when the file was written" in f["message"] and "modification time" in f["message"]
    assert res.imported[0].rows == 100  # kept (a later import completes it), and said so
    # an export time given by the user wins over the mtime
    os.utime(p, None)
    res = import_path(ws, p, dry_run=True, exported_at=f"{last + pd.Timedelta(hours=20):%Y-%m-%d %H:%M}")
    assert "--exported-at" in findings(res, "partial_last_bar")[0]["message"]
    res = import_path(ws, p, dry_run=True, exported_at=f"{last + pd.Timedelta(days=1):%Y-%m-%d %H:%M}")
    assert findings(res, "partial_last_bar") == []
    # the CLI validate report shows it too
    r = run_cli("data", "validate", str(p), "--exported-at", f"{last + pd.Timedelta(hours=3):%Y-%m-%dT%H:%M}")
    assert r.returncode == 0 and "partial_last_bar" in r.stdout, r.stderr


def test_partial_last_bar_from_a_close_time_before_the_bar_end(ws, tmp_path):
    src = daily_candles(60)
    p = tmp_path / "BTCUSDT_1d.csv"
    out = write_rest_klines(src, p, REST_HEADERS["long"])
    out.loc[out.index[-1], "ct"] = out.a.iloc[-1] + 5 * 3_600_000  # cut 5 hours into the day
    out.to_csv(p, index=False, header=REST_HEADERS["long"].split(","))
    (f,) = findings(import_path(ws, p, dry_run=True), "partial_last_bar")
    assert "close_time" in f["message"]


def test_real_rest_klines_taker_columns(ws, shared_data, tmp_path):
    f = shared_data / EXT / "brenda_crypto_data.csv"
    ref = pd.read_csv(f)
    res = import_path(ws, f, symbol="BTCUSDT")
    got = load_candles(ws, "BTCUSDT", "1d")
    assert_bars(got, ref.open_time, ref.open, ref.high, ref.low, ref.close, ref.volume)
    np.testing.assert_array_equal(got.taker_buy_base.to_numpy(), ref.taker_base_volume.to_numpy())
    np.testing.assert_array_equal(got.taker_buy_quote.to_numpy(), ref.taker_quote_volume.to_numpy())
    np.testing.assert_array_equal(got.trades.to_numpy(), ref.num_trades.to_numpy(dtype="float64"))
    assert not any("ignored column" in x for x in notes(res))
    # the shared copy's mtime is the copy's, not the export's: the unfinished last bar is flagged once the
    # export time is known (a fresh download keeps it as its mtime; here it is given)
    assert findings(res, "partial_last_bar") == []
    copy = shutil.copy(f, tmp_path / "BTCUSDT_1d.csv")
    t = pd.Timestamp("2025-11-20 13:00", tz="UTC").timestamp()
    os.utime(copy, (t, t))
    (p,) = findings(import_path(ws, copy, dry_run=True), "partial_last_bar")
    assert "2025-11-20 00:00" in p["message"]


# --- the Hub's Binance.US parquet as the seed's updater writes it ----------------------------------
def test_binance_us_hub_parquet_as_the_seed_writes_it(ws, tmp_path):
    src = real_candles(300)
    ot = pd.DatetimeIndex(src.timestamp).tz_convert(None).as_unit("ns")  # naive datetime64[ns], UTC
    df = pd.DataFrame({
        "open_time": ot, "open": src.open, "high": src.high, "low": src.low, "close": src.close, "volume": src.volume,
        "close_time": ot + pd.Timedelta(minutes=15) - pd.Timedelta(milliseconds=1), "quote_asset_volume": src.amount,
        "number_of_trades": np.arange(300, dtype="int64") + 7, "taker_buy_base_asset_volume": (src.volume * 0.4).round(8),
        "taker_buy_quote_asset_volume": (src.amount * 0.4).round(4), "ignore": "0"})
    assert str(df.open_time.dtype) == "datetime64[ns]" and df["ignore"].map(type).eq(str).all()
    d = tmp_path / "klines" / "BTCUSDT"
    d.mkdir(parents=True)
    p = d / "BTC_15m.parquet"
    df.to_parquet(p, compression="snappy", index=False)
    res = import_path(ws, p)
    assert (res.imported[0].symbol, res.imported[0].timeframe) == ("BTCUSDT", "15m")
    assert not any("ignored column" in x for x in notes(res))
    got = load_candles(ws, "BTCUSDT", "15m")
    assert_bars(got, ms(src.timestamp), src.open, src.high, src.low, src.close, src.volume)
    np.testing.assert_array_equal(got.trades.to_numpy(), df.number_of_trades.to_numpy(dtype="float64"))
    np.testing.assert_array_equal(got.taker_buy_quote.to_numpy(), df.taker_buy_quote_asset_volume.to_numpy())
    assert findings(res, "partial_last_bar") == []


# --- every file of the shared folder, alone ---------------------------------------------------------
REFUSED = {
    "mediapipe-violence_action2.h5": "unsupported file type .h5",
    "andrreww_BTCUSDT.h5": "unsupported file type .h5",
    "brenda_crypto_lstm_model.h5": "unsupported file type .h5",
    "nebula_lstm_classifier_lfs_pointer.h5": "Git LFS pointer",
}


def test_every_external_file_alone(shared_data, tmp_path):
    files = sorted(p for p in (shared_data / EXT).iterdir() if p.name != "README.md")
    assert len(files) == 7
    for f in files:
        home = tmp_path / f.stem / "workspace"
        extra = ["--symbol", "BTCUSDT"] if f.name.startswith("brenda_crypto_data") else []
        r = run_cli("data", "import", str(f), *extra, "--json", env={"KLINELAB_HOME": str(home)})
        if f.name in REFUSED:
            assert r.returncode == 2, (f.name, r.stderr)
            assert REFUSED[f.name] in error_line(r.stderr), (f.name, r.stderr)
            assert "--source-format auto" not in r.stderr
            assert snapshot(home / "artifacts") == {}
        else:
            assert r.returncode == 0, (f.name, r.stderr)
            (item,) = json.loads(r.stdout)["imported"]
            assert item["rows"] == {"BTC_USDT-1h.json": 4090, "brenda_crypto_data.csv": 1000,
                                    "gemini_BTCUSD_1d.csv": 1334}[f.name]
