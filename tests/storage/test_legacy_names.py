"""Manifests written before the glossary (docs/ARCHITECTURE.md, "Glossary: one term per thing") are read
under today's names: a model artifact's ``params.featureset`` / ``params.report`` became
``featureset_id`` / ``report_id`` (storage.schema.LEGACY_PARAMS, the one legacy read path)."""
from __future__ import annotations

import json

from storage.artifacts import create_artifact, list_manifests, read_manifest
from storage.catalog import Catalog
from storage.schema import LEGACY_PARAMS, upgrade_legacy_names, validate_manifest


def _model(ws, params: dict) -> str:
    with create_artifact(ws, "model", name="old run", symbols=["BTCUSDT"], timeframe="15m", params=params,
                         parents=["features-x"]) as d:
        return d.id


def test_an_old_model_manifest_reads_under_the_new_names(ws):
    aid = _model(ws, {"model": "direction", "featureset": "features-x", "report": "analysis-y", "seed": 0})
    raw = json.loads((ws.artifact_dir("model", aid) / "manifest.json").read_text())
    assert raw["params"]["featureset"] == "features-x"  # the file is left as it was written
    for m in (read_manifest(ws, aid, "model"), list_manifests(ws, "model")[0]):
        assert m.params == {"model": "direction", "featureset_id": "features-x", "report_id": "analysis-y", "seed": 0}
    cat = Catalog(ws)
    cat.refresh()
    assert cat.get(aid)["params"]["featureset_id"] == "features-x"
    assert "featureset" not in cat.get(aid)["params"]


def test_training_lists_show_the_feature_set_of_an_old_model(ws):
    from engine.training.runs import compare_table, list_runs

    aid = _model(ws, {"model": "direction", "featureset": "features-x", "n_inputs": 3})
    assert [r["featureset_id"] for r in list_runs(ws)] == ["features-x"]
    assert compare_table(ws, [aid]).loc["featureset_id", aid] == "features-x"


def test_new_names_win_and_other_kinds_are_untouched():
    both = validate_manifest({"id": "m1", "kind": "model", "params": {"featureset": "old", "featureset_id": "new"}})
    assert both["params"] == {"featureset_id": "new"}
    other = validate_manifest({"id": "s1", "kind": "stage2", "params": {"featureset": "f", "report": "r"}})
    assert other["params"] == {"featureset": "f", "report": "r"}
    m = {"id": "m2", "kind": "model", "params": {"featureset_id": "f"}}
    assert upgrade_legacy_names(m) is m  # nothing to rename: the same dict
    assert set(LEGACY_PARAMS["model"].values()) == {"featureset_id", "report_id"}


def test_a_rewritten_old_manifest_gets_the_new_names(ws):
    from storage.artifacts import edit_artifact

    aid = _model(ws, {"model": "direction", "featureset": "features-x"})
    edit_artifact(ws, aid, name="renamed")
    raw = json.loads((ws.artifact_dir("model", aid) / "manifest.json").read_text())
    assert raw["params"] == {"model": "direction", "featureset_id": "features-x"}


def test_a_catalog_indexed_before_the_glossary_is_re_indexed(ws):
    import duckdb

    aid = _model(ws, {"model": "direction", "featureset": "features-x"})
    cat = Catalog(ws)
    cat.refresh()
    # what an older KlineLab left: the row with the old key, schema version 2
    con = duckdb.connect(str(cat.path))
    con.execute("UPDATE artifacts SET params = ? WHERE id = ?", [json.dumps({"model": "direction", "featureset": "features-x"}), aid])
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    with cat.reader() as c:  # a read finds the old version and re-indexes first
        (params,) = c.execute("SELECT params FROM artifacts WHERE id = ?", [aid]).fetchone()
    assert json.loads(params) == {"model": "direction", "featureset_id": "features-x"}
    with cat.reader() as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
