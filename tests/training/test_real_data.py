"""Both models on real Binance candles from ../shared/data (BTC, ETH 15m, the last ~4 months of
2025-26), small CPU configs: they train, and on the validation split they beat the naive
baselines that need no model: the class-frequency prior's log loss (DirectionPredictor, and
UnifiedPatchTST's class targets).  Accuracy against the majority class and trading after fees
are recorded, not asserted: on this data neither model reliably beats them (see README)."""
import pytest

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

INCLUDE = ["logret_1", "logret_4", "logret_16", "range_pct", "rsi_14", "macd_hist_pct", "adx_14", "bb_pctb_20",
           "atr_pct_14", "rv_16", "rv_96", "rv_ratio_16_96", "vol_regime_pct_960", "volume_ratio_20", "hour_sin",
           "hour_cos"]
DIRECTION = """
data: {context_window: 32, stride: 2}
model: {direction: {hidden: 32, n_blocks: 3, dropout: 0.2}}
loss: {direction: {pnl_weight: 0.3}}
training: {epochs: 3, batch_size: 256, lr: 0.002, max_batches_per_epoch: 25, eval_batch_size: 2048,
           early_stopping_patience: 0, num_threads: 2, device: cpu, seed: 4, weight_decay: 0.05}
"""
PATCHTST = f"""
data: {{context_window: 32, stride: 4, include: {INCLUDE},
       targets: [direction_1h, direction_4h, long_reach_1pct_4h, short_reach_1pct_4h, future_volatility_4h, future_return_4h]}}
model: {{patchtst: {{d_model: 32, n_heads: 4, n_layers: 2, d_ff: 64, dropout: 0.2, channel_summary: 4, hidden: 64}}}}
training: {{epochs: 3, batch_size: 128, lr: 0.002, max_batches_per_epoch: 25, eval_batch_size: 1024,
           early_stopping_patience: 0, num_threads: 2, device: cpu, seed: 3, weight_decay: 0.05}}
"""


_built: dict = {}


@pytest.fixture
def real_set(shared_data, tmp_path_factory):
    """A workspace with the real candles and their feature set (built once for the module)."""
    if _built:
        return _built["ws"], _built["fid"]
    src = shared_data / "binance-spot-15m-2025"
    from engine.data.importer import import_path
    from engine.features.pipeline import build_feature_set
    from storage.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("real-training") / "workspace")
    for sym in ("BTCUSDT", "ETHUSDT"):
        import_path(ws, src / f"{sym}_15m.parquet")
    res = build_feature_set(ws, ["BTCUSDT", "ETHUSDT"], "15m", start="2025-12-01", audit=False)
    _built.update(ws=ws, fid=res["featureset_id"])
    return ws, res["featureset_id"]


@pytest.mark.parametrize("model,text", [("direction", DIRECTION), ("patchtst", PATCHTST)])
def test_small_config_beats_the_prior_on_real_candles(real_set, tmp_path, model, text):
    from engine.training.run import start_run

    ws, fid = real_set
    cfg = tmp_path / f"{model}.yaml"
    cfg.write_text(text)
    res = start_run(ws, model, cfg, featureset_id=fid)
    val = res["metrics"]["val"]
    print(f"\n{model} on real BTC/ETH 15m, validation: log loss {val['log_loss']:.4f} vs prior {val['baseline_log_loss']:.4f}; "
          f"accuracy {val['accuracy']:.4f} vs majority {val['baseline_accuracy']:.4f}; win rate {val.get('win_rate')}, "
          f"pooled profit factor {val.get('profit_factor')} over {val.get('trades')} trades (split of "
          f"{val.get('sample', {}).get('days')} days); regression skill {val.get('regression_skill')}")
    assert val["log_loss"] < val["baseline_log_loss"]
    assert res["metrics"]["test"]["loss"] is not None
