"""Fixtures of the Stage 1 / Stage 2 tests."""
from __future__ import annotations

import pytest

from tests.stage2.helpers import make_pair


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
