"""Sweeps with selection-bias corrections on the real sample (issue 12 item 3): a pure-noise sweep
gets a low deflated Sharpe ratio and a high PBO, a planted edge in both the selection and the
held-out part gets a high DSR and is confirmed, the metric direction decides the best cell,
cells without trades have null ratios and say why, and nothing is written on bad input."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.backtest.params import BacktestParams
from engine.backtest.run import run_sweep
from engine.backtest.sources import Source, load_model_source, utc_index
from engine.backtest.store import load_backtest
from engine.cli import main
from engine.plots.backtest import heatmap_figure
from tests.backtest.fakes import make_model
from tests.conftest import main_json, snapshot

PERIOD = {"start": "2025-09-01", "end": "2025-12-31 23:45"}  # 4 months of real BTCUSDT 15m bars
FREE = {"fees": 0.0, "slippage": 0.0, "direction": "both", "borrow_rate": 0.0}  # no costs, long and short: a zero-skill cell has exactly no edge


@dataclass
class SyntheticSource(Source):
    """Test-only signals on the real candles, in blocks of ``hold`` bars.  A threshold t is a cell:
    its random long/short signs are seeded by t (independent per cell); with t > 0.5 a share
    (t - 0.5) x 2 of the blocks PEEKS at the block's real future return (a planted edge that is there in
    every part of the period)."""

    hold: int = 16
    salt: int = 0  # another draw of the random signs

    def targets(self, ws, symbol, index, thresholds, costs):
        from engine.data.store import load_candles

        c = load_candles(ws, symbol, self.timeframe, start=index[0], columns=["open"])
        opn = pd.Series(c["open"].to_numpy("float64"), index=utc_index(c["timestamp"])).reindex(index).to_numpy()
        n, h = len(index), self.hold
        starts = np.arange(0, n, h)
        # the block's return from the next bar's open (the fill) to the open h bars later
        fill, out_ = np.minimum(starts + 1, n - 1), np.minimum(starts + 1 + h, n - 1)
        true_sign = np.sign(opn[out_] / opn[fill] - 1)
        out = np.zeros((n, len(thresholds)))
        for j, t in enumerate(thresholds):
            rng = np.random.default_rng([round(t * 1e6), self.salt])
            sign = rng.choice([-1.0, 1.0], len(starts))
            peek = rng.random(len(starts)) < max(0.0, (t - 0.5) * 2)
            sign = np.where(peek & (true_sign != 0), true_sign, sign)
            out[:, j] = np.repeat(sign, h)[:n]
        return out


def _synthetic(salt: int = 0) -> SyntheticSource:
    return SyntheticSource(kind="synthetic", timeframe="15m", symbols=["BTCUSDT"], threshold_range=(0.0, 1.0),
                           default_threshold=0.5, salt=salt)


def test_a_pure_noise_sweep_gets_a_low_dsr_and_a_high_pbo(sample_ws):
    """Under no skill the DSR is a p-value-like figure spread over (0, 1) (not near 0) and the PBO
    scatters widely around 1/2 (eight draws of 40 such cells on these bars, computed with numpy alone:
    PBO 0.32 .. 0.63, DSR 0.33 .. 0.77).  Three independent draws must all stay below the 0.95
    significance line with a clearly non-zero PBO, far from the planted edge's DSR ~1 and PBO ~0."""
    thresholds = [round(0.01 * i, 2) for i in range(1, 41)]  # 40 zero-skill cells
    dsrs, pbos = [], []
    for salt in range(3):
        r = run_sweep(sample_ws, _synthetic(salt), BacktestParams(**PERIOD, **FREE), thresholds=thresholds,
                      sl_stops=[None], tp_stops=[None])
        sel = r["selection"]
        assert sel["n_cells"] == sel["n_cells_traded"] == 40 and sel["direction"] == "max"
        assert sel["pbo_detail"]["combinations"] == 12_870 and sel["pbo_detail"]["blocks"] == 16
        assert any("deflated Sharpe ratio" in w for w in r["warnings"])
        dsrs.append(sel["deflated_sharpe"])
        pbos.append(sel["pbo"])
        json.dumps(r, allow_nan=False)
    assert max(dsrs) < 0.95 and np.mean(dsrs) < 0.75  # drawn here: 0.65, 0.73, 0.51
    assert np.mean(pbos) >= 0.2 and min(pbos) >= 0.15  # drawn here: 0.23, 0.31, 0.29
    # the last draw: the best cell's Sharpe is the table's maximum; DSR inputs are per bar, N = traded cells
    table = load_backtest(sample_ws, r["backtest_id"]).sweep()
    assert r["best"]["sharpe"] == pytest.approx(table["sharpe"].max())
    assert sel["dsr"]["n_trials"] == 40 and sel["dsr"]["bars"] == sel["selection_period"]["bars"]
    assert sel["dsr"]["sharpe"] * np.sqrt(35_040) == pytest.approx(r["best"]["sharpe"], rel=1e-6)


def test_a_planted_edge_gets_a_high_dsr_and_is_confirmed_on_the_held_out_part(sample_ws):
    r = run_sweep(sample_ws, _synthetic(), BacktestParams(**PERIOD, **FREE), thresholds=[0.1, 0.2, 0.3, 0.4, 0.8, 0.9],
                  sl_stops=[None], tp_stops=[None])
    sel = r["selection"]
    assert sel["best"] == {"threshold": 0.9, "sl_stop": None, "tp_stop": None}
    assert sel["deflated_sharpe"] > 0.99 and sel["pbo"] < 0.05
    c = sel["confirmation"]
    sp = sel["selection_period"]
    # the held-out part follows the selection part, never overlaps it, and is ~30 % of the period
    assert pd.Timestamp(c["start"]) > pd.Timestamp(sp["end"])
    assert c["sample"]["bars"] == sel["holdout"]["bars"] == int(np.floor(sel["period"]["bars"] * 0.3))
    assert sp["bars"] + c["sample"]["bars"] == sel["period"]["bars"]  # a rule-like source: no purge gap
    # the held-out part is 36 days: its annualised Sharpe is not headlined (null, the raw value and CI kept
    # aside), its period return and that return's CI carry the confirmation
    assert c["metrics"]["sharpe"] is None and c["annualised_not_headlined"]["sharpe"] > 0
    assert c["annualised_not_headlined"]["sharpe_ci"][0] > 0
    assert c["metrics"]["total_return"] > 0 and c["uncertainty"]["total_return"][0] > 0 and c["sample"]["closed_trades"] >= 30
    assert c["uncertainty"]["method"]["returns"]["resamples"] == 1000
    assert sel["in_selection"]["sample"]["closed_trades"] == r["best"]["closed_trades"]


def test_the_held_out_part_is_a_fresh_backtest_of_the_chosen_cell(sample_ws):
    """The confirmation equals a single backtest of the chosen cell over the held-out bars, and the
    table's cells equal single backtests over the selection bars (purge gap of the 1h horizon)."""
    from engine.backtest.run import run_backtest

    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=1.0)
    src = load_model_source(sample_ws, mid)
    r = run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.5, 0.6], sl_stops=[None, 0.01], tp_stops=[None])
    sel = r["selection"]
    assert sel["holdout"]["purge_bars"] == 16  # the fake model's longest horizon, 4h, in 15m bars
    assert sel["selection_period"]["bars"] + 16 + sel["holdout"]["bars"] == sel["period"]["bars"]
    b = sel["best"]
    held = run_backtest(sample_ws, src, BacktestParams(threshold=b["threshold"], sl_stop=b["sl_stop"], tp_stop=b["tp_stop"],
                                                        start=sel["confirmation"]["start"]))
    for k in ("total_return", "sharpe", "trades", "fees_paid"):
        want = held["metrics"][k]  # the Sharpe of a held-out part under 90 days is null in both
        assert sel["confirmation"]["metrics"][k] == (None if want is None else pytest.approx(want, rel=1e-9)), k
    assert sel["confirmation"]["annualised_not_headlined"] == held["annualised_not_headlined"]
    one = run_backtest(sample_ws, src, BacktestParams(threshold=0.6, sl_stop=0.01, end=sel["selection_period"]["end"]))
    row = load_backtest(sample_ws, r["backtest_id"]).sweep().query("threshold == 0.6 and sl_stop == 0.01").iloc[0]
    assert row["total_return"] == pytest.approx(one["metrics"]["total_return"], rel=1e-9)


def test_the_metric_direction_picks_the_best_cell(sample_ws, capsys):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=1.5)
    grid = ["--thresholds", "0.4,0.5,0.6,0.7", "--sl-stops", "none,0.005,0.02"]
    fees = main_json(capsys, "backtest", "sweep", mid, *grid, "--metric", "fees_paid")
    table = pd.read_parquet(fees["sweep_path"])
    traded = table[table["trades"] > 0]
    assert fees["selection"]["direction"] == "min" and table["fees_paid"].max() > table["fees_paid"].min()
    assert fees["best"]["fees_paid"] == pytest.approx(traded["fees_paid"].min())  # the cheapest, not the dearest
    dd = main_json(capsys, "backtest", "sweep", mid, *grid, "--metric", "max_drawdown")
    assert dd["selection"]["direction"] == "max"
    assert dd["best"]["max_drawdown"] == pytest.approx(pd.read_parquet(dd["sweep_path"])["max_drawdown"].max())  # closest to 0
    dur = main_json(capsys, "backtest", "sweep", mid, *grid, "--metric", "max_drawdown_duration_days")
    assert dur["best"]["max_drawdown_duration_days"] == pytest.approx(
        pd.read_parquet(dur["sweep_path"])["max_drawdown_duration_days"].min())
    shown = main_json(capsys, "backtest", "show", fees["backtest_id"])
    assert shown["selection"]["best"] == fees["selection"]["best"] and shown["warnings"] == fees["warnings"]
    capsys.readouterr()
    assert main(["backtest", "sweep", mid, "--thresholds", "0.5,0.6", "--holdout", "0.25"]) == 0  # the text rendering
    text = capsys.readouterr().out
    assert "deflated Sharpe ratio" in text and "PBO" in text and "held out" in text and "(max)" in text
    before = snapshot(sample_ws.root / "artifacts")
    assert main(["backtest", "sweep", mid, *grid, "--metric", "trades"]) == 2
    assert "no better direction" in capsys.readouterr().err
    for bad in (["--holdout", "0.95"], ["--holdout", "-0.1"], ["--pbo-blocks", "7"]):
        assert main(["backtest", "sweep", mid, *grid, *bad]) == 2, bad
        assert "error:" in capsys.readouterr().err
    assert snapshot(sample_ws.root / "artifacts") == before


def test_cells_without_trades_have_null_ratios_and_say_why(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=1.0)
    src = load_model_source(sample_ws, mid)
    for col in ("p_up_1h", "p_down_1h"):  # no probability ever reaches 0.9
        src.predictions[col] = src.predictions[col].clip(upper=0.8)
    r = run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.5, 0.9], sl_stops=[None, 0.01], tp_stops=[None],
                  holdout=0)
    table = load_backtest(sample_ws, r["backtest_id"]).sweep()
    dead = table[table["threshold"] == 0.9]
    assert len(dead) == 2 and (dead["trades"] == 0).all()
    for k in ("sharpe", "sortino", "calmar", "profit_factor", "win_rate"):
        assert dead[k].isna().all(), k
    assert not np.isinf(table.select_dtypes("number").to_numpy()).any()
    assert dead["no_trade_reason"].str.contains("highest P\\(up\\) / P\\(down\\) in the period was 0.8 against a "
                                                "threshold of 0.9").all()
    assert table.loc[table["threshold"] == 0.5, "no_trade_reason"].isna().all()
    sel = r["selection"]
    assert sel["n_cells"] == 4 and sel["n_cells_traded"] == 2 and sel["best"]["threshold"] == 0.5
    assert sel["dsr"]["n_trials"] == 2 and sel["confirmation"] is None
    assert any("no held-out confirmation" in w for w in r["warnings"])
    json.dumps(r, allow_nan=False)
    fig = heatmap_figure(dead, "sharpe", x="threshold", y="sl_stop")
    assert any("none of them traded" in a.text for a in fig.layout.annotations)
    fig = heatmap_figure(table, "sharpe", x="threshold", y="sl_stop", best=sel["best"])
    assert not fig.layout.annotations and "-" in np.asarray(fig.data[0].text).ravel().tolist()[-1]
    # nothing traded at all: nothing is chosen, no corrections, the reason is given
    none = run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.9], sl_stops=[None], tp_stops=[None])
    assert none["best"] is None and none["selection"]["deflated_sharpe"] is None and none["selection"]["pbo"] is None
    assert any("no cell traded" in w and "0.8" in w for w in none["warnings"])
    with pytest.raises(BadInput, match="holdout must be a fraction"):
        run_sweep(sample_ws, src, BacktestParams(), thresholds=[0.5], sl_stops=[None], tp_stops=[None], holdout=1.5)
