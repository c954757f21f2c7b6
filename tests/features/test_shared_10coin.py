"""The 10-coin 15m set of ../shared/data (a year, identical timestamps): >= 150 features,
exactly 24 targets, zero leaking features, the last h rows of each horizon's targets null."""
import numpy as np

from engine.features.pipeline import build_feature_set
from engine.features.store import load_feature_set
from engine.features.targets import TARGET_NAMES

COINS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT"]


def test_ten_coin_full_year_build(ws, shared_data):
    from engine.data.importer import import_path

    res = import_path(ws, shared_data / "binance-spot-15m-2025")
    assert len(res.imported) == 10
    doc = build_feature_set(ws, COINS, "15m")
    fs = load_feature_set(ws, doc["featureset_id"])
    assert len(fs.feature_names) >= 150 and "xs_rank_ret_16" in fs.feature_names and "btc_corr_96" in fs.feature_names
    assert fs.target_names == TARGET_NAMES
    assert fs.leaking == [] and fs.manifest.extra["audit"]["passed"] is True
    assert fs.manifest.extra["audit"]["n_features"] == len(fs.feature_names)
    y = fs.targets()
    assert len(y) == fs.manifest.metrics["rows"] > 10 * 33_000
    for sym, g in y.groupby("symbol", sort=False):
        for name, m in fs.target_meta.items():
            col = g[name].to_numpy()
            h = m["horizon_bars"]
            assert np.isnan(col[-h:]).all() and not np.isnan(col[-h - 1]), (sym, name)
    X = fs.features(symbols=["LINKUSDT"])
    assert X["sector_mean_ret_1"].notna().mean() > 0.99  # LINK has no sector peer in the set: falls back to the rest
