"""PostgreSQL source against a real server: a seed-style ``raw_market_data`` table with several
symbols, read in chunks through SQLAlchemy + psycopg; table and query forms; errors."""
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import error_line, run_cli, snapshot


@pytest.fixture
def market_table(pg_url):
    """raw_market_data(symbol, datetime, open, high, low, close, volume, turnover) from the sample's real candles."""
    from engine.data.sources.sample import SAMPLE_DIR

    eng = sa.create_engine(pg_url)
    frames = []
    for sym in ("BTCUSDT", "ETHUSDT"):
        df = pd.read_parquet(SAMPLE_DIR / f"{sym}_15m.parquet").head(3000)
        frames.append(df.rename(columns={"timestamp": "datetime", "amount": "turnover"}).assign(symbol=sym))
    data = pd.concat(frames, ignore_index=True)
    with eng.begin() as con:
        con.exec_driver_sql("DROP TABLE IF EXISTS raw_market_data")
        data.to_sql("raw_market_data", con, index=False)
    eng.dispose()
    return pg_url, data


def test_table_with_several_symbols_is_read_in_chunks(market_table, ws):
    url, data = market_table
    r = run_cli("data", "import-sql", "--url", url, "--table", "raw_market_data", "--symbol-column", "symbol",
                "--timeframe", "15m", "--chunksize", "1000", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    got = {x["symbol"]: x for x in out["imported"]}
    assert set(got) == {"BTCUSDT", "ETHUSDT"} and got["BTCUSDT"]["rows"] == 3000
    assert "read 3,000 rows" in r.stderr  # chunked: progress after each chunk of 1,000
    from engine.data.store import load_candles

    stored = load_candles(ws, "ETHUSDT", "15m")
    src = data[data.symbol == "ETHUSDT"].reset_index(drop=True)
    assert (stored["close"].to_numpy() == src["close"].to_numpy()).all()
    assert (stored["quote_volume"].to_numpy() == src["turnover"].to_numpy()).all()  # turnover -> quote_volume
    assert stored.timestamp.iloc[0] == src.datetime.iloc[0]
    # the password-less URL is recorded, masked form for passwords is covered below
    m = json.loads((ws.artifact_dir("ohlcv", "ohlcv-ETHUSDT-15m") / "manifest.json").read_text())
    assert m["params"]["sources"][0]["type"] == "sql"


def test_query_and_mapping(market_table, ws):
    url, _ = market_table
    q = "SELECT datetime AS ts, open, high, low, close, volume AS vol FROM raw_market_data WHERE symbol = 'BTCUSDT' ORDER BY datetime"
    r = run_cli("data", "import-sql", "--url", url, "--query", q, "--symbol", "BTCUSDT", "--map", "timestamp=ts,volume=vol", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["imported"][0]["rows"] == 3000


@pytest.mark.parametrize("args,needle", [
    (["--table", "no_such_table", "--symbol", "BTCUSDT"], "does not exist"),
    (["--query", "SELECT * FROM nowhere", "--symbol", "BTCUSDT"], "refused the query"),
    (["--query", "SELECT 1 AS x", "--symbol", "BTCUSDT"], "missing column"),
    (["--table", "raw_market_data", "--symbol-column", "nosuch"], "symbol column"),
])
def test_bad_requests_exit_2_and_write_nothing(market_table, ws, args, needle):
    url, _ = market_table
    before = snapshot(ws.root)
    r = run_cli("data", "import-sql", "--url", url, *args)
    assert r.returncode == 2, r.stderr
    assert needle in error_line(r.stderr)
    assert snapshot(ws.root) == before


def test_unreachable_database_is_explained_and_password_masked(ws):
    r = run_cli("data", "import-sql", "--url", "postgresql+psycopg://u:s3cret@127.0.0.1:1/db", "--table", "t", "--symbol", "BTCUSDT")
    assert r.returncode == 2
    assert "cannot reach the database" in r.stderr and "s3cret" not in r.stderr and "***" in r.stderr


def test_data_page_sql_form_passes_the_url_in_the_environment_not_the_command(market_table, ws):
    """The Data page's PostgreSQL form with a URL holding a password: the job connects (a real server, a role
    with a password), and neither its command, state.json, manifest nor anything in the workspace holds it."""
    from streamlit.testing.v1 import AppTest

    from engine import jobs
    from tests.conftest import ROOT

    base, _ = market_table
    eng = sa.create_engine(base)
    with eng.begin() as con:
        con.exec_driver_sql("DROP ROLE IF EXISTS klpage")
        con.exec_driver_sql("CREATE ROLE klpage LOGIN PASSWORD 'Hid3-this-pw'")
        con.exec_driver_sql("GRANT SELECT ON raw_market_data TO klpage")
    eng.dispose()
    url = base.replace("://postgres@", "://klpage:Hid3-this-pw@")
    assert "Hid3-this-pw" in url
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=60)
    at.run()
    at.radio[0].set_value("PostgreSQL").run()
    at.text_input(key="import-sql-url").set_value(url)
    at.text_input(key="import-sql-table").set_value("raw_market_data")
    at.text_input(key="import-sql-symbol_column").set_value("symbol")
    at.selectbox(key="import-sql-timeframe").set_value("15m")
    at.button(key="FormSubmitter:import-sql-Import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    st = jobs.wait(ws, at.session_state["data.job_id"], timeout=120)
    assert st.status == "succeeded", st.error
    assert {r["symbol"] for r in st.result["imported"]} == {"BTCUSDT", "ETHUSDT"}
    assert "--url" not in st.command and not any("Hid3" in a for a in st.command)
    manifest = json.loads((ws.jobs_dir / st.id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["command"] == st.command
    leaked = [str(p) for p in ws.root.rglob("*") if p.is_file() and b"Hid3-this-pw" in p.read_bytes()]
    assert leaked == []
