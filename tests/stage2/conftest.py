"""Fixtures of the Stage 1 / Stage 2 tests."""
from __future__ import annotations

import shutil

import pytest

from tests.stage2.helpers import make_pair

# a few real features of the feature set, enough for a tiny Stage 1 that trains in seconds
S1_FEATURES = ["logret_1", "logret_4", "high_ret_1", "low_ret_1", "close_location", "rsi_14", "stoch_k_14",
               "willr_14", "bb_pctb_20", "dc_pos_20", "atr_pct_14", "volume_z_20"]


@pytest.fixture(scope="session")
def btc_candles(_sample_template):
    """The last ~4 months of the bundled sample's BTCUSDT 15m candles (canonical columns)."""
    from engine.data.store import load_candles
    from storage.workspace import Workspace

    return load_candles(Workspace.open(_sample_template), "BTCUSDT", "15m").tail(12_000).reset_index(drop=True)


@pytest.fixture(scope="session")
def small_pair(btc_candles):
    """A PairData of real candles: 6 TA-Lib features, ZigZag (1 %) labels."""
    return make_pair(btc_candles)


@pytest.fixture(scope="session")
def stage1_template(sample_feature_set, tmp_path_factory):
    """``(root, featureset_id, stage1 result)``: the session feature set (BTC/ETH/SOL 15m, sample)
    plus a tiny Stage 1 trained on BTCUSDT (12 features x 8 bars, 2 epochs, 3 out-of-fold folds).  Read-only."""
    from engine.stage2.pipeline import train_stage1_pair
    from engine.stage2.stage1_train import Stage1TrainConfig
    from storage.catalog import Catalog
    from storage.workspace import Workspace

    src, fsid = sample_feature_set
    root = tmp_path_factory.mktemp("stage1-template") / "workspace"
    shutil.copytree(src, root)
    w = Workspace.open(root)
    Catalog(w).rebuild()
    res = train_stage1_pair(w, "BTCUSDT", "15m", Stage1TrainConfig(sequence_length=8, units=8, epochs=2, patience=1,
                                                                   features=S1_FEATURES, oof_folds=3), featureset_id=fsid)
    return root, fsid, res


@pytest.fixture
def stage1_ws(ws, stage1_template):
    """The per-test workspace holding the sample, the feature set and the trained Stage 1."""
    root, fsid, res = stage1_template
    shutil.copytree(root, ws.root, dirs_exist_ok=True)
    from storage.catalog import Catalog

    Catalog(ws).rebuild()
    return fsid, res
