"""Typed ``data`` requests (engine/data/requests.py): ``data resample`` and one request model per data source,
made from the source's options, so the Data page's forms build the requests the CLI parses."""
import pytest

from config.errors import BadInput
from engine.data.requests import ResampleRequest, source_request
from engine.data.sources import registry
from tests.request_checks import dests, round_trip, unset_fields

SOURCES = {
    "file": {"path": "/x/BTCUSDT_15m.csv", "symbol": "BTCUSDT", "timeframe": "15m", "source_format": "csv",
             "timezone": "Europe/Berlin", "map": "timestamp=ts", "exported_at": "2026-01-01 00:00", "skip_bad": True},
    "sql": {"url": "postgresql+psycopg://u:p@h/db", "table": "raw", "schema": "public", "symbol": "BTCUSDT",
            "symbol_column": "sym", "symbols": "BTCUSDT,ETHUSDT", "timeframe": "1h", "timeframe_column": "tf",
            "chunksize": 5000, "map": "timestamp=datetime", "timezone": "UTC"},
    "hub": {"repo_id": "a/b", "symbols": "BTCUSDT,ETHUSDT", "timeframes": "15m,1h", "revision": "v1"},
    "sample": {},
}


def test_resample_round_trips_and_is_the_cli_command():
    req = ResampleRequest.build(symbol="BTCUSDT", from_tf="15m", to_tf="1h", allow_incomplete=True, dry_run=True)
    assert round_trip(req) == ["data", "resample", "BTCUSDT", "--from", "15m", "--to", "1h", "--allow-incomplete", "--dry-run"]
    assert unset_fields(ResampleRequest, [req]) == []
    assert dests("data", "resample") == set(ResampleRequest.model_fields)


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_field_round_trips_through_the_command_line(name):
    spec = registry.get(name)
    model = source_request(spec)
    extra = {"replace": True, "dry_run": True} if spec.merges else {}
    req = model.build(**SOURCES[name], **extra)
    assert round_trip(req)[:2] == ["data", spec.command]
    assert unset_fields(model, [req]) == (["query"] if name == "sql" else [])  # --table or --query: the page test has a query
    assert dests("data", spec.command) == set(model.model_fields)


def test_the_page_form_gives_the_request_the_cli_accepts():
    # what pages/data_widgets.py submits: every option by dest, blanks and the select's "not given" entry left out
    hub = registry.get("hub").request({"repo_id": "a/b", "symbols": " BTCUSDT ", "timeframes": ["15m", "1h"], "revision": ""},
                                      replace=True)
    assert round_trip(hub) == ["data", "import-hub", "--repo-id", "a/b", "--symbols", "BTCUSDT", "--timeframes", "15m,1h",
                               "--replace"]
    form = {"url": " postgresql+psycopg://u:s3cret@h/db ", "query": "select 1", "chunksize": 20000.0,
            "timeframe": "(from the spacing)"}
    sql = registry.get("sql").request(form)
    # the URL (a secret) is not on the command line: the job gets it in its environment
    assert round_trip(sql) == ["data", "import-sql", "--query", "select 1", "--chunksize", "20000"]
    assert registry.get("sql").job_env(form) == {"KLINELAB_SQL_URL": "postgresql+psycopg://u:s3cret@h/db"}
    assert registry.get("hub").job_env({"repo_id": "a/b"}) == {}


def test_the_cli_reads_a_secret_option_from_its_variable_when_absent(monkeypatch):
    spec = registry.get("sql")
    req = spec.request({"table": "t", "symbol": "BTCUSDT"})
    monkeypatch.delenv("KLINELAB_SQL_URL", raising=False)
    with pytest.raises(BadInput, match=r"--url is required \(or set KLINELAB_SQL_URL\)"):
        spec.from_env(req)
    monkeypatch.setenv("KLINELAB_SQL_URL", "sqlite:///from-env.db")
    assert spec.from_env(req).url == "sqlite:///from-env.db"
    typed = req.with_fields(url="sqlite:///typed.db")
    assert spec.from_env(typed).url == "sqlite:///typed.db"  # --url wins over the variable


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="to_tf"):
        ResampleRequest.build(symbol="BTCUSDT", from_tf="15m")
    with pytest.raises(BadInput, match="chunksize must be"):
        registry.get("sql").request({"url": "u", "table": "t", "chunksize": "many"})
