"""Every real file format is detected and read into canonical candles identical to the source."""
import json

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.data.importer import import_path
from engine.data.store import load_candles
from tests.conftest import run_cli
from tests.data.corpus import real_candles, to_binance_dump, to_naive_csv


def assert_same_bars(stored: pd.DataFrame, src: pd.DataFrame) -> None:
    assert len(stored) == len(src)
    assert (pd.DatetimeIndex(stored.timestamp).as_unit("ns") == pd.DatetimeIndex(src.timestamp).as_unit("ns")).all()
    for c in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(stored[c].to_numpy(), src[c].to_numpy())


def test_freqtrade_feather(ws, tmp_path):
    src = real_candles(500)
    p = tmp_path / "BTC_USDT-15m.feather"
    src.rename(columns={"timestamp": "date"}).drop(columns="amount").to_feather(p)
    res = import_path(ws, p)
    assert res.imported[0].symbol == "BTCUSDT" and res.imported[0].timeframe == "15m"
    assert_same_bars(load_candles(ws, "BTCUSDT", "15m"), src)


def test_freqtrade_futures_name_becomes_perp(ws, tmp_path):
    src = real_candles(300)
    p = tmp_path / "BTC_USDT_USDT-15m-futures.feather"
    src.rename(columns={"timestamp": "date"}).drop(columns="amount").to_feather(p)
    assert import_path(ws, p).imported[0].symbol == "BTCUSDT-PERP"


def test_epoch_ms_parquet(ws, tmp_path):
    src = real_candles(500)
    p = tmp_path / "BTCUSDT_15m_epoch_ms.parquet"
    src.assign(time=pd.DatetimeIndex(src.timestamp).as_unit("ms").asi8).drop(columns=["timestamp"]).to_parquet(p)
    import_path(ws, p)
    got = load_candles(ws, "BTCUSDT", "15m")
    assert_same_bars(got, src)
    np.testing.assert_array_equal(got.quote_volume.to_numpy(), src.amount.to_numpy())  # amount -> quote_volume


def test_naive_string_csv_read_as_utc_and_said_so(ws, tmp_path):
    src = real_candles(400)
    p = to_naive_csv(src, tmp_path / "ETHUSDT_15m_365.csv")
    res = import_path(ws, p)
    assert any("naive times read as UTC" in n for r in res.reports for n in r["notes"])
    assert_same_bars(load_candles(ws, "ETHUSDT", "15m"), src)


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("unit", ["ms", "us"])
def test_binance_kline_dump(ws, tmp_path, header, unit):
    src = real_candles(300)
    p = to_binance_dump(src, tmp_path / "BTCUSDT-15m-2025-04.csv", header=header, unit=unit)
    res = import_path(ws, p)
    assert res.imported[0].timeframe == "15m"
    got = load_candles(ws, "BTCUSDT", "15m")
    assert_same_bars(got, src)
    assert {"quote_volume", "trades", "taker_buy_base", "taker_buy_quote"} <= set(got.columns)
    np.testing.assert_allclose(got.taker_buy_base.to_numpy(), (src.volume * 0.5).round(8).to_numpy())


def test_binance_zip_dump(ws, tmp_path):
    src = real_candles(200)
    p = to_binance_dump(src, tmp_path / "SOLUSDT-15m-2025-04.zip", zipped=True)
    assert import_path(ws, p).imported[0].symbol == "SOLUSDT"
    assert_same_bars(load_candles(ws, "SOLUSDT", "15m"), src)


def test_metatrader_export_needs_a_timezone_then_converts_dst_correctly(ws, tmp_path):
    # broker server time EET/EEST: 03:00 local = 01:00 UTC in January, 00:00 UTC in July
    p = tmp_path / "XAUUSD_H1_mt5.csv"
    rows = ["time,open,high,low,close,tick_volume"]
    for day in ("2024-01-15", "2024-07-15"):
        for h in range(3, 9):
            rows.append(f"{day} {h:02d}:00:00,2000.5,2001.0,1999.5,2000.8,{100 + h}")
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(BadInput, match="MetaTrader export.*broker"):
        import_path(ws, p)
    assert not ws.artifacts_dir.exists() or not any(ws.artifacts_dir.rglob("manifest.json"))
    res = import_path(ws, p, timezone="Europe/Athens")
    got = load_candles(ws, "XAUUSD", "1h")
    assert got.timestamp.iloc[0] == pd.Timestamp("2024-01-15 01:00", tz="UTC")
    assert pd.Timestamp("2024-07-15 00:00", tz="UTC") in set(got.timestamp)
    assert any("tick volume" in n for n in res.reports[0]["notes"])


def test_metatrader_terminal_export_with_date_and_time_columns(ws, tmp_path):
    p = tmp_path / "EURUSD_M15.csv"
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for i in range(20):
        lines.append(f"2024.03.04\t{10 + i // 4:02d}:{(i % 4) * 15:02d}:00\t1.0850\t1.0860\t1.0840\t1.0855\t{50 + i}\t0\t5")
    p.write_text("\n".join(lines) + "\n")
    import_path(ws, p, timezone="Etc/GMT-2")  # fixed UTC+2
    got = load_candles(ws, "EURUSD", "15m")
    assert got.timestamp.iloc[0] == pd.Timestamp("2024-03-04 08:00", tz="UTC") and len(got) == 20


def test_pandas_json_with_symbol_given(ws, tmp_path):
    src = real_candles(100)
    p = tmp_path / "orderflow_candles.json"
    src.rename(columns={"timestamp": "date"}).assign(date=lambda d: pd.DatetimeIndex(d.date).as_unit("ms").asi8).to_json(p)
    r = run_cli("data", "import", str(p), "--json")
    assert r.returncode == 2 and "--symbol" in r.stderr
    r = run_cli("data", "import", str(p), "--symbol", "BTCUSDT", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["imported"][0]
    assert out["timeframe"] == "15m" and out["rows"] == 100


def test_import_json_contract(ws, tmp_path):
    src = real_candles(300)
    p = to_naive_csv(src, tmp_path / "BTCUSDT_15m.csv")
    r = run_cli("data", "import", str(p), "--json")
    assert r.returncode == 0, r.stderr
    (item,) = json.loads(r.stdout)["imported"]
    assert item["id"] == "ohlcv-BTCUSDT-15m" and item["symbol"] == "BTCUSDT" and item["timeframe"] == "15m"
    assert item["rows"] == 300
    assert item["first"] == "2025-04-10T17:00:00Z" and item["last"] == src.timestamp.iloc[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pd.read_parquet(item["path"]).shape[0] == 300


def test_reimport_merges_and_is_idempotent(ws, tmp_path):
    src = real_candles(600)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = to_naive_csv(src.head(400), tmp_path / "a" / "BTCUSDT_15m.csv")
    b = to_naive_csv(src.tail(400), tmp_path / "b" / "BTCUSDT_15m.csv")
    assert import_path(ws, a).imported[0].status == "created"
    r = import_path(ws, b).imported[0]
    assert r.status == "updated" and r.added_rows == 200 and r.rows == 600
    assert import_path(ws, b).imported[0].status == "unchanged"
    assert_same_bars(load_candles(ws, "BTCUSDT", "15m"), src)


def test_partial_last_bar_is_completed_by_a_later_import(ws, tmp_path):
    src = real_candles(50)
    partial = src.copy()
    last = partial.index[-1]
    partial.loc[last, ["high", "volume"]] = [partial.loc[last, "open"] + (partial.loc[last, "high"] - partial.loc[last, "open"]) / 2,
                                             partial.loc[last, "volume"] / 3]
    partial.loc[last, "close"] = min(partial.loc[last, "close"], partial.loc[last, "high"])
    partial.loc[last, "low"] = max(partial.loc[last, "low"], min(partial.loc[last, "open"], partial.loc[last, "close"]))
    (tmp_path / "p").mkdir()
    (tmp_path / "f").mkdir()
    import_path(ws, to_naive_csv(partial, tmp_path / "p" / "BTCUSDT_15m.csv"))
    r = import_path(ws, to_naive_csv(src, tmp_path / "f" / "BTCUSDT_15m.csv")).imported[0]
    assert any("still open" in n for n in r.notes)
    assert_same_bars(load_candles(ws, "BTCUSDT", "15m"), src)
