"""The data-source registry (engine/data/sources/registry.py): a TOY source registered from this file
gets its own `data` command (options, required ones, exit 2 on bad input) and its form on the Data page,
with no other file touched; the built-in sources' commands and forms come from the same specs."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from config.errors import BadInput
from engine.argtypes import int_in
from engine.data.normalize import normalize
from engine.data.sources import registry
from engine.data.sources.base import DataSource, Series, finish
from storage.artifacts import read_manifest
from tests.conftest import error_line, main_json
from tests.data.corpus import real_candles

DATA_PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "data.py")


class ToySource(DataSource):
    """A stand-in for a new backend: the first ``rows`` real sample candles of a symbol."""

    name = "toy"

    def __init__(self, symbol: str, rows: int):
        if rows < 10:
            raise BadInput(f"the toy source needs at least 10 rows, got {rows}")
        self.symbol, self.rows = symbol, rows

    def read(self) -> list[Series]:
        df = real_candles(self.rows, "BTCUSDT")
        return [finish(normalize(df, "toy"), symbol=self.symbol, timeframe="15m", label="toy",
                       source={"type": "toy", "rows": self.rows})]


def run_toy(ws, opts):
    from engine.data.importer import import_sources

    return import_sources(ws, [ToySource(opts.symbol, opts.rows)], replace=opts.replace, dry_run=opts.dry_run)


TOY = registry.SourceSpec(
    "toy", "Toy source", "import-toy", "import candles from the toy source (test)", run_toy,
    options=(registry.Option("symbol", "--symbol", "Symbol", required=True, missing="The toy needs a symbol."),
             registry.Option("rows", "--rows", "Rows", widget="number", default=200,
                             argtype=int_in(1, 1000),
                             bounds=(1, 1000, 1))),
    description="Real sample candles under another name.", job=lambda v: f"toy import {v.get('symbol')}")


@pytest.fixture
def toy():
    registry.register(TOY)
    try:
        yield TOY
    finally:
        registry.unregister("toy")


def test_a_toy_source_gets_a_command_and_a_form(toy, ws, capsys):
    from engine.cli import main

    res = main_json(capsys, "--quiet", "data", "import-toy", "--symbol", "TOYUSDT", "--rows", "120")
    [rec] = res["imported"]
    assert rec["symbol"] == "TOYUSDT" and rec["rows"] == 120
    m = read_manifest(ws, rec["id"], "ohlcv")
    assert m.params["sources"][0]["type"] == "toy"
    # its options are real CLI options: required, ranged, one error line and exit 2
    assert main(["data", "import-toy", "--rows", "50"]) == 2
    assert "--symbol" in error_line(capsys.readouterr().err)
    assert main(["data", "import-toy", "--symbol", "TOYUSDT", "--rows", "5000"]) == 2
    assert "--rows" in error_line(capsys.readouterr().err)
    assert main(["data", "import-toy", "--symbol", "TOYUSDT", "--rows", "5", "--dry-run"]) == 2
    assert "at least 10 rows" in error_line(capsys.readouterr().err)

    # the Data page offers it, renders its form from the spec and refuses an incomplete one
    at = AppTest.from_file(DATA_PAGE, default_timeout=60)
    at.run()
    radio = at.radio[0]
    assert radio.options == ["File", "PostgreSQL", "Hugging Face", "Bundled sample", "Toy source"]
    for label, form in (("PostgreSQL", "import-sql"), ("Hugging Face", "import-hub"), ("File", "import-file")):
        at.radio[0].set_value(label).run()  # every built-in form renders from its spec
        assert not at.exception, [e.value for e in at.exception]
        assert at.button(key=f"FormSubmitter:{form}-Import") is not None
        if form == "import-hub":
            assert at.multiselect(key="import-hub-timeframes").value == ["15m", "1h"]
            assert at.text_input(key="import-hub-symbols").value == "BTCUSDT,ETHUSDT"
        if form == "import-sql":
            assert at.number_input(key="import-sql-chunksize").value == 100_000
    at.radio[0].set_value("Bundled sample").run()
    assert at.button(key="import-sample-go").label == "Import the bundled sample"
    at.radio[0].set_value("Toy source").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("under another name" in c.value for c in at.caption)
    assert at.number_input(key="import-toy-rows").value == 200
    at.button(key="FormSubmitter:import-toy-Import").click().run()
    assert any("The toy needs a symbol." in e.value for e in at.error)
    assert "data.job_id" not in at.session_state


def test_builtin_specs_build_the_commands_the_cli_parses():
    from engine.cli import build_parser

    parser = build_parser()
    sql = registry.get("sql")
    values = {"url": " postgresql+psycopg://u:p@h/db ", "table": "raw", "query": "", "symbol": "BTCUSDT",
              "symbol_column": "", "symbols": "", "timeframe": "(from the spacing)", "timeframe_column": "",
              "chunksize": 50_000, "map": "timestamp=ts"}
    assert sql.check_values(values) is None
    argv = sql.request(values, replace=True).argv()
    # the URL is a secret: in the job's environment (job_env), not on its command line
    assert argv == ["data", "import-sql", "--table", "raw", "--symbol", "BTCUSDT", "--chunksize", "50000", "--map",
                    "timestamp=ts", "--replace"]
    assert sql.job_env(values) == {"KLINELAB_SQL_URL": "postgresql+psycopg://u:p@h/db"}
    args = parser.parse_args(argv)
    assert (args.url, args.table, args.query, args.chunksize, args.replace) == (None, "raw", None, 50_000, True)
    assert sql.check_values(values | {"query": "select 1"}) == "Give either a table or a query."
    assert sql.check_values(values | {"url": ""}) == "The database URL is required."

    hub = registry.get("hub")
    argv = hub.request({"repo_id": "a/b", "symbols": "BTCUSDT, ETHUSDT", "timeframes": ["15m", "1h"]}).argv()
    assert parser.parse_args(argv).timeframes == "15m,1h"
    assert hub.check_values({"repo_id": "a/b", "symbols": "BTCUSDT", "timeframes": []}) == \
        "Give at least one symbol and one timeframe."
    f = registry.get("file")
    argv = f.request({"path": "/x/BTCUSDT_15m.csv", "symbol": "", "timeframe": "1h", "source_format": "auto",
                      "timezone": "", "map": "", "skip_bad": True}).argv()
    assert argv == ["data", "import", "/x/BTCUSDT_15m.csv", "--timeframe", "1h", "--skip-bad"]  # the default format left out
    assert parser.parse_args(argv).path == "/x/BTCUSDT_15m.csv"
    assert registry.get("sample").request({}).argv() == ["data", "import-sample"]
    assert [s.name for s in registry.sources()] == ["file", "sql", "hub", "sample"]
    with pytest.raises(BadInput, match="already registered"):
        registry.register(registry.get("hub"))
    with pytest.raises(BadInput, match="is taken by"):
        registry.register(registry.SourceSpec("other", "Other", "import-hub", "", run_toy))
    with pytest.raises(BadInput, match="unknown data source"):
        registry.get("ftp")
