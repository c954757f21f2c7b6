"""`features build | audit | list` as a user runs them: bad requests, fallbacks, cache, jobs."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.features.config import parse_config
from engine.features.store import load_feature_set
from tests.conftest import error_line, run_cli, snapshot

RECENT = "2026-02-15"  # ~2 months of the sample: quick builds


def _error_line(r):
    return error_line(r.stderr)


class Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def engine_cli(capsys):
    """``python -m engine ...`` in this process (same code path as the subprocess, without the
    seconds of interpreter start-up): returns returncode, stdout, stderr."""
    from engine.cli import main

    def run(*args):
        capsys.readouterr()
        rc = main(["--quiet", *args])
        out = capsys.readouterr()
        return Run(rc, out.out, out.err)

    return run


@pytest.mark.parametrize("args,message", [
    (["--symbols", "NOPEUSDT", "--timeframe", "15m"], "unknown symbol NOPEUSDT"),
    (["--symbols", "BTCUSDT,NOPEUSDT", "--timeframe", "15m"], "unknown symbol NOPEUSDT"),
    (["--symbols", "BTCUSDT", "--timeframe", "1h"], "mismatched timeframe: BTCUSDT has 15m candles, not 1h"),
    (["--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-04-05"], "too little history: BTCUSDT 15m has"),
    (["--symbols", "BTCUSDT", "--timeframe", "15m", "--families", "trend,astrology"], "unknown feature family astrology"),
    (["--symbols", "BTCUSDT", "--timeframe", "7m"], "unsupported timeframe"),
    (["--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "yesterday-ish"], "start time 'yesterday-ish' is not a date"),
    (["--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-03-01", "--end", "2026-02-01"], "is not after start"),
    (["--symbols", "BTCUSDT,btcusdt", "--timeframe", "15m"], "given twice: BTCUSDT"),
    (["--symbols", "BTCUSDT", "--timeframe", "15m", "--families", "funding"], "none of the features of funding"),
])
def test_bad_requests_give_one_clear_error_and_write_nothing(sample_ws, engine_cli, args, message):
    before = snapshot(sample_ws.root)
    r = engine_cli("features", "build", *args, "--json")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in _error_line(r)
    assert r.stdout == ""
    assert snapshot(sample_ws.root) == before


def test_unknown_symbol_from_a_real_subprocess(sample_ws):
    before = snapshot(sample_ws.root)
    r = run_cli("features", "build", "--symbols", "BTCUSDT,NOPEUSDT", "--timeframe", "15m", "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert _error_line(r).startswith("error: unknown symbol NOPEUSDT: there are no candles for it in the workspace")
    assert snapshot(sample_ws.root) == before


def test_bad_config_is_refused_before_anything_is_written(sample_ws, engine_cli, tmp_path):
    bad = tmp_path / "features.yaml"
    text = Path("config/features.yaml").read_text().replace("fee_pct_per_side: null", "fee_pct_per_side: -1")
    bad.write_text(text)
    before = snapshot(sample_ws.root)
    r = engine_cli("features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--config", str(bad))
    assert r.returncode == 2 and "targets.fee_pct_per_side = -1 is out of range" in _error_line(r)
    assert snapshot(sample_ws.root) == before


def test_config_validation():
    import yaml

    good = yaml.safe_load(Path("config/features.yaml").read_text())
    cfg = parse_config(good)
    assert cfg.sector_of("ETHUSDT-PERP") == "L1" and cfg.sector_of("FOOUSDT") is None
    assert cfg.zigzag_deviation("15m") == 1.5
    for mutate, msg in [
        (lambda d: d.update(extra=1), "unknown key(s) extra"),
        (lambda d: d["zigzag"]["deviation_pct"].update({"15m": "wide"}), "must be a number"),
        (lambda d: d["zigzag"]["deviation_pct"].update({"7m": 1.0}), "unknown key(s) 7m"),
        (lambda d: d["targets"]["direction_threshold_pct"].pop("4h"), "missing key(s) 4h"),
        (lambda d: d["sectors"].update(Meme2=["ETH"]), "ETH is in two sectors"),
        (lambda d: d["audit"].update(cut_fractions=[]), "non-empty list"),
        (lambda d: d.pop("audit"), "missing key(s) audit"),
        (lambda d: d.update(btc_symbol="b t c"), "btc_symbol"),
    ]:
        d = yaml.safe_load(Path("config/features.yaml").read_text())
        mutate(d)
        with pytest.raises(BadInput, match=msg.replace("(", r"\(").replace(")", r"\)")):
            parse_config(d)


def test_spot_without_optional_columns_falls_back_cleanly(sample_ws, engine_cli):
    r = engine_cli("features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", RECENT,
                "--families", "microstructure,funding,volume", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    skipped = doc["skipped_features"]
    assert skipped["taker_buy_ratio"] == "needs taker_buy_base" and skipped["funding_rate"] == "needs funding_rate"
    assert "bvc_imbalance_20" in doc["feature_names"] and "vpin_50" in doc["feature_names"]
    assert not any(n.startswith(("taker_", "funding_")) for n in doc["feature_names"])
    X = pd.read_parquet(doc["features_path"])
    assert not X[doc["feature_names"]].isna().any().any()


def test_perpetual_with_funding_and_a_file_with_taker_buy_get_their_features(sample_ws, engine_cli, tmp_path):
    r = engine_cli("features", "build", "--symbols", "BTCUSDT-PERP", "--timeframe", "15m", "--start", RECENT,
                "--families", "funding,time", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"funding_rate", "funding_mean_21", "funding_z_90"} <= set(doc["feature_names"])
    fs = load_feature_set(sample_ws, doc["featureset_id"])
    assert "ohlcv-BTCUSDT-PERP-funding" in fs.manifest.parents
    X = fs.features(["funding_rate"])
    assert X["funding_rate"].notna().all() and X["funding_rate"].nunique() > 10
    # a Binance-style file with taker-buy volume
    src = pd.read_parquet("engine/data/sample/ETHUSDT_15m.parquet").iloc[-3000:]
    src = src.rename(columns={"amount": "quote_volume"})
    src["taker_buy_base"] = src["volume"] * np.random.default_rng(0).uniform(0.3, 0.7, len(src))
    path = tmp_path / "TKRUSDT_15m.parquet"
    src.to_parquet(path)
    imp = engine_cli("data", "import", str(path))
    assert imp.returncode == 0, imp.stderr
    r = engine_cli("features", "build", "--symbols", "TKRUSDT", "--timeframe", "15m", "--families", "microstructure", "--json")
    assert r.returncode == 0, r.stderr
    names = json.loads(r.stdout)["feature_names"]
    assert {"taker_buy_ratio", "taker_imbalance_20", "taker_ratio_z_96"} <= set(names)


def test_build_runs_as_a_background_job_with_progress(sample_ws):
    from engine import jobs

    st = jobs.submit(sample_ws, ["features", "build", "--symbols", "ETHUSDT,SOLUSDT", "--timeframe", "15m",
                                 "--start", RECENT, "--families", "returns,cross_asset"])
    st = jobs.wait(sample_ws, st.id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(sample_ws, st.id, 3000)
    assert st.progress == 1.0
    fid = st.result["featureset_id"]
    assert fid in st.artifacts
    log = jobs.log_tail(sample_ws, st.id, 20000)
    assert "features: ETHUSDT" in log and "leakage audit" in log
    fs = load_feature_set(sample_ws, fid)
    assert "btc_corr_96" in fs.feature_names and "ohlcv-BTCUSDT-15m" in fs.manifest.parents  # BTC as reference


def test_list_and_audit_commands(feature_ws, ws, engine_cli):
    r = engine_cli("features", "list", "--json")
    assert r.returncode == 0
    sets = json.loads(r.stdout)["feature_sets"]
    assert [s["id"] for s in sets] == [feature_ws] and sets[0]["n_features"] >= 150
    r = engine_cli("features", "list", "--registry", "--family", "fractal", "--json")
    reg = json.loads(r.stdout)
    assert reg["count"] == len(reg["features"]) >= 15 and {f["family"] for f in reg["features"]} == {"fractal"}
    assert any(f["name"] == "hurst_dfa_256" and f["lookback"] == 256 for f in reg["features"])
    before = snapshot(ws.root)
    r = engine_cli("features", "audit", feature_ws, "--window", "1200", "--cuts", "0.6,0.9", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["passed"] is True and doc["n_leaking"] == 0 and len(doc["cut_points"]) == 2
    assert doc["data_changed_since_build"] is False
    assert snapshot(ws.root) == before  # the audit writes nothing
    r = engine_cli("features", "audit", "features-nope")
    assert r.returncode == 2 and "no artifact with id 'features-nope'" in _error_line(r)


def test_one_hour_build_scales_horizons_and_zigzag(sample_ws, engine_cli):
    r = engine_cli("data", "resample", "ETHUSDT", "--from", "15m", "--to", "1h")
    assert r.returncode == 0, r.stderr
    r = engine_cli("features", "build", "--symbols", "ETHUSDT", "--timeframe", "1h", "--families", "returns,trend", "--json")
    assert r.returncode == 0, r.stderr
    fs = load_feature_set(sample_ws, json.loads(r.stdout)["featureset_id"])
    assert fs.timeframe == "1h" and fs.max_horizon_bars == 12
    assert fs.target_meta["future_return_15m"]["horizon_bars"] == 1 and fs.target_meta["direction_4h"]["horizon_bars"] == 4
    assert fs.manifest.extra["zigzag"]["deviation_pct"] == 2.5
    y = fs.targets(["future_return_1h", "bars_to_peak_12h"])
    assert y["future_return_1h"].isna().sum() == 1 and y["bars_to_peak_12h"].isna().sum() == 12
    assert y["bars_to_peak_12h"].dropna().between(1, 12).all()
