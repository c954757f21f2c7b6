"""The DuckDB catalog: incremental refresh, full rebuild from manifests with nothing lost,
lineage, parameterised filtered queries, broken manifests, and a concurrently writing process."""
import json
import subprocess
import sys
import textwrap
import time

import pytest

from config.errors import BadInput, NotFound
from storage.artifacts import create_artifact, delete_artifact
from storage.catalog import Catalog
from storage.manifest import Manifest


def make(ws, kind, *, symbols=("BTCUSDT",), tf="15m", parents=(), metrics=None, name="", origin="local"):
    with create_artifact(ws, kind, name=name, symbols=symbols, timeframe=tf, parents=parents, origin=origin, index=False) as d:
        d.path("data.txt").write_text(f"{kind} {name}")
        d.manifest.metrics = dict(metrics or {})
        d.manifest.start, d.manifest.end = "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"
    return d.id


@pytest.fixture
def populated(ws):
    o1 = make(ws, "ohlcv", name="btc")
    o2 = make(ws, "ohlcv", symbols=("ETHUSDT",), name="eth")
    f = make(ws, "features", symbols=("BTCUSDT", "ETHUSDT"), parents=(o1, o2), metrics={"n_features": 160})
    m1 = make(ws, "model", parents=(f,), metrics={"val": {"accuracy": 0.61}, "sharpe": 1.4}, name="direction")
    m2 = make(ws, "model", tf="1h", parents=(f,), metrics={"sharpe": -0.2}, name="patchtst", origin="huggingface:me/models")
    b = make(ws, "backtest", parents=(m1,), metrics={"sharpe": 0.9})
    return {"o1": o1, "o2": o2, "f": f, "m1": m1, "m2": m2, "b": b}


def test_refresh_is_incremental(ws, populated):
    cat = Catalog(ws)
    r = cat.refresh()
    assert (r.added, r.updated, r.removed) == (6, 0, 0)
    r = cat.refresh()
    assert (r.added, r.updated, r.removed) == (0, 0, 0)
    m = Manifest.read(ws.artifact_dir("model", populated["m1"]))
    m.metrics["sharpe"] = 2.0
    time.sleep(0.01)
    m.write(ws.artifact_dir("model", populated["m1"]))
    delete_artifact(ws, populated["b"])  # delete refreshes quietly
    r = cat.refresh()
    assert r.scanned == 5
    assert cat.query(metric="sharpe", metric_min=1.9)["id"].tolist() == [populated["m1"]]
    assert populated["b"] not in cat.query()["id"].tolist()


def test_rebuild_from_manifests_loses_nothing(ws, populated):
    cat = Catalog(ws)
    cat.refresh()
    before = {i: cat.get(i) for i in populated.values()}
    lineage_before = cat.lineage(populated["b"])["ancestors"]["id"].tolist()
    ws.catalog_path.unlink()
    r = cat.rebuild()
    assert r.scanned == 6
    after = {i: cat.get(i) for i in populated.values()}
    assert after == before  # every manifest field, exactly
    assert cat.lineage(populated["b"])["ancestors"]["id"].tolist() == lineage_before


def test_filters_and_lineage(ws, populated):
    cat = Catalog(ws)
    cat.refresh()
    assert set(cat.query(kind="ohlcv")["id"]) == {populated["o1"], populated["o2"]}
    assert set(cat.query(symbol="ETHUSDT")["id"]) == {populated["o2"], populated["f"]}
    assert set(cat.query(timeframe="1h")["id"]) == {populated["m2"]}
    assert set(cat.query(origin="huggingface:")["id"]) == {populated["m2"]}
    assert set(cat.query(metric="val.accuracy", metric_min=0.6)["id"]) == {populated["m1"]}
    assert set(cat.query(kind="model", metric="sharpe", metric_max=0)["id"]) == {populated["m2"]}
    assert set(cat.query(parent=populated["f"])["id"]) == {populated["m1"], populated["m2"]}
    assert len(cat.query(since="2000-01-01", until="2999-01-01")) == 6 and len(cat.query(since="2999-01-01")) == 0
    lin = cat.lineage(populated["b"])
    anc = dict(zip(lin["ancestors"]["id"], lin["ancestors"]["depth"]))
    assert anc == {populated["m1"]: 1, populated["f"]: 2, populated["o1"]: 3, populated["o2"]: 3}
    desc = set(cat.lineage(populated["o1"])["descendants"]["id"])
    assert desc == {populated["f"], populated["m1"], populated["m2"], populated["b"]}
    assert cat.counts()["model"] == 2


@pytest.mark.parametrize("evil", ["x' OR '1'='1", "'; DROP TABLE artifacts; --", "%", "BTCUSDT') OR TRUE --"])
def test_queries_are_parameterised(ws, populated, evil):
    cat = Catalog(ws)
    cat.refresh()
    assert len(cat.query(symbol=evil)) == 0
    assert len(cat.query(timeframe=evil)) == 0
    assert len(cat.query(text=evil)) == 0
    assert len(cat.query()) == 6  # the table is still there


def test_text_search_is_literal(ws, populated):
    cat = Catalog(ws)
    cat.refresh()
    assert set(cat.query(text="dire")["id"]) == {populated["m1"]}
    assert len(cat.query(text="_")) == 0 and len(cat.query(text="%")) == 0


def test_bad_query_arguments(ws, populated):
    with pytest.raises(BadInput, match="unknown kind"):
        Catalog(ws).query(kind="nonsense")
    with pytest.raises(BadInput, match="cannot order by"):
        Catalog(ws).query(order_by="id; DROP TABLE artifacts")
    with pytest.raises(NotFound):
        Catalog(ws).get("model-does-not-exist")


def test_broken_manifest_is_reported_not_fatal(ws, populated):
    d = ws.artifact_dir("features", "features-broken")
    d.mkdir(parents=True)
    (d / "manifest.json").write_text("{not json")
    r = Catalog(ws).refresh()
    assert r.added == 6 and any("features-broken" in p for p in r.problems)
    assert len(Catalog(ws).query()) == 6


def test_locked_catalog_falls_back_to_manifests(ws, populated):
    import duckdb

    Catalog(ws).refresh()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time, sys
        con = duckdb.connect({str(ws.catalog_path)!r})
        print('locked', flush=True)
        time.sleep(20)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        cat = Catalog(ws, read_timeout=0.3)
        t0 = time.perf_counter()
        df = cat.query(kind="model")
        assert cat.last_read_fallback and set(df["id"]) == {populated["m1"], populated["m2"]}
        assert time.perf_counter() - t0 < 5
        from config.errors import Busy

        with pytest.raises(Busy):
            Catalog(ws, lock_timeout=0.3).refresh()
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(ws.catalog_path), read_only=True)  # proves the lock was really held
    finally:
        holder.kill()
        holder.wait()


WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from storage.workspace import Workspace
from storage.artifacts import create_artifact
ws = Workspace.open({home!r})
for i in range({n}):
    with create_artifact(ws, "backtest", symbols=["BTCUSDT"], timeframe="15m", name=f"bt{{i}}") as d:
        d.path("equity.csv").write_text("t,v\\n0,1\\n")
        d.manifest.metrics = {{"sharpe": i / 10}}
print("done", flush=True)
"""


def test_a_concurrently_writing_process_never_crashes_readers(ws, populated):
    from tests.conftest import ROOT

    Catalog(ws).refresh()
    n = 60
    w = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), home=str(ws.root), n=n)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reads, fallbacks, seen = 0, 0, set()
    while w.poll() is None:
        cat = Catalog(ws, read_timeout=0.2)
        df = cat.query(kind="backtest", limit=None)  # never raises, even while the writer holds the lock
        seen |= set(df["id"])
        reads += 1
        fallbacks += cat.last_read_fallback
        try:
            cat.refresh(timeout=0.2)  # a second writer: may be busy, never corrupts
        except Exception as e:  # noqa: BLE001
            assert type(e).__name__ == "Busy"
    out, err = w.communicate()
    assert w.returncode == 0 and out.strip() == "done", err
    assert reads > 5
    Catalog(ws).refresh()
    final = Catalog(ws).query(kind="backtest", limit=None)
    assert len(final) == n + 1  # all of the writer's artifacts + the fixture's one, indexed
    assert json.loads(final.metrics.iloc[0]) is not None


def test_kinds_stamp_moves_when_an_artifact_is_added_or_deleted(ws):
    """The pages' cache key: an older artifact deleted must change it too (not only the newest mtime)."""
    from storage.artifacts import kinds_stamp

    assert kinds_stamp(ws, "model", "stage2") == (0, 0.0)
    old = make(ws, "model", name="old")
    make(ws, "model", name="new")
    make(ws, "backtest")
    two = kinds_stamp(ws, "model")
    assert two[0] == 2 and kinds_stamp(ws, "model", "backtest")[0] == 3
    delete_artifact(ws, old)
    assert kinds_stamp(ws, "model") != two and kinds_stamp(ws, "model")[0] == 1
    with pytest.raises(BadInput):
        kinds_stamp(ws, "nonsense")
