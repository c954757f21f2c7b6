"""On a feature set built from ../shared/data/binance-spot-15m-2025 (BTC + ETH, the last six months
of real 15m candles): every file with the right columns, and the statistics provably from the train
rows only: a copy of the feature set whose validation / test rows are changed gives the same
train-only tables, while the drift (which looks at those rows) moves."""
import shutil

import numpy as np
import pandas as pd

from engine.analysis.options import AnalysisOptions
from engine.analysis.pipeline import analyze
from engine.features.pipeline import build_feature_set
from engine.features.store import load_feature_set
from engine.splits import SplitPlan
from storage.artifacts import create_artifact, read_manifest
from tests.analysis.helpers import SEED_FILES
from tests.conftest import run_cli

TRAIN_ONLY = ["feature_statistics.csv", "feature_importance.csv", "outliers_analysis.csv",
              "feature_by_class_statistics.csv", "highly_correlated_pairs_threshold_0.95.csv", "exclusions.csv",
              "feature_correlation.csv"]
OPTS = AnalysisOptions(mi_max_rows=4000, plots_top=3)  # the whole pipeline, fewer panels and MI rows: quicker


def _tamper(ws, fid: str, plan: SplitPlan) -> str:
    """A copy of the feature set with every validation / test row of features and targets changed."""
    fs = load_feature_set(ws, fid)
    m = read_manifest(ws, fid, "features")
    rng = np.random.default_rng(0)
    with create_artifact(ws, "features", name="tampered val/test", symbols=m.symbols, timeframe=m.timeframe,
                         parents=[fid]) as d:
        for name, df in (("features.parquet", fs.features()), ("targets.parquet", fs.targets())):
            out = plan.assign(df["timestamp"]) != "train"
            cols = [c for c in df.columns if c not in ("timestamp", "symbol")]
            vals = df[cols].to_numpy(dtype=float, copy=True)
            if name == "features.parquet":
                vals[out] = vals[out] * 3.0 + rng.normal(0, 1, (int(out.sum()), len(cols)))
            else:
                vals[out] = vals[rng.permutation(np.flatnonzero(out))]  # shuffled target rows
            df = df.copy()
            df[cols] = vals.astype(df[cols].dtypes.iloc[0]) if name == "features.parquet" else vals
            df.to_parquet(d.path(name), index=False)
        for p in fs.path.iterdir():
            if p.is_file() and p.name not in ("manifest.json", "features.parquet", "targets.parquet"):
                shutil.copy2(p, d.path(p.name))
        d.manifest.extra = dict(m.extra)
    return d.id


def test_real_candles_report_is_train_only(shared_data, ws):
    src = shared_data / "binance-spot-15m-2025"
    for sym in ("BTCUSDT", "ETHUSDT"):
        r = run_cli("data", "import", str(src / f"{sym}_15m.parquet"), "--quiet")
        assert r.returncode == 0, r.stderr
    fid = build_feature_set(ws, ["BTCUSDT", "ETHUSDT"], "15m", start="2025-10-10")["featureset_id"]
    a = analyze(ws, fid, "direction_4h", options=OPTS)
    da = ws.artifact_dir("analysis", a["report_id"])
    assert a["summary"]["train_rows"] > 22_000 and a["summary"]["n_features"] >= 150
    for f in TRAIN_ONLY + ["feature_drift.csv", "feature_distributions.csv", "excluded_features.txt",
                           "included_features.txt", "feature_analysis_report.html", "plots/importance.png"]:
        assert (da / f).is_file(), f
    for name, cols in SEED_FILES.items():
        assert list(pd.read_csv(da / name, nrows=5).columns) == cols, name
    stats = pd.read_csv(da / "feature_statistics.csv")
    assert (stats["count"] <= a["summary"]["train_rows"]).all() and stats["count"].max() > 22_000

    plan = SplitPlan.from_dict(a["split"])
    tampered = _tamper(ws, fid, plan)
    b = analyze(ws, tampered, "direction_4h", options=OPTS)
    assert b["split"] == a["split"]
    db = ws.artifact_dir("analysis", b["report_id"])
    for f in TRAIN_ONLY:
        pd.testing.assert_frame_equal(pd.read_csv(da / f), pd.read_csv(db / f), obj=f)
    for f in ("excluded_features.txt", "included_features.txt"):  # identical but for the report id in the header
        body = [(d / f).read_text().replace(r["report_id"], "ID") for d, r in ((da, a), (db, b))]
        assert body[0] == body[1], f
    drift_a, drift_b = pd.read_csv(da / "feature_drift.csv"), pd.read_csv(db / "feature_drift.csv")
    assert drift_b["psi_test"].mean() > drift_a["psi_test"].mean() + 0.5 and drift_b["drifted"].all()
    assert not np.allclose(pd.read_csv(da / "feature_distributions.csv")["test"],
                           pd.read_csv(db / "feature_distributions.csv")["test"])


def test_tamper_really_changes_val_and_test(shared_data, ws):
    """Guard for the test above: the copy differs exactly outside the train split."""
    src = shared_data / "binance-spot-15m-2025"
    r = run_cli("data", "import", str(src / "BTCUSDT_15m.parquet"), "--quiet")
    assert r.returncode == 0, r.stderr
    fid = build_feature_set(ws, ["BTCUSDT"], "15m", families=["returns", "momentum"], start="2026-01-01", audit=False)["featureset_id"]
    fs = load_feature_set(ws, fid)
    from engine.splits import chronological_split

    plan = chronological_split(fs.features(["rsi_14"])["timestamp"], "15m", purge_bars=fs.max_horizon_bars)
    t = load_feature_set(ws, _tamper(ws, fid, plan))
    a, b = fs.features(), t.features()
    train = plan.assign(a["timestamp"]) == "train"
    cols = fs.feature_names
    pd.testing.assert_frame_equal(a[train][cols], b[train][cols])
    changed = ~np.isclose(a.loc[~train, cols].to_numpy(float), b.loc[~train, cols].to_numpy(float), equal_nan=True)
    assert changed.mean() > 0.95
