"""``tune run`` on the bundled sample's feature set with a small budget: a real Optuna study (TPE,
median pruner per walk-forward fold) over real DirectionPredictor trainings, on 2 local worker
processes; the study is stored (journal file in the workspace, then PostgreSQL), the selected trial
carries N = completed trials into its deflated Sharpe ratio and is confirmed once on a held-out period
after the search period."""
from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest

from tests.conftest import error_line, main_json

QUICK = ("--config", "test", "--last-bars", "2000", "--folds", "2", "--quiet")


def _check_result(res: dict, trials: int, space: str = "direction") -> None:
    sel, conf, per = res["selection"], res["confirmation"], res["periods"]
    assert sel["n_trials"] == trials
    assert sel["n_complete"] + sel["n_pruned"] + sel["n_failed"] == trials
    assert sel["n_complete"] >= 1
    assert sel["dsr"]["n_trials"] == sel["n_complete"]  # N = the completed trials
    dsr = sel["deflated_sharpe"]
    assert dsr is not None and 0.0 <= dsr <= 1.0
    assert sel["sharpe_variance"] is not None and sel["sharpe_variance"] >= 0
    assert sel["dsr"]["bars"] == sel["in_search"]["sample"]["periods"] > 0
    assert sel["in_search"]["sample"]["trades"] > 0  # only trials that traded can be chosen
    best = sel["best_params"]
    if space == "direction":
        assert 0.25 <= best["trade.threshold"] <= 0.55 and 8 <= best["model.direction.hidden"] <= 64
    else:
        assert 0.02 <= best["stage1.pass_rate"] <= 0.3 and 4 <= best["lgb.num_leaves"] <= 64
    # the held-out confirmation lies after the search period, past the purge gap, and does not overlap it
    s_end, h_start = pd.Timestamp(per["search"]["end"]), pd.Timestamp(conf["start"])
    assert h_start > s_end
    assert h_start - s_end >= pd.Timedelta(minutes=15 * (per["purge_bars"] + 1))
    assert pd.Timestamp(conf["end"]) >= h_start and conf["start"] == per["holdout"]["start"]
    assert all(pd.Timestamp(f["val_end"]) <= s_end for f in res["folds"])
    assert pd.Timestamp(conf["trained_on"].get("val_end") or conf["trained_on"]["train_end"]) <= s_end
    assert conf["sample"]["periods"] > 0 and conf["sample"]["days"] > 0
    assert len(res["trials"]) == trials


def test_tune_sample_two_workers(capsys, ws, feature_ws):
    res = main_json(capsys, "tune", "run", "--featureset", feature_ws, "--trials", "12", "--workers", "2",
                    "--study", "sample-study", *QUICK)
    _check_result(res, 12)
    # the study is stored in the workspace and holds the 12 trials
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(ws.root / "tuning" / "sample-study.log")))
    assert len(optuna.load_study(study_name="sample-study", storage=storage).trials) == 12
    # the artifact: manifest with lineage, indexed, its study copy and trial table readable
    from engine.tuning.plots import CHARTS, chart
    from engine.tuning.store import load_tuning
    from storage.catalog import Catalog

    tid = res["tuning_id"]
    t = load_tuning(ws, tid)
    assert t.manifest.kind == "tuning" and t.manifest.parents == [feature_ws]
    assert t.manifest.metrics["n_trials"] == 12 and t.manifest.metrics["deflated_sharpe"] == res["selection"]["deflated_sharpe"]
    assert Catalog(ws).query(kind="tuning")["id"].tolist() == [tid]
    assert len(t.study().trials) == 12 and len(t.trials()) == 12
    assert {w.split(":")[1] for w in t.trials()["worker"].dropna()} and t.manifest.params["executor"]["workers"] == 2
    for which in CHARTS:
        fig, note = chart(t.study(), which)
        assert fig is not None, note
    # the Training page's Tuning tab shows it (AppTest; the browser test is tests/e2e/test_tuning_browser.py)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "training.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    tab = next(t for t in at.tabs if t.label == "Tuning")
    assert [s.value for s in tab.selectbox if s.label == "Study"] == [tid]
    metrics = {m.label: m.value for m in tab.metric}
    assert metrics["Trials"] == "12" and metrics["Deflated Sharpe"] == f"{res['selection']['deflated_sharpe']:.3f}"
    assert f"N = {res['selection']['n_complete']} completed trials" in tab.caption[0].value
    assert len(tab.get("plotly_chart")) == 3
    shown = main_json(capsys, "tune", "show", tid)
    assert shown["selection"]["best_trial"] == res["selection"]["best_trial"]
    assert main_json(capsys, "tune", "list")["tunings"][0]["id"] == tid


def test_tune_postgresql_storage_shared_study(capsys, ws, feature_ws, pg_url):
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")  # the plain form a user types works too
    first = main_json(capsys, "tune", "run", "--featureset", feature_ws, "--trials", "3", "--storage", url,
                      "--study", "pg-study", *QUICK)
    _check_result(first, 3)
    # a second run (another machine would do the same) continues the same study in PostgreSQL
    second = main_json(capsys, "tune", "run", "--featureset", feature_ws, "--trials", "2", "--storage", url,
                       "--study", "pg-study", *QUICK)
    assert second["selection"]["n_trials"] == 5 and second["selection"]["n_this_run"] == 2
    assert len(optuna.load_study(study_name="pg-study", storage=pg_url).trials) == 5
    assert not (ws.root / "tuning").exists()  # nothing in the workspace's journal: the study lives in PostgreSQL
    # a different setup under the same name is refused
    from engine.cli import main

    capsys.readouterr()
    assert main(["tune", "run", "--featureset", feature_ws, "--trials", "1", "--storage", url, "--study", "pg-study",
                 "--horizon", "4h", *QUICK]) == 2
    assert "another setup" in error_line(capsys.readouterr().err)


def test_tune_on_ray_cluster(capsys, ws, feature_ws, ray_cluster, monkeypatch):
    from engine.cli import main

    # a cluster whose workers may not see this disk cannot write the journal file in the workspace
    capsys.readouterr()
    assert main(["tune", "run", "--featureset", feature_ws, "--trials", "2", "--executor", "ray", "--ray-address",
                 ray_cluster, *QUICK]) == 2
    assert "KLINELAB_SHARED_DISK" in error_line(capsys.readouterr().err)
    assert not (ws.root / "tuning").exists() and not (ws.root / "artifacts" / "tuning").exists()
    monkeypatch.setenv("KLINELAB_SHARED_DISK", "1")  # both nodes are this machine
    res = main_json(capsys, "tune", "run", "--featureset", feature_ws, "--trials", "4", "--workers", "2",
                    "--executor", "ray", "--ray-address", ray_cluster, *QUICK)
    _check_result(res, 4)
    assert res["executor"]["executor"] == "ray"


@pytest.mark.parametrize("space, message", [
    ({}, "empty: nothing to search"),
    ({"training.lr": {"type": "float", "low": 0.01, "high": 0.001}}, "needs low < high"),
    ({"training.lr": {"type": "float", "low": 0, "high": 0.01, "log": True}}, "low must be > 0"),
    ({"model.direction.hidden": {"type": "int", "low": 1, "high": 8}}, "model.direction.hidden"),
    ({"os.system": {"type": "int", "low": 1, "high": 8}}, "cannot be searched"),
    ({"trade.threshold": {"type": "float", "low": 0.2, "high": 1.5}}, "must lie in"),
])
def test_bad_space_exit_2(capsys, ws, tmp_path, space, message):
    from engine.cli import main

    f = tmp_path / "space.yaml"
    f.write_text(json.dumps(space))
    capsys.readouterr()
    assert main(["tune", "run", "--featureset", "features-none", "--space", str(f), "--config", "test"]) == 2
    assert message in error_line(capsys.readouterr().err)
    assert not (ws.root / "tuning").exists()


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "out of range"),
    (["--holdout", "0.9"], "out of range"),
    (["--workers", "-1"], "out of range"),
    (["--storage", "ftp://x/y"], "not a study storage URL"),
])
def test_bad_options_exit_2(capsys, ws, args, message):
    from engine.cli import main

    capsys.readouterr()
    assert main(["tune", "run", "--featureset", "features-none", *args]) == 2
    assert message in error_line(capsys.readouterr().err)


def test_unreachable_storage_exit_2_password_masked(capsys, ws, feature_ws):
    from engine.cli import main

    capsys.readouterr()
    rc = main(["tune", "run", "--featureset", feature_ws, "--storage", "postgresql://me:s3cr3tpw@127.0.0.1:1/db", *QUICK])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "cannot open the study storage" in error_line(err) or "cannot create the study" in error_line(err)
    assert "s3cr3tpw" not in err
    assert not (ws.root / "artifacts" / "tuning").exists() and not (ws.root / "tuning").exists()


def test_too_little_data_exit_2(capsys, ws, feature_ws):
    from engine.cli import main

    capsys.readouterr()
    assert main(["tune", "run", "--featureset", feature_ws, "--config", "test", "--last-bars", "300", "--folds", "5"]) == 2
    assert "too few" in error_line(capsys.readouterr().err)
    assert not (ws.root / "tuning").exists()


def test_tune_stage2_holds_out_stage1_test_split(capsys, ws, stage1_ws):
    from engine.splits import SplitPlan
    from engine.tuning.store import load_tuning
    from storage.artifacts import read_manifest

    fsid, s1 = stage1_ws
    res = main_json(capsys, "tune", "run", "--kind", "stage2", "--symbol", "BTCUSDT", "--featureset", fsid,
                    "--trials", "12", "--workers", "2", "--folds", "2", "--quiet")
    _check_result(res, 12, space="stage2")
    plan = SplitPlan.from_dict(read_manifest(ws, s1["stage1_id"], "stage1").extra["split"])
    # the held-out period is Stage 1's own test split: neither Stage 1 nor the search saw it
    assert pd.Timestamp(res["confirmation"]["start"]) == plan.test_start
    assert pd.Timestamp(res["periods"]["search"]["end"]) <= plan.val_end
    t = load_tuning(ws, res["tuning_id"])
    assert t.manifest.parents == [fsid, s1["stage1_id"]] and t.manifest.params["kind"] == "stage2"
    # the Stage 2 page's Tuning tab shows it
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "stage2.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    tab = next(t for t in at.tabs if t.label == "Tuning")
    assert {m.label: m.value for m in tab.metric}["Trials"] == "12"
    assert len(tab.get("plotly_chart")) == 3


def test_stage2_bad_input_exit_2(capsys, ws, tmp_path):
    from engine.cli import main

    f = tmp_path / "space.yaml"
    f.write_text(json.dumps({"training.lr": {"type": "float", "low": 0.001, "high": 0.01}}))
    capsys.readouterr()
    assert main(["tune", "run", "--kind", "stage2", "--featureset", "features-none", "--space", str(f)]) == 2
    assert "cannot be searched for Stage 2" in error_line(capsys.readouterr().err)


def test_cancel_a_tuning_job_stops_it_and_keeps_the_finished_trials(ws, feature_ws):
    """A job's cancel (SIGTERM) stops the study although Optuna catches the trials' own errors; nothing is
    published, the trials finished so far stay in the study for a later run with the same --study."""
    import time

    from engine import jobs

    stt = jobs.submit(ws, ["tune", "run", "--featureset", feature_ws, "--trials", "200", "--study", "to-cancel",
                           "--config", "test", "--last-bars", "2000", "--folds", "2"])
    journal = ws.root / "tuning" / "to-cancel.log"
    storage = None
    deadline = time.monotonic() + 600
    finished = []
    while time.monotonic() < deadline:
        if journal.is_file():
            storage = storage or optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
            try:
                trials = optuna.load_study(study_name="to-cancel", storage=storage).trials
            except KeyError:  # the study is being created
                trials = []
            finished = [t for t in trials if t.state.is_finished()]
            if finished:
                break
        assert jobs.get(ws, stt.id).status in ("queued", "running"), jobs.log_tail(ws, stt.id)
        time.sleep(0.5)
    assert finished, "no trial finished"
    jobs.cancel(ws, stt.id, grace_s=120)  # long grace: the process must stop by itself, not by SIGKILL
    final = jobs.wait(ws, stt.id, timeout=180)
    assert final.status == "cancelled" and final.returncode == 130, (final, jobs.log_tail(ws, stt.id))
    assert not (ws.root / "artifacts" / "tuning").exists()
    kept = optuna.load_study(study_name="to-cancel", storage=storage).trials
    assert 1 <= len([t for t in kept if t.state.is_finished()]) < 200


def test_tuning_tab_passes_the_storage_in_the_environment_not_the_command(ws, feature_ws, pg_url):
    """What the Tuning tab starts (its request + tune_env + the job runner): a PostgreSQL storage URL with a
    password reaches the job (the study is in PostgreSQL) but not its command, state.json or job manifest."""
    import sqlalchemy as sa

    from engine import jobs
    from engine.tuning.requests import TuneRequest
    from pages.tuning_widgets import tune_env

    eng = sa.create_engine(pg_url)
    with eng.begin() as con:
        con.exec_driver_sql("DROP ROLE IF EXISTS kltune")
        con.exec_driver_sql("CREATE ROLE kltune LOGIN SUPERUSER PASSWORD 'Tun3-secret-pw'")
    eng.dispose()
    url = pg_url.replace("://postgres@", "://kltune:Tun3-secret-pw@")
    req = TuneRequest.build(featureset=feature_ws, config="test", trials=3, folds=2, last_bars=2000,
                            study="env-study")
    argv = req.argv()
    assert "--storage" not in argv and not any("Tun3" in a for a in argv)
    assert tune_env(f" {url} ") == {"KLINELAB_TUNE_STORAGE": url} and tune_env("  ") is None
    st = jobs.wait(ws, jobs.submit(ws, argv, name="tune direction", env=tune_env(url)).id, timeout=600)
    assert st.status == "succeeded", st.error
    assert st.result["storage"] == url.replace("Tun3-secret-pw", "***")  # the job used the URL from its environment
    assert len(optuna.load_study(study_name="env-study", storage=pg_url).trials) == 3
    manifest = json.loads((ws.jobs_dir / st.id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["command"] == st.command and "--storage" not in st.command
    leaked = [str(p) for p in ws.root.rglob("*") if p.is_file() and b"Tun3-secret-pw" in p.read_bytes()]
    assert leaked == []


def test_tuning_tab_form_starts_the_job_without_the_storage_on_its_command(ws, feature_ws, pg_url):
    """The Training page's Tuning tab (AppTest): the typed storage URL is not on the job's command line, yet the
    job's study lands in that PostgreSQL storage."""
    from streamlit.testing.v1 import AppTest

    from engine import jobs

    url = pg_url.replace("://postgres@", "://postgres:Form-pw-77@")  # the server trusts loopback: any password works
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "training.py"), default_timeout=120)
    at.run()
    tab = next(t for t in at.tabs if t.label == "Tuning")
    inputs = {n.label: n for n in tab.number_input}
    inputs["Trials"].set_value(3)
    inputs["Workers"].set_value(1)
    inputs["Walk-forward folds"].set_value(2)
    inputs["Last bars per symbol (0 = config's)"].set_value(2000)
    next(t for t in tab.text_input if t.label == "Study storage URL (optional)").set_value(url)
    next(b for b in tab.button if b.label == "Start study").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    st = jobs.get(ws, at.session_state["tuning.job.direction"])
    assert "--storage" not in st.command and not any("Form-pw" in a for a in st.command)
    st = jobs.wait(ws, st.id, timeout=600)
    assert st.status == "succeeded", st.error
    assert st.result["storage"] == url.replace("Form-pw-77", "***")
    assert len(optuna.load_study(study_name=st.result["study_name"], storage=pg_url).trials) == 3
    leaked = [str(p) for p in ws.root.rglob("*") if p.is_file() and b"Form-pw-77" in p.read_bytes()]
    assert leaked == []
