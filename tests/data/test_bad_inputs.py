"""The bad-input corpus: malformed files and form values.  Each one gets exit 2, exactly one
``error:`` line naming the problem, and the workspace (holding the sample) is byte-for-byte
unchanged.  Runs the real CLI entry point in-process (the same ``engine.cli.main`` that
``python -m engine`` runs); one case also goes through a real subprocess."""
from __future__ import annotations

import gzip
import json
import os
import zipfile
import zlib

import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from tests.conftest import error_line, run_cli, snapshot
from tests.data.corpus import real_candles, to_naive_csv, write_csv_rows

H = "time,open,high,low,close,volume"


def gzip_nuls(n: int) -> bytes:
    """``n`` NUL bytes, gzipped (300 MiB -> about 300 KB: a decompression bomb)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(c.compress(block) for _ in range(n >> 20)) + c.flush()


def good_rows(n=40, start="2025-01-01 00:00"):
    src = real_candles(n)
    t = pd.date_range(start, periods=n, freq="15min")
    return [f"{ts:%Y-%m-%d %H:%M:%S},{r.open},{r.high},{r.low},{r.close},{r.volume}" for ts, r in zip(t, src.itertuples())]


def with_row(i, text, n=40):
    rows = good_rows(n)
    rows[i] = text
    return rows


def _file(tmp, name, header=H, rows=None):
    return write_csv_rows(tmp / name, header, good_rows() if rows is None else rows)


def build(case, tmp):
    """-> (argv after 'data', expected text in the error line)."""
    p = tmp / "BTCUSDT_15m.csv"
    rows = good_rows()
    if case == "empty":
        p.write_bytes(b"")
        return ["import", str(p)], "empty"
    if case == "header_only":
        _file(tmp, p.name, rows=[])
        return ["import", str(p)], "no rows"
    if case == "whitespace":
        p.write_text("\n\n   \n")
        return ["import", str(p)], "whitespace"
    if case == "missing_column":
        write_csv_rows(p, "time,open,high,low,close", [",".join(r.split(",")[:5]) for r in rows])
        return ["import", str(p)], "missing column(s) volume"
    if case == "wrong_columns":
        write_csv_rows(p, "foo,bar,baz,qux,quux,corge", rows)
        return ["import", str(p)], "missing column(s) timestamp"
    if case == "text_in_numbers":
        r = rows[7].split(",")
        r[4] = "12x.5"
        _file(tmp, p.name, rows=with_row(7, ",".join(r)))
        return ["import", str(p)], "column 'close' has text where numbers belong"
    if case == "duplicate_timestamps":
        rows[5] = rows[4]
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "duplicate timestamp"
    if case == "unsorted":
        rows[5], rows[6] = rows[6], rows[5]
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "not in increasing order"
    if case == "high_below_low":
        t, o, h, lo, c, v = rows[3].split(",")
        _file(tmp, p.name, rows=with_row(3, f"{t},{o},{float(lo) - 100},{lo},{c},{v}"))
        return ["import", str(p)], "high < low"
    if case == "high_below_close":
        t, o, h, lo, c, v = rows[3].split(",")
        _file(tmp, p.name, rows=with_row(3, f"{t},{o},{max(float(o), float(lo))},{lo},{float(h) + 50},{v}"))
        return ["import", str(p)], "high below open or close"
    if case == "negative_volume":
        t, o, h, lo, c, v = rows[3].split(",")
        _file(tmp, p.name, rows=with_row(3, f"{t},{o},{h},{lo},{c},-{v}"))
        return ["import", str(p)], "negative volume"
    if case == "nan_rows":
        t = rows[9].split(",")[0]
        _file(tmp, p.name, rows=with_row(9, f"{t},,,,,"))
        return ["import", str(p)], "missing or infinite OHLCV"
    if case == "zero_price":
        t, o, h, lo, c, v = rows[3].split(",")
        _file(tmp, p.name, rows=with_row(3, f"{t},{o},{h},0,{c},{v}"))
        return ["import", str(p)], "zero or negative price"
    if case == "negative_price":
        rows = [",".join([r.split(",")[0]] + [str(-float(x)) for x in r.split(",")[1:5]] + [r.split(",")[5]]) for r in rows]
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "zero or negative price"
    if case == "mixed_timezones":
        rows = [r.replace(" 0", "T0", 1) if i % 2 else r for i, r in enumerate(rows)]
        rows = [(r.split(",", 1)[0] + "+02:00," + r.split(",", 1)[1]) if i < 10 else r for i, r in enumerate(rows)]
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "mixed timezones"
    if case == "truncated_parquet":
        q = tmp / "BTCUSDT_15m.parquet"
        real_candles(500).to_parquet(q)
        data = q.read_bytes()
        q.write_bytes(data[: len(data) // 2])
        return ["import", str(q)], "truncated Parquet"
    if case == "corrupt_parquet_footer":
        q = tmp / "BTCUSDT_15m.parquet"
        real_candles(500).to_parquet(q)
        data = bytearray(q.read_bytes())
        data[len(data) // 2: len(data) // 2 + 2000] = os.urandom(2000)
        q.write_bytes(bytes(data))
        return ["import", str(q)], "not a readable Parquet file"
    if case == "wrong_extension":
        q = tmp / "BTCUSDT_15m.csv"
        real_candles(100).to_parquet(q)
        return ["import", str(q)], "the content is PARQUET but the name ends in .csv"
    if case == "binary_junk":
        rng = np.random.default_rng(7)
        p.write_bytes(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
        return ["import", str(p)], "unrecognised binary content"
    if case == "unsupported_extension":
        q = tmp / "BTCUSDT_15m.xlsx"
        q.write_bytes(b"PK\x03\x04 not really")
        return ["import", str(q)], "unsupported file type .xlsx"
    if case == "absurd_price":
        t, o, h, lo, c, v = rows[3].split(",")
        _file(tmp, p.name, rows=with_row(3, f"{t},{o},5e12,{lo},{c},{v}"))
        return ["import", str(p)], "price(s) above"
    if case == "absurd_jump":
        rows = [",".join([r.split(",")[0]] + [str(float(x) * (1000 if i >= 20 else 1)) for x in r.split(",")[1:5]] + [r.split(",")[5]])
                for i, r in enumerate(rows)]
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "jump(s) of more than 100x"
    if case == "epoch_1970":
        q = tmp / "BTCUSDT_15m.parquet"
        real_candles(50).assign(timestamp=lambda d: np.arange(50) * 900).to_parquet(q)  # seconds since 1970 ... tiny
        return ["import", str(q)], "before 2009-01-03"
    if case == "future_times":
        rows = good_rows(40, start="2099-01-01 00:00")
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "in the future"
    if case == "unknown_timeframe_value":
        _file(tmp, p.name)
        return ["import", str(p), "--timeframe", "7m"], "unsupported timeframe '7m'"
    if case == "nonsense_timeframe_value":
        _file(tmp, p.name)
        return ["import", str(p), "--timeframe", "fortnight"], "unknown timeframe 'fortnight'"
    if case == "timeframe_mismatch":
        _file(tmp, p.name)
        return ["import", str(p), "--timeframe", "1h"], "but the bars are 15m apart"
    if case == "off_grid":
        rows = [r.replace(":00:00,", ":07:00,", 1).replace(":15:00,", ":22:00,", 1).replace(":30:00,", ":37:00,", 1)
                .replace(":45:00,", ":52:00,", 1) for r in rows]
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "not on the 15m grid"
    if case == "irregular_spacing":
        t = pd.date_range("2025-01-01", periods=40, freq="7min")
        src = real_candles(40)
        rows = [f"{ts:%Y-%m-%d %H:%M:%S},{r.open},{r.high},{r.low},{r.close},{r.volume}" for ts, r in zip(t, src.itertuples())]
        write_csv_rows(tmp / "BTCUSDT.csv", H, rows)
        return ["import", str(tmp / "BTCUSDT.csv"), "--symbol", "BTCUSDT"], "no known timeframe"
    if case == "bad_symbol_value":
        _file(tmp, p.name)
        return ["import", str(p), "--symbol", "BTC/../../etc"], "invalid symbol"
    if case == "unknown_timezone_value":
        _file(tmp, p.name)
        return ["import", str(p), "--timezone", "Mars/Olympus_Mons"], "unknown timezone"
    if case == "metatrader_without_timezone":
        write_csv_rows(tmp / "XAUUSD_H1_mt5.csv", "time,open,high,low,close,tick_volume",
                       [f"2024-01-15 {h:02d}:00:00,2000.5,2001.0,1999.5,2000.8,100" for h in range(3, 20)])
        return ["import", str(tmp / "XAUUSD_H1_mt5.csv")], "MetaTrader export"
    if case == "dst_gap_local_time":
        write_csv_rows(tmp / "XAUUSD_H1_mt5.csv", "time,open,high,low,close,tick_volume",
                       [f"2024-03-31 {h:02d}:00:00,2000.5,2001.0,1999.5,2000.8,100" for h in range(8)])
        return ["import", str(tmp / "XAUUSD_H1_mt5.csv"), "--timezone", "Europe/Athens"], "DST change"
    if case == "trades_not_candles":
        write_csv_rows(tmp / "ETHUSDT-trades.csv", "timestamp,id,side,price,amount",
                       [f"{1675329600138 + i},{i},buy,1666.8,0.1" for i in range(30)])
        return ["import", str(tmp / "ETHUSDT-trades.csv")], "individual trades"
    if case == "bad_mapping_value":
        _file(tmp, p.name)
        return ["import", str(p), "--map", "timestamp"], "bad column mapping"
    if case == "mapping_to_missing_column":
        _file(tmp, p.name)
        return ["import", str(p), "--map", "timestamp=nope"], "mapped column 'nope'"
    if case == "no_header_four_columns":
        write_csv_rows(tmp / "BTCUSDT_15m.csv", "1735689600000,1,2,3", ["1735690500000,1,2,3"] * 5)
        return ["import", str(tmp / "BTCUSDT_15m.csv")], "no header and 4 columns"
    if case == "single_row_no_timeframe":
        write_csv_rows(tmp / "BTCUSDT.csv", H, good_rows(1))
        return ["import", str(tmp / "BTCUSDT.csv"), "--symbol", "BTCUSDT"], "single bar"
    if case == "zip_with_two_files":
        q = tmp / "BTCUSDT-15m-2025-01.zip"
        with zipfile.ZipFile(q, "w") as z:
            z.writestr("a.csv", "x")
            z.writestr("b.csv", "y")
        return ["import", str(q)], "exactly one CSV"
    if case == "conflicts_with_stored_series":
        src = real_candles(40)
        src = src.assign(close=src.close * 1.01, high=src.high * 1.01)
        to_naive_csv(src, p)
        return ["import", str(p)], "overlapping bars differ from the stored series"
    if case == "missing_path":
        return ["import", str(tmp / "nope" / "BTCUSDT_15m.csv")], "no such file or folder"
    if case == "unknown_source_format":
        _file(tmp, p.name)
        return ["import", str(p), "--source-format", "excel"], "invalid choice"
    if case == "folder_with_one_bad_file":
        d = tmp / "folder"
        d.mkdir()
        to_naive_csv(real_candles(60, "ETHUSDT"), d / "ETHUSDT_15m.csv")
        (d / "SOLUSDT_15m.csv").write_bytes(b"")
        return ["import", str(d)], "1 of 2 files cannot be imported: SOLUSDT_15m.csv"
    # --- issue 13 item 3 / issue 17 defects 4, 5, 20: formats, hostile files, misleading messages ---
    if case == "gzip_bomb_nul":  # defect 4: 300 KB of gzipped NUL bytes read with --source-format csv
        p.write_bytes(gzip_nuls(300 * 1024 * 1024))
        return ["import", str(p), "--source-format", "csv"], "holds binary data (NUL bytes)"
    if case == "zip_many_members":
        q = tmp / "BTCUSDT-15m-2025-01.zip"
        with zipfile.ZipFile(q, "w") as z:
            for i in range(40):
                z.writestr(f"part{i}.csv", "x")
        return ["import", str(q)], "it holds 40 entries"
    if case == "zip_member_too_large":  # the central directory declares 3.5 GB for one small member
        q = tmp / "BTCUSDT-15m-2025-01.zip"
        with zipfile.ZipFile(q, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("BTCUSDT-15m-2025-01.csv", "1,2,3\n")
        data = bytearray(q.read_bytes())
        i = data.rfind(b"PK\x01\x02")  # central directory header: uncompressed size at offset 24
        data[i + 24: i + 28] = (3_500_000_000).to_bytes(4, "little")
        q.write_bytes(bytes(data))
        return ["import", str(q)], "is too large (3.5 GB unpacked"
    if case == "long_timestamp":  # defect 5: one 400 KB time token
        rows[5] = "2025-01-01 " + "1" * 400_000 + ",1,2,0.5,1.5,10"
        _file(tmp, p.name, rows=rows)
        return ["import", str(p)], "a date/time is at most 64"
    if case == "long_typed_date":
        return ["show", "BTCUSDT", "15m", "--start", "2025-01-01" + "0" * 100_000], "longer than 64 characters"
    if case == "garbage_typed_date":
        return ["show", "BTCUSDT", "15m", "--start", "garbage"], "'garbage' is not a date"
    if case == "validate_a_folder":  # defect 20: was "no such file"
        return ["validate", "/proc"], "/proc is a folder, not a data file"
    if case == "validate_dev_zero":  # defect 20: was "does not exist"
        return ["validate", "/dev/zero"], "/dev/zero exists but is a character device"
    if case == "import_dev_zero":
        return ["import", "/dev/zero"], "/dev/zero exists but is a character device"
    if case == "lfs_pointer":
        p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 123456\n")
        return ["import", str(p)], "Git LFS pointer"
    if case == "freqtrade_format_on_parquet":
        q = tmp / "BTC_USDT-15m.parquet"
        real_candles(50).to_parquet(q)
        return ["import", str(q), "--source-format", "freqtrade"], "pass --source-format parquet"
    if case == "json_in_a_csv_name":  # the hint names the option that reads it, never auto (what failed)
        p.write_text("[[1735689600000, 1, 2, 0.5, 1.5, 10]]")
        return ["import", str(p)], "rename the file to .json, or pass --source-format json"
    if case == "json_rows_of_five":
        q = tmp / "BTC_USDT-15m.json"
        q.write_text(json.dumps([[1735689600000 + i * 900_000, 1, 2, 0.5, 1.5] for i in range(30)]))
        return ["import", str(q)], "freqtrade's JSON candles have 6"
    if case == "gzip_named_parquet":
        q = tmp / "BTCUSDT_15m.parquet"
        q.write_bytes(gzip.compress(b"time,open\n"))
        return ["import", str(q)], "the content is GZIP but the name ends in .parquet"
    if case == "bad_exported_at":
        _file(tmp, p.name)
        return ["import", str(p), "--exported-at", "yesterday-ish"], "--exported-at 'yesterday-ish' is not a date"
    if case == "resample_to_finer":
        return ["resample", "BTCUSDT", "--from", "15m", "--to", "5m"], "cannot resample 15m to 5m"
    if case == "resample_unknown_series":
        return ["resample", "ADAUSDT", "--from", "15m", "--to", "1h"], "no candles for ADAUSDT 15m"
    raise KeyError(case)


CASES = ["empty", "header_only", "whitespace", "missing_column", "wrong_columns", "text_in_numbers", "duplicate_timestamps",
         "unsorted", "high_below_low", "high_below_close", "negative_volume", "nan_rows", "zero_price", "negative_price",
         "mixed_timezones", "truncated_parquet", "corrupt_parquet_footer", "wrong_extension", "binary_junk",
         "unsupported_extension", "absurd_price", "absurd_jump", "epoch_1970", "future_times", "unknown_timeframe_value",
         "nonsense_timeframe_value", "timeframe_mismatch", "off_grid", "irregular_spacing", "bad_symbol_value",
         "unknown_timezone_value", "metatrader_without_timezone", "dst_gap_local_time", "trades_not_candles",
         "bad_mapping_value", "mapping_to_missing_column", "no_header_four_columns", "single_row_no_timeframe",
         "zip_with_two_files", "conflicts_with_stored_series", "missing_path", "unknown_source_format",
         "folder_with_one_bad_file", "resample_to_finer", "resample_unknown_series",
         "gzip_bomb_nul", "zip_many_members", "zip_member_too_large", "long_timestamp", "long_typed_date",
         "garbage_typed_date", "validate_a_folder", "validate_dev_zero", "import_dev_zero", "lfs_pointer",
         "freqtrade_format_on_parquet", "json_in_a_csv_name", "json_rows_of_five", "gzip_named_parquet", "bad_exported_at"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exit_2_clear_message_workspace_unchanged(case, sample_ws, tmp_path, capsys):
    argv, needle = build(case, tmp_path)
    before = snapshot(sample_ws.root)
    rc = main(["data", *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    line = error_line(err)
    assert needle in line, line
    assert snapshot(sample_ws.root) == before


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


def test_bad_input_through_a_real_process(sample_ws, tmp_path):
    argv, needle = build("duplicate_timestamps", tmp_path)
    before = snapshot(sample_ws.root)
    r = run_cli("data", *argv, "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert needle in error_line(r.stderr)
    assert snapshot(sample_ws.root) == before
