"""Backtests of models really trained by the Training and Stage 2 areas (tiny configurations, on
the session's feature set of real sample candles): a DirectionPredictor, a walk-forward
DirectionPredictor, a UnifiedPatchTST and a Stage 1 + Stage 2 pair, each backtested on its own
out-of-sample bars through the CLI, indexed, comparable, and refused on in-sample bars."""
from __future__ import annotations

import pandas as pd
import pytest

from engine.cli import main
from engine.splits import SplitPlan
from storage.artifacts import read_manifest
from storage.catalog import Catalog
from tests.conftest import main_json

pytestmark = pytest.mark.slow

TINY = """
data: {context_window: 32, last_bars: 3000, horizons: [1h, 4h]}
model:
  patchtst: {d_model: 16, n_heads: 2, n_layers: 1, d_ff: 32, patch_len: 8, patch_stride: 4, channel_summary: 4, hidden: 32}
  direction: {hidden: 16, n_blocks: 2}
training: {epochs: 1, batch_size: 64, lr: 0.003, num_threads: 1, max_batches_per_epoch: 6, device: cpu, seed: 7,
           early_stopping_patience: 0}
"""
S1_FEATURES = "logret_1,logret_4,high_ret_1,low_ret_1,close_location,rsi_14,stoch_k_14,willr_14,bb_pctb_20,atr_pct_14"


def test_backtests_of_really_trained_models(feature_ws, ws, tmp_path, capsys):
    fid = feature_ws
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    wf = tmp_path / "tiny_wf.yaml"
    wf.write_text(TINY + "split: {mode: walk_forward, n_folds: 2, initial_frac: 0.6}\n")
    direction = main_json(capsys, "--quiet", "train", "direction", "--config", str(cfg), "--featureset", fid)["model_id"]
    walk = main_json(capsys, "--quiet", "train", "direction", "--config", str(wf), "--featureset", fid)["model_id"]
    patchtst = main_json(capsys, "--quiet", "train", "patchtst", "--config", str(cfg), "--featureset", fid)["model_id"]
    main_json(capsys, "--quiet", "stage1", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--featureset", fid, "--features",
         S1_FEATURES, "--sequence-length", "8", "--units", "8", "--epochs", "1")
    stage2 = main_json(capsys, "--quiet", "stage2", "train", "--symbol", "BTCUSDT", "--timeframe", "15m", "--pass-rate", "0.5",
                  "--cv-folds", "3")
    stage2 = stage2.get("stage2_id") or stage2["id"]
    models = [direction, walk, patchtst, stage2]

    # low thresholds / no costs: tiny models are rarely confident (a tiny PatchTST predicts moves far
    # below the fees), and the point is that every path trades
    runs = main_json(capsys, "--quiet", "backtest", direction, walk, "--threshold", "0.34")["backtests"]
    runs.append(main_json(capsys, "--quiet", "backtest", patchtst, "--fees", "0", "--slippage", "0"))
    runs.append(main_json(capsys, "--quiet", "backtest", stage2, "--threshold", "0.3", "--hold-bars", "16"))
    for mid, r in zip(models, runs):
        m = read_manifest(ws, mid)
        plans = [SplitPlan.from_dict(p) for p in m.extra["folds"]] if m.extra.get("folds") else \
            [SplitPlan.from_dict(m.extra["split"])]
        assert r["model_id"] == mid and r["bars_per_year"] == 35_040
        assert pd.Timestamp(r["period"]["start"]) >= plans[0].test_start
        assert pd.Timestamp(r["period"]["end"]) <= plans[-1].test_end
        assert r["metrics"]["bars"] > 50 and r["metrics"]["trades"] > 0, (mid, r["metrics"])
        for k in ("total_return", "sharpe", "max_drawdown", "win_rate", "fees_paid", "buy_and_hold_return"):
            if k == "sharpe" and r["sample"]["days"] < 90:  # a short test split: annualised figures not headlined
                assert r["metrics"][k] is None and r["annualised_not_headlined"][k] is not None, (mid, k)
                assert any("not headlined" in w for w in r["warnings"])
                continue
            assert r["metrics"][k] is not None, (mid, k)
        assert mid in Catalog(ws).lineage(r["backtest_id"])["ancestors"]["id"].tolist()
        # and never on the bars it was trained or validated on
        capsys.readouterr()
        assert main(["backtest", mid, "--start", plans[0].val_start.isoformat()]) == 2
        assert "in-sample backtest refused" in capsys.readouterr().err
    assert len(runs[1]["folds"]) == 2  # the walk-forward model's two out-of-sample blocks, stitched
    cmp = main_json(capsys, "--quiet", "backtest", "compare", *[r["backtest_id"] for r in runs])
    assert len(cmp["runs"]) == 4 and set(cmp["metrics"]["sharpe"]) == {r["backtest_id"] for r in runs}
