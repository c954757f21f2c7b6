"""The command-line contract (SPEC 13): --json documents, exit codes 0 / 2 / 1, one `error:` line."""
import json

from tests.conftest import error_line, run_cli


def test_help_and_groups():
    r = run_cli("--help")
    assert r.returncode == 0
    for group in ("data", "catalog", "jobs"):
        assert group in r.stdout


def test_unknown_group_or_command_is_exit_2(ws):
    for argv in (["nosuch"], ["data", "frobnicate"], ["data"], ["catalog", "query", "--limit", "many"]):
        r = run_cli(*argv)
        assert r.returncode == 2, argv
        error_line(r.stderr)
    assert not ws.root.exists()  # nothing written, not even the workspace folder


def test_json_documents(sample_ws):
    d = json.loads(run_cli("data", "list", "--json").stdout)
    assert {s["id"] for s in d["series"]} >= {"ohlcv-BTCUSDT-15m", "ohlcv-BTCUSDT-PERP-funding"}
    q = json.loads(run_cli("catalog", "query", "--kind", "ohlcv", "--symbol", "ethusdt", "--json").stdout)
    assert q["count"] == 1 and q["artifacts"][0]["id"] == "ohlcv-ETHUSDT-15m" and q["artifacts"][0]["metrics"]["rows"] == 35040
    s = json.loads(run_cli("data", "show", "BTCUSDT", "15m", "--rows", "3", "--json").stdout)
    assert s["rows"] == 35040 and len(s["tail"]) == 3
    lin = json.loads(run_cli("catalog", "lineage", "ohlcv-BTCUSDT-15m", "--json").stdout)
    assert lin["ancestors"] == [] and lin["descendants"] == []
    # options may also come before the group, and --home overrides KLINELAB_HOME
    r = run_cli("--home", str(sample_ws.root), "--quiet", "data", "list", "--json", env={"KLINELAB_HOME": "/nonexistent"})
    assert len(json.loads(r.stdout)["series"]) == 8


def test_unexpected_failure_is_exit_1_with_one_error_line(sample_ws):
    (sample_ws.artifact_dir("ohlcv", "ohlcv-SOLUSDT-15m") / "ohlcv.parquet").write_bytes(b"PAR1 garbage PAR1")
    r = run_cli("data", "show", "SOLUSDT", "15m")
    assert r.returncode == 1
    assert "unexpected failure" in error_line(r.stderr)


def test_validate_reports_and_writes_nothing(ws, tmp_path):
    from tests.data.corpus import real_candles, to_naive_csv

    good = to_naive_csv(real_candles(100), tmp_path / "BTCUSDT_15m.csv")
    r = run_cli("data", "validate", str(good), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["rows"] == 100 and rep["timeframe"] == "15m" and rep["gaps"] == []
    src = real_candles(100).drop(index=[10, 11, 50])
    gappy = to_naive_csv(src, tmp_path / "ETHUSDT_15m.csv")
    rep = json.loads(run_cli("data", "validate", str(gappy), "--json").stdout)
    assert [g["missing_bars"] for g in rep["gaps"]] == [2, 1] and rep["missing_bars"] == 3
    assert not ws.root.exists()


def test_json_stdout_is_only_the_document_when_a_library_prints(ws, capsys, monkeypatch):
    """What a library prints while a --json command runs (Ray's raylet messages did, from a background
    thread) goes to stderr: stdout parses as the one JSON document."""
    from engine.cli import main
    from engine.jobs import runner

    real = runner.list_jobs

    def noisy(*a, **kw):
        print("(raylet) A worker died or was killed while executing a task")
        return real(*a, **kw)

    monkeypatch.setattr(runner, "list_jobs", noisy)
    capsys.readouterr()
    assert main(["jobs", "list", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) is not None and "(raylet)" in err and "(raylet)" not in out
