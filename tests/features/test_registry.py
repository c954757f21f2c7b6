"""The registry: unique names, honest declarations (inputs, lookbacks), >= 150 features on
plain OHLCV, every family producing exactly what it declares."""
import numpy as np
import pytest

from config.errors import BadInput
from engine.features.context import Universe
from engine.features.registry import BASE_INPUTS, Family, Registry, registry
from tests.features.conftest import real_bars


def test_no_feature_name_is_defined_twice():
    reg = registry()
    names = [f.name for fam in reg.families.values() for f in fam.features]
    assert len(names) == len(set(names)) == len(reg)


def test_a_duplicate_definition_is_refused():
    a = Family("a", "A", lambda b, c: {}).declare([("x_1", 1, "close", "x")])
    b = Family("b", "B", lambda b, c: {}).declare([("x_1", 3, "close", "the same name again")])
    with pytest.raises(ValueError, match="x_1.*defined twice"):
        Registry([a, b])
    with pytest.raises(ValueError, match="registered twice"):
        Registry([a, Family("a", "again", lambda b, c: {})])
    with pytest.raises(ValueError, match="unknown input"):
        Family("c", "C", lambda b, c: {}).declare([("y", 1, "close open_interest", "y")])


def test_at_least_150_features_on_plain_ohlcv_and_more_with_optional_inputs():
    reg = registry()
    plain, skipped = reg.select(None, BASE_INPUTS)
    assert len(plain) >= 150, len(plain)
    assert {s for s in skipped} >= {"taker_buy_ratio", "funding_rate", "btc_corr_96", "xs_rank_ret_16"}
    full, _ = reg.select(None, BASE_INPUTS | {"taker_buy_base", "trades", "funding_rate", "btc", "universe"})
    assert len(full) == len(reg) > len(plain)
    for f in reg.features.values():
        assert f.description and f.lookback >= 0 and f.inputs
    assert set(reg.families) == {"returns", "trend", "momentum", "volatility", "volume", "microstructure", "fractal",
                                 "time", "cross_asset", "funding"}


def test_unknown_family_is_a_clear_error():
    with pytest.raises(BadInput, match="unknown feature family nope"):
        registry().check_families(["trend", "nope"])


@pytest.fixture(scope="module")
def computed(cfg):
    """Every symbol family on 3,000 real BTC bars (+ synthetic taker-buy / trades + real funding)."""
    import pandas as pd

    b = real_bars("BTCUSDT", 3000)
    rng = np.random.default_rng(0)
    b.optional["taker_buy_base"] = b.volume * rng.uniform(0.3, 0.7, len(b))
    b.optional["trades"] = np.maximum(1.0, np.round(b.volume * 10))
    f = pd.read_parquet("engine/data/sample/BTC_USDT_USDT-1h-funding_rate.parquet")
    b.funding = pd.DataFrame({"timestamp": f["date"].astype("int64").to_numpy(), "funding_rate": f["open"].to_numpy()})
    out = {}
    for fam in registry().families.values():
        if fam.scope == "symbol":
            out[fam.name] = fam.compute(b, cfg)
    eth = real_bars("ETHUSDT", 3000)
    u = Universe.build({"BTCUSDT": b, "ETHUSDT": eth}, "15m", "BTCUSDT", {}, {"BTCUSDT": "Majors", "ETHUSDT": "L1"})
    out["cross_asset"] = registry().families["cross_asset"].compute(u, cfg)["ETHUSDT"]
    return b, out


def test_each_family_computes_exactly_what_it_declares(computed):
    b, out = computed
    for name, fam in registry().families.items():
        declared = [f.name for f in fam.features]
        assert list(out[name]) == declared or set(out[name]) == set(declared), name
        for k, v in out[name].items():
            assert v.shape == (len(b),) and v.dtype == np.float64, k


def test_declared_lookbacks_cover_the_first_value(computed):
    """lookback = bars of history needed: the first defined value is at row <= lookback, and
    every row after the lookback is defined on clean real data (no NaN, no inf)."""
    _b, out = computed
    reg = registry()
    for fam, vals in out.items():
        if fam == "funding":  # counted in settlements (8-hourly), not bars: checked in test_indicators
            continue
        for name, v in vals.items():
            lb = reg.features[name].lookback
            finite = np.isfinite(v)
            assert finite.any(), name
            assert int(np.argmax(finite)) <= lb, (name, int(np.argmax(finite)), lb)
            assert finite[lb:].all(), (name, np.flatnonzero(~finite[lb:])[:5] + lb)
