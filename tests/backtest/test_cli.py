"""The `backtest` command group as a user runs it (`python -m engine backtest ...`): JSON
documents, exit codes, one `error:` line and nothing written on bad input or refusals."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from tests.backtest.fakes import make_model
from tests.conftest import main_json, run_cli, snapshot


def test_backtest_model_json_in_a_real_process(sample_ws):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",), noise=0.8)
    p = run_cli("backtest", mid, "--threshold", "0.55", "--fees", "0.0005", "--slippage", "0.0002", "--sl-stop", "0.03",
                "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout)
    assert doc["backtest_id"].startswith("backtest-") and doc["model_id"] == mid
    assert doc["bars_per_year"] == 35_040 and doc["annualisation"] == {"timeframe": "15m", "bars_per_year": 35_040,
                                                                     "year_days": 365}
    for k in ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration_days",
              "win_rate", "profit_factor", "expectancy", "exposure", "trades", "fees_paid", "buy_and_hold_return"):
        assert k in doc["metrics"], k
    eq = pd.read_parquet(doc["equity_path"])
    assert Path(doc["equity_path"]).parent.name == doc["backtest_id"] and len(eq) == doc["metrics"]["bars"]
    assert "[ 30%] simulating" in p.stderr  # progress goes to stderr
    # the human rendering names the annualisation
    q = run_cli("backtest", "show", doc["backtest_id"])
    assert q.returncode == 0 and doc["backtest_id"] in q.stdout


def _one_error_line(err: str, message: str) -> None:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err


def test_bad_input_and_refusals_exit_2_with_one_error_line_and_write_nothing(sample_ws, capsys):
    mid = make_model(sample_ws, "direction", ("BTCUSDT",))
    before = snapshot(sample_ws.root / "artifacts")
    real = [  # in real processes
        (["backtest", mid, "--fees", "-0.001"], "fees cannot be negative"),
        (["backtest", mid, "--start", "2025-05-01"], "in-sample backtest refused"),
    ]
    for argv, message in real:
        p = run_cli(*argv)
        assert p.returncode == 2 and p.stdout == "", (argv, p.stderr)
        _one_error_line(p.stderr, message)
    in_process = [  # the same entry point, without a process start each
        (["backtest", mid, "--threshold", "1.7"], "threshold 1.7 is out of range"),
        (["backtest", mid, "--start", "2026-03-10", "--end", "2026-03-01"], "the period is empty"),
        (["backtest", mid, "--slippage", "-0.01"], "slippage cannot be negative"),
        (["backtest", mid, "--sl-stop", "2"], "sl-stop must be a fraction"),
        (["backtest", mid, "--symbols", "DOGEUSDT"], "has no predictions for DOGEUSDT"),
        (["backtest", "rule", "--symbol", "BTCUSDT", "--timeframe", "15m", "--start", "2031-01-01"], "period is empty"),
        (["backtest", "rule", "--symbol", "BTCUSDT", "--timeframe", "15m", "--fast", "60"], "must be shorter"),
        (["backtest", "sweep", mid, "--thresholds", "0.5:0.3:0.1"], "bad threshold range"),
        (["backtest", "sweep", mid, "--start", "2025-06-01", "--thresholds", "0.5,0.6"], "in-sample backtest refused"),
        (["backtest", "compare"], "the following arguments are required"),
        (["backtest", "model-missing"], "no artifact with id 'model-missing'"),
        (["backtest"], "give a MODEL_ID or a command"),
    ]
    for argv, message in in_process:
        capsys.readouterr()
        assert main(argv) == 2, argv
        out = capsys.readouterr()
        assert out.out == "", argv
        _one_error_line(out.err, message)
    assert snapshot(sample_ws.root / "artifacts") == before


def test_rule_sweep_compare_list_show(sample_ws, capsys):
    mid = make_model(sample_ws, "patchtst", ("BTCUSDT",), noise=0.5)
    m = main_json(capsys, "backtest", mid, "--direction", "long", "--horizon", "4h")
    r = main_json(capsys, "backtest", "rule", "--symbol", "BTCUSDT", "--timeframe", "15m", "--fast", "10", "--slow", "30",
              "--period-of", mid)
    assert r["period"] == m["period"] and r["source"]["kind"] == "rule" and r["model_id"] is None
    s = main_json(capsys, "backtest", "sweep", mid, "--thresholds", "0:0.002:0.001", "--sl-stops", "none,0.02",
              "--metric", "total_return")
    assert s["points"] == 6 and s["metric"] == "total_return" and Path(s["sweep_path"]).is_file()
    assert s["best"]["threshold"] in (0.0, 0.001, 0.002)
    rs = main_json(capsys, "backtest", "sweep", "--rule", "sma_cross", "--symbol", "BTCUSDT", "--timeframe", "15m",
               "--start", "2026-03-01", "--tp-stops", "none,0.01,0.02")
    assert rs["points"] == 3
    c = main_json(capsys, "backtest", "compare", m["backtest_id"], r["backtest_id"])
    assert [x["backtest_id"] for x in c["runs"]] == [m["backtest_id"], r["backtest_id"]]
    assert c["metrics"]["sharpe"][m["backtest_id"]] == pytest.approx(m["metrics"]["sharpe"])
    assert c["metrics"]["bars_per_year"][r["backtest_id"]] == 35_040
    ls = main_json(capsys, "backtest", "list")
    assert {x["backtest_id"] for x in ls["backtests"]} == {m["backtest_id"], r["backtest_id"], s["backtest_id"],
                                                           rs["backtest_id"]}
    assert {x["backtest_id"] for x in main_json(capsys, "backtest", "list", "--mode", "sweep")["backtests"]} == {
        s["backtest_id"], rs["backtest_id"]}
    sh = main_json(capsys, "backtest", "show", s["backtest_id"])
    assert sh["mode"] == "sweep" and sh["annualisation"]["bars_per_year"] == 35_040
    # text mode prints the metrics table
    capsys.readouterr()
    assert main(["backtest", "compare", m["backtest_id"], r["backtest_id"]]) == 0
    assert "Sharpe" in capsys.readouterr().out
