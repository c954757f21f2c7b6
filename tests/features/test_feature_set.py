"""The feature-set artifact as other areas consume it (docs/CONTRACTS.md)."""
import json

import numpy as np
import pandas as pd

from engine.features.store import load_feature_set
from engine.features.targets import TARGET_NAMES
from tests.conftest import FEATURE_SAMPLE_SYMBOLS, run_cli


def test_fixture_feature_set_follows_the_contract(feature_ws, ws):
    fs = load_feature_set(ws, feature_ws)
    assert fs.symbols == sorted(FEATURE_SAMPLE_SYMBOLS) and fs.timeframe == "15m"
    assert len(fs.feature_names) >= 150
    assert fs.target_names == TARGET_NAMES and len(fs.target_names) == 24
    assert fs.max_horizon_bars == 48  # 12h of 15m bars
    assert fs.leaking == [] and fs.usable_features() == fs.feature_names
    X, y, lab = fs.features(), fs.targets(), fs.labels()
    assert list(X.columns[:2]) == ["timestamp", "symbol"] and list(y.columns[2:]) == TARGET_NAMES
    assert len(X) == len(y) == len(lab) == fs.manifest.metrics["rows"]
    for other in (y, lab):
        assert (other["timestamp"].to_numpy() == X["timestamp"].to_numpy()).all()
        assert (other["symbol"].to_numpy() == X["symbol"].to_numpy()).all()
    # sorted by symbol then timestamp, no duplicates
    key = X[["symbol", "timestamp"]]
    assert key.equals(key.sort_values(["symbol", "timestamp"]).reset_index(drop=True))
    assert not key.duplicated().any()
    assert all(X[c].dtype == np.float32 for c in fs.feature_names)
    assert str(X["timestamp"].dtype) == "datetime64[ms, UTC]"
    meta = fs.target_meta
    assert meta["direction_4h"]["classes"] == ["DOWN", "FLAT", "UP"] and meta["direction_4h"]["horizon_bars"] == 16
    assert meta["future_return_15m"]["type"] == "regression" and meta["long_reach_1pct_4h"]["type"] == "binary"
    parents = fs.manifest.parents
    assert {"ohlcv-BTCUSDT-15m", "ohlcv-ETHUSDT-15m", "ohlcv-SOLUSDT-15m"} <= set(parents)
    assert str(lab["confirm_time"].dtype) == "datetime64[ms, UTC]"
    piv = lab["pivot"] == 1
    assert piv.mean() > 0.005 and (lab.loc[piv, "pivot_label"].between(0, 3)).all()
    assert (lab.loc[piv, "confirm_time"] > lab.loc[piv, "timestamp"]).all()
    assert lab.loc[~piv, "confirm_time"].isna().all() and (lab.loc[~piv, "pivot_label"] == -1).all()
    zz = fs.zigzag()
    assert list(zz.columns) == ["symbol", "pivot_time", "confirm_time", "price", "side", "type", "label"]
    assert set(zz["type"]) == {"HH", "LH", "HL", "LL"} and (zz["confirm_time"] > zz["pivot_time"]).all()
    audit = json.loads((fs.path / "audit.json").read_text())
    assert audit["passed"] is True and len(audit["cut_points"]) >= 3


def test_last_rows_of_each_horizon_are_null(feature_ws, ws):
    fs = load_feature_set(ws, feature_ws)
    y = fs.targets()
    for sym, g in y.groupby("symbol"):
        for name, m in fs.target_meta.items():
            h = m["horizon_bars"]
            col = g[name].to_numpy()
            assert np.isnan(col[-h:]).all(), (sym, name)
            assert not np.isnan(col[-h - 200:-h]).any(), (sym, name)


def test_cli_build_json_lists_tables_and_names(sample_ws, capsys):
    r = run_cli("features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-02-01",
                "--families", "returns,time", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["featureset_id"].startswith("features-") and doc["cached"] is False
    f = pd.read_parquet(doc["features_path"])
    t = pd.read_parquet(doc["targets_path"])
    # by_symbol layout: a folder per table (read as one dataset), one file per symbol in it
    assert doc["layout"] == "by_symbol"
    assert doc["feature_tables"] == [f"{doc['features_path']}/BTCUSDT.parquet"]
    assert doc["target_tables"] == [f"{doc['targets_path']}/BTCUSDT.parquet"]
    assert list(f.columns) == ["timestamp", "symbol", *doc["feature_names"]]
    assert list(t.columns) == ["timestamp", "symbol", *doc["target_names"]]
    assert len(f) == len(t) and (f["timestamp"] == t["timestamp"]).all()
    from engine.cli import main  # the same request again (in-process): the stored set is returned

    capsys.readouterr()
    assert main(["features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-02-01",
                 "--families", "time,returns", "--json", "--quiet"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["featureset_id"] == doc["featureset_id"] and again["cached"] is True
