"""`analyze FEATURESET_ID --target TARGET` on the session's sample feature set: the artifact,
its files and columns, lineage, catalog, the whitelist; bad requests refused, nothing written."""
import json
import re
import shutil

import pandas as pd
import pytest

from config.errors import BadInput, NotFound
from engine.analysis.exclusions import parse_excluded, parse_feature_list
from engine.analysis.importance import IMPORTANCE_COLUMNS
from engine.analysis.outliers import OUTLIER_COLUMNS
from engine.analysis.report import included_features, open_report, report_zip, save_whitelist
from engine.analysis.statistics import STAT_COLUMNS
from engine.cli import main as cli_main
from storage.artifacts import create_artifact, read_manifest
from storage.catalog import Catalog
from storage.workspace import Workspace
from tests.analysis.helpers import SEED_FILES
from tests.conftest import run_cli, snapshot


@pytest.fixture(scope="module")
def report(sample_feature_set, tmp_path_factory):
    """One report made through the CLI, as a user would: (workspace, featureset id, JSON document)."""
    src, fid = sample_feature_set
    root = tmp_path_factory.mktemp("analysis") / "workspace"
    shutil.copytree(src, root)
    w = Workspace.open(root)
    Catalog(w).rebuild()
    r = run_cli("analyze", fid, "--target", "direction_4h", "--json", env={"KLINELAB_HOME": str(root)})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[100%]" in r.stderr  # progress goes to stderr
    return w, fid, json.loads(r.stdout)


def test_json_names_the_report_and_its_folder(report):
    w, fid, doc = report
    rid = doc["report_id"]
    assert rid.startswith("analysis-") and doc["path"] == str(w.artifact_dir("analysis", rid))
    assert doc["featureset_id"] == fid and doc["target"] == "direction_4h"
    assert doc["summary"]["n_included"] + doc["summary"]["n_excluded"] == doc["summary"]["n_features"] >= 150


def test_every_file_with_the_seed_columns(report):
    w, _fid, doc = report
    d = w.artifact_dir("analysis", doc["report_id"])
    n = doc["summary"]["n_features"]
    for name, cols in SEED_FILES.items():
        df = pd.read_csv(d / name)
        assert list(df.columns) == cols, name
    assert len(pd.read_csv(d / "feature_statistics.csv")) == n
    imp = pd.read_csv(d / "feature_importance.csv")
    assert len(imp) == n and imp["rank"].tolist() == list(range(1, n + 1))
    assert (pd.read_csv(d / "highly_correlated_pairs_threshold_0.95.csv")["Abs_Correlation"] > 0.95).all()
    bycls = pd.read_csv(d / "feature_by_class_statistics.csv")
    assert set(bycls["class_name"]) == {"DOWN", "FLAT", "UP"} and len(bycls) == 3 * n
    excluded = parse_excluded((d / "excluded_features.txt").read_text())
    included = parse_feature_list((d / "included_features.txt").read_text())
    flat = [f for fs in excluded.values() for f in fs]
    assert sorted(flat) == sorted(pd.read_csv(d / "exclusions.csv")["feature"])
    assert set(flat).isdisjoint(included) and len(flat) + len(included) == n
    assert any(t.startswith("High correlation") for t in excluded)  # the real set has near-duplicates (RSI / CMO ...)
    corr = pd.read_csv(d / "feature_correlation.csv", index_col=0)
    assert corr.shape == (n, n)
    pngs = {p.relative_to(d).as_posix() for p in (d / "plots").rglob("*.png")}
    assert pngs == {f"plots/{n}.png" for n in ("importance", "correlation_heatmap", "drift", "distributions", "by_class")}
    assert all((d / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_html_is_one_self_contained_file(report):
    w, _fid, doc = report
    html = (w.artifact_dir("analysis", doc["report_id"]) / "feature_analysis_report.html").read_text()
    assert not re.search(r"<script[^>]*\ssrc=", html) and not re.search(r"<link[^>]*href=[\"']?https?:", html)
    assert "Plotly.newPlot" in html and html.count("Plotly.newPlot") >= 5
    for section in ("Summary", "Importance", "Distributions", "By class", "Correlation", "Outliers", "Drift", "Exclusions"):
        assert f">{section}" in html, section


def test_manifest_lineage_and_catalog(report):
    w, fid, doc = report
    rid = doc["report_id"]
    m = read_manifest(w, rid, "analysis")
    assert m.parents == [fid] and m.params["target"] == "direction_4h"
    sp = m.extra["split"]
    fs = read_manifest(w, fid, "features")
    assert sp["purge_bars"] == fs.extra["max_horizon_bars"]
    assert pd.Timestamp(sp["train_end"]) < pd.Timestamp(sp["val_start"]) < pd.Timestamp(sp["test_start"])
    assert m.metrics["n_features"] == doc["summary"]["n_features"] and not m.verify_files(w.artifact_dir("analysis", rid))
    cat = Catalog(w)
    assert cat.get(rid)["kind"] == "analysis"
    assert rid in cat.query(kind="analysis", parent=fid)["id"].tolist()
    assert fid in cat.lineage(rid)["ancestors"]["id"].tolist()
    assert rid in cat.query(kind="analysis", metric="n_excluded", metric_min=1)["id"].tolist()


def test_report_reads_back_and_whitelist_edits_make_a_new_report(report):
    w, fid, doc = report
    rid = doc["report_id"]
    v = open_report(w, rid)
    feats = read_manifest(w, fid, "features").extra["feature_names"]
    inc = included_features(w, rid, available=feats)
    assert inc == v.included and len(v.features) == len(feats)
    card = v.feature_card(v.included[0])
    assert len(card["statistics"]) == 1 and len(card["by_class"]) == 3
    new = save_whitelist(w, rid, inc[:10])
    assert included_features(w, new) == inc[:10]
    assert included_features(w, rid) == inc  # the original stays as computed
    m = read_manifest(w, new, "analysis")
    assert m.parents[:2] == [rid, fid] and m.extra["whitelist_of"] == rid
    assert "feature_statistics.csv" in {f.path for f in m.files}
    with pytest.raises(BadInput, match="not features of report"):
        save_whitelist(w, rid, ["no_such_feature"])
    with pytest.raises(BadInput, match="does not have"):
        included_features(w, rid, available=feats[:5])
    assert len(report_zip(w, rid)) > 100_000


@pytest.fixture
def fs_without_target(feature_ws, ws):
    """A copy of the sample feature set whose manifest lacks direction_4h."""
    m = read_manifest(ws, feature_ws, "features")
    src = ws.artifact_dir("features", feature_ws)
    with create_artifact(ws, "features", name="no direction_4h", symbols=m.symbols, timeframe=m.timeframe,
                         parents=m.parents) as d:
        for p in src.iterdir():
            if p.is_dir():  # the by_symbol layout: a folder per table
                shutil.copytree(p, d.path(p.name))
            elif p.name != "manifest.json":
                shutil.copy2(p, d.path(p.name))
        d.manifest.extra = {**m.extra, "target_names": [t for t in m.extra["target_names"] if t != "direction_4h"]}
    return d.id


@pytest.mark.parametrize("args,match", [
    (["--target", "no_such_target"], "has no target 'no_such_target'"),
    (["--target", "direction_4h", "--min-class-rows", "100000"], r"too few train rows per class: class 0 \(DOWN\)"),
    (["--target", "direction_4h", "--train-end", "yesterday-ish"], "is not a date"),
    (["--target", "direction_4h", "--train-end", "2020-01-01"], "before the first bar"),
    (["--target", "direction_4h", "--corr-threshold", "2"], "correlation threshold"),
])
def test_bad_requests_exit_2_and_write_nothing(feature_ws, ws, capsys, args, match):
    before = snapshot(ws.root)
    assert cli_main(["analyze", feature_ws, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and re.search(match, err[-1]), err[-1]
    assert snapshot(ws.root) == before


def test_a_feature_set_without_the_target_and_unknown_ids(fs_without_target, ws, capsys):
    before = snapshot(ws.root)
    assert cli_main(["analyze", fs_without_target, "--target", "direction_4h"]) == 2
    assert "has no target 'direction_4h'" in capsys.readouterr().err
    assert cli_main(["analyze", "features-nope", "--target", "direction_4h"]) == 2
    assert "no artifact with id 'features-nope'" in capsys.readouterr().err
    assert snapshot(ws.root) == before
    with pytest.raises(NotFound):
        open_report(ws, "analysis-nope")


def test_cli_error_is_one_line_on_stderr(feature_ws, ws):
    r = run_cli("analyze", feature_ws, "--target", "no_such_target", "--json")
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert [ln for ln in lines if ln.startswith("error:")] == lines[-1:]  # progress lines, then one error line
    assert lines[-1].startswith("error: feature set")


def test_a_seed_made_report_downloaded_from_the_hub_opens(report):
    """Only the seed's files with the seed's columns (its by-class table has no quantiles and
    'differentiation_cv' rows), under a Hub origin: the report opens and its HTML renders."""
    w, _fid, doc = report
    src = w.artifact_dir("analysis", doc["report_id"])
    seed_cols = {"feature_statistics.csv": STAT_COLUMNS, "feature_importance.csv": IMPORTANCE_COLUMNS,
                 "outliers_analysis.csv": OUTLIER_COLUMNS[:7],
                 "feature_by_class_statistics.csv": ["feature", "class", "count", "mean", "std", "median", "min", "max"]}
    with create_artifact(w, "analysis", name="seed report", origin="huggingface:analyst/xauusd-feature-analysis") as d:
        for name, cols in seed_cols.items():
            df = pd.read_csv(src / name)[cols]
            if name.startswith("feature_by_class"):
                df = pd.concat([df, pd.DataFrame({"feature": ["rsi_14"], "class": ["differentiation_cv"], "count": [1],
                                                  "mean": [0.1]})])
            df.to_csv(d.path(name), index=False)
    v = open_report(w, d.id)
    assert v.meta["origin"].startswith("huggingface:") and len(v.features) == doc["summary"]["n_features"]
    assert v.included == [] and v.drift.empty and v.corr.empty
    from engine.analysis.html import build_html

    html = build_html(v)
    assert "Plotly.newPlot" in html and ">Importance" in html and ">Drift" not in html


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_report_round_trip_through_the_hub_opens_from_the_catalog(report, hub_server, tmp_path):
    """Upload the report with Cloud Sync to the Hub-compatible test server, download it into a
    fresh workspace: it is in the catalog with origin huggingface:<repo> and opens whole."""
    w, _fid, doc = report
    rid, repo = doc["report_id"], "analyst/feature-analysis"
    env = {"HF_TOKEN": hub_server.token, "KLINELAB_HUB_BACKOFF_S": "0.01"}
    up = run_cli("sync", "hub", "upload", "--repo-id", repo, "--group", "analysis", "--ids", rid, "--json",
                 env={**env, "KLINELAB_HOME": str(w.root)})
    assert up.returncode == 0, up.stderr[-2000:]
    other = Workspace.open(tmp_path / "analyst")
    down = run_cli("sync", "hub", "download", "--repo-id", repo, "--group", "analysis", "--json",
                   env={**env, "KLINELAB_HOME": str(other.root)})
    assert down.returncode == 0, down.stderr[-2000:]
    from engine.analysis.report import list_reports

    listed = list_reports(other)
    assert listed["id"].tolist() == [rid] and listed["origin"].iloc[0] == f"huggingface:{repo}"
    mine, theirs = open_report(w, rid), open_report(other, rid)
    assert theirs.included == mine.included and theirs.meta["target"] == "direction_4h"
    pd.testing.assert_frame_equal(theirs.importance, mine.importance)
    assert included_features(other, rid) == included_features(w, rid)
