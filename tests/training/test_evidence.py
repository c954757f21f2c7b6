"""Issue 12 (training): pooled trading figures with their sample, bootstrap CIs and warnings, and the
one cost model feeding the targets, the DirectionalTradingLoss and the per-epoch trading metrics."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from engine.training import run as run_mod
from engine.training.metrics import classification_evidence, independent_trades, pool, trading_evidence, trading_metrics
from storage.artifacts import artifact_path, read_manifest

HORIZONS = ("15m", "1h", "4h", "12h")


def _pf(pnl: np.ndarray) -> float:
    return pnl[pnl > 0].sum() / -pnl[pnl < 0].sum()


def test_pooled_profit_factor_is_total_gains_over_total_losses_not_a_mean_of_ratios():
    # horizon A: one trade +0.10, one -0.01 (PF 10); horizon B: +0.01, -0.10 (PF 0.1): mean of ratios 5.05,
    # pooled (0.11 / 0.11) = 1
    a = trading_metrics(np.array([2, 2]), np.array([0.10, -0.01]), 0.0)
    b = trading_metrics(np.array([2, 0]), np.array([0.01, 0.10]), 0.0)
    assert a["profit_factor"] == pytest.approx(10) and b["profit_factor"] == pytest.approx(0.1)
    p = pool([a, b])
    assert p["profit_factor"] == pytest.approx(1.0) and p["win_rate"] == pytest.approx(0.5) and p["trades"] == 4
    assert pool([trading_metrics(np.array([1, 1]), np.array([0.1, 0.2]), 0.001)])["profit_factor"] is None  # no trade


def test_independent_trades_count_non_overlapping_holding_periods():
    hour = 3600 * 10**9
    start = np.arange(8, dtype=np.int64) * hour // 4  # a 1h trade every 15 minutes for 2 hours
    assert independent_trades(start, np.full(8, hour), np.array(["X"] * 8)) == 2
    assert independent_trades(start, np.full(8, hour // 4), np.array(["X"] * 8)) == 8
    assert independent_trades(start, np.full(8, hour), np.array(["X", "Y"] * 4)) == 4  # per symbol


def test_trading_evidence_sample_ci_and_warnings():
    rng = np.random.default_rng(0)
    n = 400
    ts = pd.date_range("2026-01-01", periods=n, freq="15min", tz="UTC")
    t = pd.DataFrame({"timestamp": ts, "symbol": "BTCUSDT", "horizon": "1h", "hold_seconds": 3600,
                      "pnl": rng.normal(0.0, 0.01, n)})
    ev = trading_evidence(t, days=4.2, windows=n, split="val")
    pnl = t["pnl"].to_numpy()
    assert ev["profit_factor"] == pytest.approx(_pf(pnl)) and ev["win_rate"] == pytest.approx(np.mean(pnl > 0))
    assert ev["trades"] == n and ev["independent_trades"] == n // 4
    assert ev["sample"] == {"windows": n, "days": 4.2, "trades": n, "independent_trades": n // 4}
    lo, hi = ev["uncertainty"]["profit_factor"]
    assert lo < ev["profit_factor"] < hi and lo < 1 < hi  # pure noise: the CI straddles break-even
    assert ev["uncertainty"]["method"]["resamples"] == 1000 and "stationary" in ev["uncertainty"]["method"]["method"]
    text = " | ".join(ev["warnings"])
    assert "fewer than 30" in text and "includes 1" in text and "not independent" in text
    # a few trades only
    few = trading_evidence(t.head(5), days=40, windows=5, split="test")
    assert any("only 5 trades" in w for w in few["warnings"])
    empty = trading_evidence(t.head(0), days=40, windows=0, split="test")
    assert empty["profit_factor"] is None and empty["trades"] == 0
    json.dumps(ev | {"e": empty}, allow_nan=False)


def test_classification_evidence_matches_sklearn_and_brackets_it():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    pred = np.where(rng.random(600) < 0.5, y, rng.integers(0, 3, 600))
    ev = classification_evidence(y, pred, 3, 0.34, "val")
    assert ev["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert ev["macro_f1"] == pytest.approx(f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0))
    for k in ("accuracy", "macro_f1"):
        lo, hi = ev["uncertainty"][k]
        assert lo < ev[k] < hi
    assert ev["uncertainty"]["accuracy"][0] > 0.34 and not ev["warnings"]  # clearly above the baseline
    # the per-resample statistic (from per-class sums) equals sklearn on the data itself, and on a resample
    from engine.stats.bootstrap import stationary_indices
    from engine.training.metrics import _macro_f1_stat

    def sums(yy, pp):
        cols = [yy == pp] + [c for j in range(3) for c in ((yy == j) & (pp == j), yy == j, pp == j)]
        return np.column_stack(cols).astype(float).sum(axis=0)[None, :]

    assert _macro_f1_stat(3)(sums(y, pred), len(y))[0] == pytest.approx(ev["macro_f1"])
    idx = stationary_indices(len(y), 5.0, 1, 3)[0]
    assert _macro_f1_stat(3)(sums(y[idx], pred[idx]), len(y))[0] == pytest.approx(
        f1_score(y[idx], pred[idx], labels=[0, 1, 2], average="macro", zero_division=0))


def test_sums_bootstrap_draws_exactly_the_resamples_of_the_index_bootstrap():
    """engine.stats.sums adds up rows per resample; its resamples are the ones engine.stats.bootstrap's
    index generator materialises for the same seed (checked resample by resample)."""
    from engine.stats.bootstrap import stationary_indices
    from engine.stats.sums import stationary_sums, sums_ci

    rng = np.random.default_rng(4)
    pnl = rng.normal(0.001, 0.01, 500)
    f = np.column_stack([np.maximum(pnl, 0), np.maximum(-pnl, 0)])
    s = stationary_sums(f, 7.0, 50, 11)
    idx = stationary_indices(len(pnl), 7.0, 50, 11)
    assert np.allclose(s[:, 0], np.maximum(pnl[idx], 0).sum(axis=1))
    assert np.allclose(s[:, 1], np.maximum(-pnl[idx], 0).sum(axis=1))
    ci, desc = sums_ci(f, {"pf": lambda x, n: x[:, 0] / x[:, 1]}, block_series=pnl)
    assert ci["pf"][0] < _pf(pnl) < ci["pf"][1] and desc["resamples"] == 1000 and desc["seed"] == 0


def test_run_headline_is_pooled_and_equals_the_stored_predictions(feature_ws, ws):
    from engine.features.store import load_feature_set

    res = run_mod.start_run(ws, "direction", "test", featureset_id=feature_ws)
    m = read_manifest(ws, res["run_id"], "model")
    json.dumps(m.metrics, allow_nan=False)
    costs = m.extra["costs"]
    fee = costs["trading_fee"]
    assert fee == pytest.approx(costs["round_trip"]) and costs["cost_model"]["spot_taker"] > 0
    preds = pd.read_parquet(artifact_path(ws, res["run_id"], "model") / "predictions.parquet")
    fs = load_feature_set(ws, feature_ws)
    targ = fs.targets([f"future_return_{h}" for h in HORIZONS], symbols=fs.symbols)
    targ["timestamp"] = pd.to_datetime(targ["timestamp"], utc=True)
    preds["timestamp"] = pd.to_datetime(preds["timestamp"], utc=True)
    j = preds.merge(targ, on=["timestamp", "symbol"], how="left")
    pnl_all, per_h_pf = [], []
    for h in HORIZONS:
        p = j[[f"p_down_{h}", f"p_flat_{h}", f"p_up_{h}"]].to_numpy()
        side = np.array([-1, 0, 1])[p.argmax(1)]
        r = j[f"future_return_{h}"].to_numpy("float64")
        ok = (side != 0) & np.isfinite(r)
        pnl = side[ok] * r[ok] - fee
        pnl_all.append(pnl)
        if (pnl < 0).any():
            per_h_pf.append(_pf(pnl))
    pnl = np.concatenate(pnl_all)
    t = m.metrics["test"]
    assert t["trades"] == len(pnl)
    assert t["profit_factor"] == pytest.approx(_pf(pnl), rel=1e-4)  # float32 returns in training
    assert t["win_rate"] == pytest.approx(np.mean(pnl > 0), abs=1e-9 + 1 / len(pnl))
    for h in HORIZONS:
        assert set(t["by_horizon"][h]) >= {"profit_factor", "win_rate", "trades", "independent_trades"}
    # the stored trades give the same pooled figure for both splits
    trades = pd.read_parquet(artifact_path(ws, res["run_id"], "model") / run_mod.TRADES_FILE)
    for split in ("val", "test"):
        s = trades[trades["split"] == split]["pnl"].to_numpy()
        assert m.metrics[split]["profit_factor"] == pytest.approx(_pf(s))
        assert m.metrics[split]["trades"] == len(s)
        unc = m.metrics[split]["uncertainty"]
        assert {"profit_factor", "win_rate", "accuracy", "macro_f1", "method"} <= set(unc)
        assert m.metrics[split]["sample"]["days"] < 30
        w = " | ".join(m.metrics[split]["warnings"])
        assert "fewer than 30" in w and "not independent" in w
    labels = pd.read_parquet(artifact_path(ws, res["run_id"], "model") / run_mod.LABELS_FILE)
    lt = labels[labels["split"] == "test"]
    assert t["accuracy"] == pytest.approx(float(np.mean(lt["y"] == lt["pred"])))
    assert t["sample"]["predictions"] == len(lt)
    assert m.metrics["warnings"] == m.metrics["val"]["warnings"] + m.metrics["test"]["warnings"]


def test_one_cost_model_moves_targets_loss_and_trading_metrics(tmp_path, monkeypatch, tiny_cfg):
    """Change the fee in one place (a costs.yaml named by KLINELAB_COSTS_FILE): best_action_4h, the
    DirectionalTradingLoss and the per-epoch trading metrics all move."""
    from engine.costs import COSTS_FILE, load_costs
    from engine.features.config import load_config as load_fcfg
    from engine.features.targets import best_action_cost, compute_targets
    from engine.training.tasks import run_costs

    fcfg = load_fcfg()
    n = 200
    ts = (np.arange(n, dtype=np.int64) * 900 + 1_700_000_000) * 10**9
    close = 100 * np.exp(np.cumsum(np.r_[0, np.tile([0.0012, -0.0009, 0.0005, -0.0007], (n - 1) // 4 + 1)[: n - 1]]))
    before = load_costs()
    t0 = compute_targets(ts, close, close, close, "15m", fcfg)["best_action_4h"]
    c0 = run_costs(tiny_cfg, ["BTCUSDT"])
    assert best_action_cost(fcfg, "BTCUSDT") == pytest.approx(2 * (before.spot_taker + before.slippage))
    assert c0["loss_fee"] == c0["trading_fee"] == pytest.approx(before.round_trip(["BTCUSDT"]))

    text = COSTS_FILE.read_text().replace("spot: {taker: 0.001, maker: 0.001}", "spot: {taker: 0.0001, maker: 0.0001}")
    assert "taker: 0.0001" in text
    f = tmp_path / "costs.yaml"
    f.write_text(text)
    monkeypatch.setenv("KLINELAB_COSTS_FILE", str(f))
    after = load_costs()
    assert after.spot_taker == 0.0001
    t1 = compute_targets(ts, close, close, close, "15m", fcfg)["best_action_4h"]
    c1 = run_costs(tiny_cfg, ["BTCUSDT"])
    assert c1["loss_fee"] == pytest.approx(2 * (0.0001 + after.slippage)) and c1["trading_fee"] == c1["loss_fee"]
    ok = np.isfinite(t0)
    assert (t1[ok] != 1).sum() > (t0[ok] != 1).sum()  # cheaper trading: fewer FLAT best actions
    # a per-run override wins over the cost model
    tiny_cfg.loss.direction.fee, tiny_cfg.training.trading_fee = 0.05, 0.04
    c2 = run_costs(tiny_cfg, ["BTCUSDT"])
    assert (c2["loss_fee"], c2["trading_fee"]) == (0.05, 0.04) and set(c2["overrides"]) == {"loss.direction.fee",
                                                                                           "training.trading_fee"}


def test_task_loss_and_metrics_use_the_run_costs(real_tables, tiny_cfg):
    from engine.training.tasks import DirectionTask
    from tests.training.test_trainer import make_task

    data = make_task("direction", real_tables, tiny_cfg).data
    costs = {"loss_fee": 0.0123, "trading_fee": 0.0321, "round_trip": 0.0022, "cost_model": {}, "symbols": [], "overrides": {}}
    task = DirectionTask(data, tiny_cfg, costs)
    assert task.loss_fn.fee == 0.0123 and task.fee == 0.0321
    ends = data.ends["val"]
    out = np.zeros((len(ends), len(task.horizons), 3), dtype=np.float32)
    out[..., 2] = 1.0  # always UP
    tt = task.trade_table(out, ends)
    assert np.allclose(tt["pnl"], tt["ret"] - 0.0321)
    cheap = DirectionTask(data, tiny_cfg, costs | {"trading_fee": 0.0})
    assert cheap.metrics(out, ends)["pnl_per_trade"] == pytest.approx(task.metrics(out, ends)["pnl_per_trade"] + 0.0321)


def test_backtest_default_fee_is_the_cost_model(tmp_path, monkeypatch):
    """The backtest's default fee and slippage resolve to engine.costs, and move with it."""
    from engine.backtest import params
    from engine.costs import COSTS_FILE, load_costs

    for syms in (["BTCUSDT"], ["BTCUSDT-PERP"]):
        assert params.BacktestParams().fee_for(syms) == load_costs().fee_for(syms)
    f = tmp_path / "costs.yaml"
    f.write_text(COSTS_FILE.read_text().replace("spot: {taker: 0.001, maker: 0.001}", "spot: {taker: 0.0042, maker: 0.0042}"))
    monkeypatch.setenv("KLINELAB_COSTS_FILE", str(f))
    assert load_costs().fee_for(["BTCUSDT"]) == 0.0042
    assert params.BacktestParams().fee_for(["BTCUSDT"]) == 0.0042
    assert params.BacktestParams(symbols=["BTCUSDT"]).validated().slippage == load_costs().slippage


QUICK = """
data: {last_bars: 1500, context_window: 32}
model:
  direction: {hidden: 16, n_blocks: 2}
  patchtst: {d_model: 16, n_heads: 2, n_layers: 1, d_ff: 32, patch_len: 8, patch_stride: 4, channel_summary: 2, hidden: 32}
training: {epochs: 1, batch_size: 32, max_batches_per_epoch: 4, eval_batch_size: 512, early_stopping_patience: 0,
           num_threads: 1, device: cpu, seed: 5}
"""


def test_walk_forward_pools_every_fold_and_shows_each_fold_and_the_spread(feature_ws, ws, tmp_path):
    from engine.plots.training import evidence_table, fold_table, horizon_table

    cfg = tmp_path / "wf.yaml"
    cfg.write_text(QUICK + "split: {mode: walk_forward, n_folds: 2, initial_frac: 0.6}\n")
    res = run_mod.start_run(ws, "direction", cfg, featureset_id=feature_ws)
    m = read_manifest(ws, res["run_id"], "model")
    json.dumps(m.metrics, allow_nan=False)
    trades = pd.read_parquet(artifact_path(ws, res["run_id"], "model") / run_mod.TRADES_FILE)
    assert sorted(trades["fold"].unique()) == [1, 2]
    for split in ("val", "test"):
        s = m.metrics[split]
        pnl = trades[trades["split"] == split]["pnl"].to_numpy()
        assert s["profit_factor"] == pytest.approx(_pf(pnl)) and s["trades"] == len(pnl)
        per_fold = [r[split]["profit_factor"] for r in m.extra["fold_results"]]
        assert s["folds"]["profit_factor"]["values"] == per_fold  # each fold's own value, beside the pooled one
        assert s["folds"]["trades"]["values"] == [r[split]["trades"] for r in m.extra["fold_results"]]
        assert sum(s["folds"]["trades"]["values"]) == s["trades"]
        f = [v for v in per_fold if v is not None]
        assert s["folds"]["profit_factor"]["min"] == min(f) and s["folds"]["profit_factor"]["max"] == max(f)
        days = sum(r["days"][split] for r in m.extra["fold_results"])
        assert s["sample"]["days"] == pytest.approx(days, abs=1e-3)
    table = evidence_table(m.metrics).set_index("metric")
    assert table.loc["profit factor", "test 95% CI"].startswith("[")
    assert table.loc["trades", "test"] == f"{m.metrics['test']['trades']:,}"
    assert "inf" not in table.to_string().lower() and "nan" not in table.to_string().lower()
    assert set(horizon_table(m.metrics)["horizon"]) == set(HORIZONS)
    ft = fold_table(m.metrics)
    assert {"fold 1", "fold 2", "min", "median", "max"} <= set(ft.columns)


def test_patchtst_trades_its_direction_head_and_reports_each_class_target(feature_ws, ws, tmp_path):
    cfg = tmp_path / "q.yaml"
    cfg.write_text(QUICK)
    res = run_mod.start_run(ws, "patchtst", cfg, featureset_id=feature_ws,
                            targets=["direction_1h", "future_return_4h", "long_reach_1pct_4h"])
    m = read_manifest(ws, res["run_id"], "model")
    json.dumps(m.metrics, allow_nan=False)
    t = m.metrics["test"]
    assert set(t["by_target"]) == {"direction_1h", "long_reach_1pct_4h"}
    labels = pd.read_parquet(artifact_path(ws, res["run_id"], "model") / run_mod.LABELS_FILE)
    lt = labels[(labels["split"] == "test") & (labels["target"] == "long_reach_1pct_4h")]
    assert t["by_target"]["long_reach_1pct_4h"]["accuracy"] == pytest.approx(float(np.mean(lt["y"] == lt["pred"])))
    assert t["by_target"]["long_reach_1pct_4h"]["predictions"] == len(lt)
    trades = pd.read_parquet(artifact_path(ws, res["run_id"], "model") / run_mod.TRADES_FILE)
    assert set(trades["horizon"]) <= {"1h", "4h"}
    pnl = trades[trades["split"] == "test"]["pnl"].to_numpy()
    assert t["trades"] == len(pnl)
    if len(pnl) and (pnl < 0).any():
        assert t["profit_factor"] == pytest.approx(_pf(pnl))
