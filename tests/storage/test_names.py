"""Artifacts people can name and manage (issue 15 item 1): name / tags / note in the manifest and the
catalog, `catalog rename | tag | note | delete`, delete refused when other artifacts descend from it,
atomic delete, concurrent edits that never lose each other, bad input -> one error line and exit 2."""
import json
import multiprocessing
import os

import pytest

from config.errors import BadInput, NotFound, Refused
from storage.artifacts import create_artifact, default_name, delete_artifact, descendants, edit_artifact, read_manifest
from storage.catalog import Catalog
from storage.manifest import Manifest
from tests.conftest import error_line, main_json, snapshot


def make(ws, kind, *, symbols=("BTCUSDT",), tf="15m", parents=(), name="", params=None, index=False):
    with create_artifact(ws, kind, name=name, symbols=symbols, timeframe=tf, parents=parents, params=params,
                         index=index) as d:
        d.path("data.txt").write_text(f"{kind} {name}")
        d.manifest.start, d.manifest.end = "2025-01-01T00:00:00Z", "2025-09-30T23:45:00Z"
    return d.id


@pytest.fixture
def tree(ws):
    o = make(ws, "ohlcv", name="btc candles")
    f = make(ws, "features", parents=(o,))
    m = make(ws, "model", parents=(f,), params={"model": "direction"})
    b = make(ws, "backtest", parents=(m,), name="first backtest")
    lone = make(ws, "model", params={"model": "patchtst"}, index=True)
    return {"o": o, "f": f, "m": m, "b": b, "lone": lone}


def test_default_name_comes_from_the_inputs(ws, tree):
    m = read_manifest(ws, tree["m"])
    assert m.name == "direction BTCUSDT 15m 2025-01..2025-09" == default_name(m)
    assert read_manifest(ws, tree["f"]).name == "features BTCUSDT 15m 2025-01..2025-09"
    assert read_manifest(ws, tree["b"]).name == "first backtest"  # a name the writer gave stays
    assert (m.tags, m.note, m.edited_at) == ([], "", None)


def test_rename_tag_note_are_stored_and_indexed(ws, tree):
    m = edit_artifact(ws, tree["m"], name="  my best model  ")
    assert m.name == "my best model" and m.edited_at
    edit_artifact(ws, tree["m"], add_tags=["keep", "btc", "keep"])
    edit_artifact(ws, tree["lone"], add_tags=["keep"])
    edit_artifact(ws, tree["m"], remove_tags=["btc"], note="beats the baseline\non val")
    on_disk = json.loads((ws.artifact_dir("model", tree["m"]) / "manifest.json").read_text())
    assert (on_disk["name"], on_disk["tags"], on_disk["note"]) == ("my best model", ["keep"], "beats the baseline\non val")
    # files untouched: the manifest still verifies
    assert Manifest.read(ws.artifact_dir("model", tree["m"])).verify_files(ws.artifact_dir("model", tree["m"])) == []
    cat = Catalog(ws)
    assert set(cat.query(tag="keep")["id"]) == {tree["m"], tree["lone"]}
    assert cat.query(tag=["keep", "btc"]).empty
    assert cat.query(name="BEST")["id"].tolist() == [tree["m"]]
    assert cat.query(text="baseline")["id"].tolist() == [tree["m"]]
    assert cat.names([tree["m"], "nope"]) == {tree["m"]: {"name": "my best model", "kind": "model", "tags": ["keep"],
                                                          "note": "beats the baseline\non val"}}
    assert cat.tags() == ["keep"]
    # the catalog is an index: a rebuild from the manifests alone gives the same
    ws.catalog_path.unlink()
    cat.rebuild()
    assert set(cat.query(tag="keep")["id"]) == {tree["m"], tree["lone"]}


def test_an_older_catalog_is_migrated(ws, tree):
    import duckdb

    Catalog(ws).refresh()
    con = duckdb.connect(str(ws.catalog_path))
    con.execute("ALTER TABLE artifacts DROP COLUMN tags")
    con.execute("ALTER TABLE artifacts DROP COLUMN note")
    con.close()
    edit_artifact(ws, tree["o"], add_tags=["raw"])  # indexes on its way out
    assert Catalog(ws).query(tag="raw")["id"].tolist() == [tree["o"]]
    assert len(Catalog(ws).query()) == 5


@pytest.mark.parametrize("kwargs, words", [
    ({"name": "x" * 201}, "at most 200"),
    ({"name": "   "}, "cannot be empty"),
    ({"name": "bad\x07name"}, "control character"),
    ({"name": "two\nlines"}, "control character"),
    ({"add_tags": ["a,b"]}, "a list, not one tag"),
    ({"add_tags": ["a b"]}, "a list, not one tag"),
    ({"add_tags": ["t" * 41]}, "at most 40"),
    ({"add_tags": ["-dash"]}, "not a plain word"),
    ({"note": "n" * 10_001}, "at most 10,000"),
    ({"note": "bell\x07"}, "control character"),
    ({}, "nothing to change"),
])
def test_bad_input_is_refused_and_nothing_changes(ws, tree, kwargs, words):
    before = snapshot(ws.artifacts_dir)
    with pytest.raises(BadInput, match=words):
        edit_artifact(ws, tree["m"], **kwargs)
    assert snapshot(ws.artifacts_dir) == before


def test_missing_id(ws):
    with pytest.raises(NotFound):
        edit_artifact(ws, "model-nope", name="x")
    with pytest.raises(NotFound):
        delete_artifact(ws, "model-nope")


def test_delete_refused_with_descendants_then_ok(ws, tree):
    assert [d["id"] for d in descendants(ws, tree["f"])] == [tree["m"], tree["b"]]
    before = snapshot(ws.artifacts_dir)
    with pytest.raises(Refused, match="used by 2 other artifact") as e:
        delete_artifact(ws, tree["f"])
    assert "direction BTCUSDT 15m" in str(e.value) and "first backtest" in str(e.value)
    assert [d["id"] for d in e.value.data["descendants"]] == [tree["m"], tree["b"]]
    assert snapshot(ws.artifacts_dir) == before
    # a leaf goes, with its catalog row
    assert delete_artifact(ws, tree["b"]) == [tree["b"]]
    assert not ws.artifact_dir("backtest", tree["b"]).exists()
    assert tree["b"] not in Catalog(ws).query()["id"].tolist()
    # all of a branch, explicitly
    assert delete_artifact(ws, tree["f"], with_descendants=True) == [tree["f"], tree["m"]]
    assert set(Catalog(ws).query()["id"]) == {tree["o"], tree["lone"]}
    assert not list(ws.tmp_dir.iterdir())  # no trash left


def test_job_entries_do_not_block_a_delete(ws, tree):
    """A job's manifest lists the artifacts its job made as parents: it is not a descendant."""
    from storage.manifest import write_json_atomic

    jd = ws.jobs_dir / "job-20260101-000000-abcdef"
    write_json_atomic(jd / "manifest.json", Manifest(id=jd.name, kind="job", parents=[tree["lone"]]).to_dict())
    assert descendants(ws, tree["lone"]) == []
    with pytest.raises(Refused, match="job entry"):
        delete_artifact(ws, jd.name)
    assert delete_artifact(ws, tree["lone"]) == [tree["lone"]]


def test_a_crash_half_way_through_a_delete_is_rolled_back(ws, tree, monkeypatch):
    """Deleting a branch moves every folder out in one journaled publish: a failure on the second
    move puts the first back (nothing half-deleted)."""
    import storage.publish as pub

    real = os.rename
    calls = []

    def flaky(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError(5, "disk gone")
        return real(src, dst)

    before = snapshot(ws.artifacts_dir)
    monkeypatch.setattr(pub.os, "rename", flaky)
    with pytest.raises(OSError):
        delete_artifact(ws, tree["m"], with_descendants=True)
    monkeypatch.setattr(pub.os, "rename", real)
    assert snapshot(ws.artifacts_dir) == before


def test_replacing_an_artifact_keeps_what_the_user_gave_it(ws):
    sid = "ohlcv-BTCUSDT-15m"
    with create_artifact(ws, "ohlcv", artifact_id=sid, name="BTCUSDT 15m", symbols=["BTCUSDT"]) as d:
        d.path("a.txt").write_text("1")
    edit_artifact(ws, sid, name="my btc", add_tags=["spot"], note="from binance")
    with create_artifact(ws, "ohlcv", artifact_id=sid, name="BTCUSDT 15m", symbols=["BTCUSDT"], replace=True) as d:
        d.path("a.txt").write_text("2")
    m = read_manifest(ws, sid)
    assert (m.name, m.tags, m.note) == ("my btc", ["spot"], "from binance")
    assert (ws.artifact_dir("ohlcv", sid) / "a.txt").read_text() == "2"


def _edit_many(root, aid, which, n):
    from storage.artifacts import edit_artifact
    from storage.workspace import Workspace

    w = Workspace.open(root)
    for i in range(n):
        if which == "rename":
            edit_artifact(w, aid, name=f"name {i}")
        else:
            edit_artifact(w, aid, add_tags=[f"t{i}"])


def test_concurrent_rename_and_tag_do_not_lose_each_other(ws, tree):
    n = 15
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_edit_many, args=(str(ws.root), tree["m"], w, n)) for w in ("rename", "tag")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    m = read_manifest(ws, tree["m"])
    assert m.name == f"name {n - 1}"
    assert m.tags == [f"t{i}" for i in range(n)]
    Catalog(ws).refresh()
    assert Catalog(ws).names([tree["m"]])[tree["m"]]["tags"] == m.tags


# -- CLI ---------------------------------------------------------------------------------------------
def test_cli_rename_tag_note_query_delete(ws, tree, capsys):
    r = main_json(capsys, "catalog", "rename", tree["lone"], "patch v1")
    assert (r["id"], r["name"]) == (tree["lone"], "patch v1")
    r = main_json(capsys, "catalog", "tag", tree["lone"], "--add", "keep", "--add", "v1")
    assert r["tags"] == ["keep", "v1"]
    r = main_json(capsys, "catalog", "tag", tree["lone"], "--remove", "v1")
    assert r["tags"] == ["keep"]
    r = main_json(capsys, "catalog", "note", tree["lone"], "long run")
    assert r["note"] == "long run"
    q = main_json(capsys, "catalog", "query", "--tag", "keep")
    assert [(a["id"], a["name"], a["tags"], a["note"]) for a in q["artifacts"]] == [(tree["lone"], "patch v1", ["keep"], "long run")]
    assert main_json(capsys, "catalog", "query", "--name", "PATCH")["count"] == 1
    r = main_json(capsys, "catalog", "delete", tree["lone"])
    assert r["deleted"] == [tree["lone"]]
    assert not ws.artifact_dir("model", tree["lone"]).exists()


@pytest.mark.parametrize("argv, words", [
    (["rename", "ID", "x" * 300], "at most 200"),
    (["rename", "ID", "tab\there"], "control character"),
    (["tag", "ID", "--add", "a,b,c"], "a list, not one tag"),
    (["tag", "ID"], "nothing to change"),
    (["note", "ID", "\x1b[31mred"], "control character"),
    (["rename", "model-missing", "x"], "no artifact"),
    (["rename", "../etc", "x"], "invalid artifact id"),
    (["delete", "model-missing"], "no artifact"),
])
def test_cli_bad_input_exit_2_one_error_line(ws, tree, capsys, argv, words):
    from engine.cli import main

    argv = [tree["m"] if a == "ID" else a for a in argv]
    before = snapshot(ws.artifacts_dir)
    capsys.readouterr()
    assert main(["catalog", *argv]) == 2
    line = error_line(capsys.readouterr().err)
    assert words in line
    assert snapshot(ws.artifacts_dir) == before


def test_cli_delete_refused_names_the_descendants(ws, tree, capsys):
    from engine.cli import main

    capsys.readouterr()
    assert main(["catalog", "delete", tree["m"], "--json"]) == 2
    out = capsys.readouterr()
    line = error_line(out.err)
    assert "first backtest" in line and tree["b"] in line and "--with-descendants" in line
    assert [d["id"] for d in json.loads(out.out)["descendants"]] == [tree["b"]]
    assert ws.artifact_dir("model", tree["m"]).is_dir()
    r = main_json(capsys, "catalog", "delete", tree["m"], "--with-descendants")
    assert r["deleted"] == [tree["m"], tree["b"]]


def test_an_adopted_artifact_keeps_its_name_tags_and_note(ws, tmp_path):
    """A download (Hub / SSH archive) brings what the user gave the artifact on the other machine."""
    from engine.sync.adopt import adopt
    from storage.workspace import Workspace

    other = Workspace.open(tmp_path / "gpu-box")
    aid = make(other, "model", params={"model": "direction"}, index=True)
    edit_artifact(other, aid, name="from the GPU box", add_tags=["gpu"], note="trained overnight")
    d = other.artifact_dir("model", aid)
    m = Manifest.read(d)
    assert adopt(ws, m, {f.path: d / f.path for f in m.files}, origin="ssh:gpu")["status"] == "created"
    got = read_manifest(ws, aid)
    assert (got.name, got.tags, got.note, got.origin) == ("from the GPU box", ["gpu"], "trained overnight", "ssh:gpu")
    assert Catalog(ws).query(tag="gpu")["id"].tolist() == [aid]
