"""One file-inspection path (engine.data.sources.files.inspect_file): `data validate`, `data import` and the
Data page read, recognise and normalise a file the same way, so they agree on what it is."""
import shutil
from pathlib import Path

import pandas as pd
import pytest

from engine.data.sources.files import inspect_file
from tests.conftest import main_json, snapshot

SAMPLE = Path(__file__).resolve().parent.parent.parent / "engine" / "data" / "sample"


def _funding_without_the_word(tmp_path: Path) -> Path:
    """A funding-rate file whose NAME does not say funding (it reads like 8h candles): only its funding_rate
    column does.  Before the one inspection path, `data validate` judged it as candles and `data import` as funding."""
    src = pd.read_parquet(SAMPLE / "BTC_USDT_USDT-1h-funding_rate.parquet")
    p = tmp_path / "BTCUSDT_8h.csv"
    pd.DataFrame({"timestamp": src["date"].dt.strftime("%Y-%m-%d %H:%M:%S"), "funding_rate": src["open"]}).to_csv(p, index=False)
    return p


def _files(tmp_path: Path) -> dict[str, Path]:
    for name in ("BTC_USDT_USDT-1h-funding_rate.parquet", "BTCUSDT_15m.parquet"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    return {"freqtrade funding": tmp_path / "BTC_USDT_USDT-1h-funding_rate.parquet",
            "funding by column": _funding_without_the_word(tmp_path),
            "candles": tmp_path / "BTCUSDT_15m.parquet"}


@pytest.mark.parametrize("which", ["freqtrade funding", "funding by column", "candles"])
def test_validate_and_import_agree(ws, tmp_path, capsys, which):
    path = _files(tmp_path)[which]
    before = snapshot(ws.root) if ws.root.exists() else {}
    v = main_json(capsys, "data", "validate", str(path))
    imp = main_json(capsys, "data", "import", str(path), "--dry-run")
    assert (snapshot(ws.root) if ws.root.exists() else {}) == before  # neither wrote anything
    [row] = imp["imported"]
    funding = which != "candles"
    assert v["ok"] is True and v["kind"] == ("funding" if funding else "candles")
    assert (row["timeframe"] is None) == funding and (v["timeframe"] is None) == funding
    if funding:
        assert row["symbol"] == "BTCUSDT-PERP"
    else:
        assert row["timeframe"] == v["timeframe"] == "15m" and row["symbol"] == "BTCUSDT"
    # the same rows: import drops only a last bar still open at import time (none in these files)
    assert row["rows"] == v["rows"]
    utc = lambda s: pd.Timestamp(s).tz_localize(None)  # the report writes UTC without the zone
    assert utc(row["first"]) == utc(v["start"]) and utc(row["last"]) == utc(v["end"])


def test_one_inspection_recognises_a_funding_file_by_its_column(tmp_path):
    i = inspect_file(_funding_without_the_word(tmp_path))
    assert i.funding and i.norm.kind == "funding" and i.symbol == "BTCUSDT-PERP" and i.timeframe is None
    rep = i.report()
    assert rep.ok and rep.rows == 1095
    c = inspect_file(_files(tmp_path)["candles"], timeframe="15m")
    assert not c.funding and c.timeframe == "15m" and c.report().ok


def test_the_data_page_and_the_cli_use_the_one_path():
    root = Path(__file__).resolve().parent.parent.parent
    for rel in ("pages/data.py", "engine/data/cli.py"):
        text = (root / rel).read_text(encoding="utf-8")
        assert "inspect_file(" in text and "normalize(" not in text and "read_table(" not in text, rel
