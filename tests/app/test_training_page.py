"""AppTest of the Training page: with the sample only; with a finished and an interrupted run
(curves, metrics, runs table, comparison); the form launching a run as a background job with
config overrides; resuming the interrupted run from the page."""
import shutil
from pathlib import Path
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from pages.ui import Keys

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "training.py")
QUICK = "data: {last_bars: 1000, context_window: 32}\ntraining: {epochs: 2, max_batches_per_epoch: 3}\n"


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def runs_template(sample_feature_set, tmp_path_factory):
    """A workspace with the sample, the feature set, one finished direction run and one patchtst
    run stopped after its first epoch (resumable)."""
    from engine.training import run as run_mod
    from storage.catalog import Catalog
    from storage.workspace import Workspace

    src, fid = sample_feature_set
    root = tmp_path_factory.mktemp("training-app") / "workspace"
    shutil.copytree(src, root)
    ws = Workspace.open(root)
    Catalog(ws).rebuild()
    cfg = str(run_mod.custom_config(ws, "test", QUICK))
    done = run_mod.start_run(ws, "direction", cfg, featureset_id=fid, name="finished one")

    def stop_after_epoch_1(fraction, message="", **kw):
        if message.startswith("epoch 1/2:"):
            raise KeyboardInterrupt

    with mock.patch.object(run_mod, "progress", stop_after_epoch_1), pytest.raises(KeyboardInterrupt):
        run_mod.start_run(ws, "patchtst", cfg, featureset_id=fid, targets=["direction_1h", "future_return_1h"],
                          name="stopped one")
    stopped = next(p.name for p in (root / "training").iterdir() if (p / "run.json").is_file())
    return root, fid, done["run_id"], stopped


@pytest.fixture
def runs_ws(ws, runs_template, monkeypatch):
    from storage.catalog import Catalog

    root, fid, done, stopped = runs_template
    shutil.copytree(root, ws.root, dirs_exist_ok=True)
    Catalog(ws).rebuild()
    return fid, done, stopped


def test_page_with_only_the_sample(sample_ws):
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    assert at.title[0].value == "Training"
    assert [t.label for t in at.tabs] == ["New run", "Runs", "Compare", "Tuning"]
    assert any("No feature set yet" in i.value for i in at.info)
    assert any("No training runs yet" in i.value for i in at.info)


def test_page_shows_runs_curves_metrics_and_comparison(runs_ws):
    fid, done, stopped = runs_ws
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    assert at.selectbox(key="training.featureset").value == fid
    table = at.dataframe[0].value
    assert set(table["id"]) == {done, stopped}
    assert dict(zip(table["id"], table["status"])) == {done: "finished", stopped: "cancelled"}
    run_box = at.selectbox(key="training.run")
    # names, not ids (issue 15): the finished run's from the catalog, the stopped one's from its run.json
    assert len(run_box.options) == 2 and any("finished one" in o for o in run_box.options) \
        and any("stopped one" in o for o in run_box.options) and not any(done in o for o in run_box.options)
    run_box.set_value(done)
    _run(at)
    assert any(done in c.value and "finished one" in c.value for c in at.caption)  # the id under the picker
    metrics = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    assert {"accuracy", "majority class", "win rate"} <= set(metrics["metric"])
    # issue 12: pooled figures with their 95 % CIs and samples, the warnings next to them, the costs used
    assert {"val 95% CI", "test 95% CI"} <= set(metrics.columns)
    assert {"profit factor", "trades", "independent trades", "days"} <= set(metrics["metric"])
    assert metrics.set_index("metric").loc["profit factor", "test 95% CI"].startswith("[")
    assert any("fewer than 30" in w.value for w in at.warning)
    assert any("Costs used: round trip 0.22 %" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 3  # loss + metrics curves of the run, and the comparison
    cmp = next(d.value for d in at.dataframe if "finished one" in d.value.columns)  # runs by name (issue 15)
    assert "stopped one" in cmp.columns and "val_accuracy" in cmp.index
    _run(at)  # warm rerun (its speed: benchmarks/bench_ui.py, not a timed assertion)


def test_form_launches_a_run_with_overrides(runs_ws, ws):
    from engine import jobs

    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    at.text_area[0].set_value(QUICK)
    at.text_input[0].set_value("from the form")
    at.button[0].click()
    _run(at)
    job_id = at.session_state[Keys.TRAINING_JOB]
    st = jobs.wait(ws, job_id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(ws, job_id, 3000)
    assert st.command[:2] == ["train", "direction"] and "--featureset" in st.command
    assert st.artifacts == [st.result["run_id"]]  # the job records the model it made (not its inputs)
    assert Path(st.command[st.command.index("--config") + 1]).parent == ws.root / "training" / "configs"
    for _ in range(3):
        _run(at)
        if any("finished" in s.value for s in at.success):
            break
    assert any(f"Run `{st.result['run_id']}` finished" in s.value for s in at.success)


def test_bad_overrides_are_shown_not_launched(runs_ws):
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    at.text_area[0].set_value("training: {epochz: 2}")
    at.button[0].click()
    _run(at)
    assert any("unknown key(s) 'epochz'" in e.value for e in at.error)
    assert Keys.TRAINING_JOB not in at.session_state


def test_form_executor_options_build_the_request_train_parses(runs_ws, monkeypatch):
    """The "Walk-forward folds: executor" expander: left alone, no executor option (the folds in the run's
    process); filled, the typed request the CLI parses back with the same executor spec."""
    import pages.ui
    from engine.cli import build_parser
    from engine.training.config import TrainRequest

    started: list[list[str]] = []
    monkeypatch.setattr(pages.ui, "start_job", lambda args, key, **kw: started.append(args) or "job-x")
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    assert at.selectbox(key="training.executor").value == "" and at.number_input(key="training.workers").value is None
    at.button[0].click()
    _run(at)
    assert TrainRequest.from_args(build_parser().parse_args(started[-1])).executor_spec() is None
    assert not {"--executor", "--workers", "--ray-address"} & set(started[-1])
    at.selectbox(key="training.executor").set_value("local")
    at.number_input(key="training.workers").set_value(2)
    at.button[0].click()
    _run(at)
    argv = started[-1]
    assert argv[argv.index("--executor") + 1] == "local" and argv[argv.index("--workers") + 1] == "2"
    assert TrainRequest.from_args(build_parser().parse_args(argv)).executor_spec() == \
        {"executor": "local", "workers": 2, "ray_address": None}
    at.selectbox(key="training.executor").set_value("ray")
    at.number_input(key="training.workers").set_value(None)
    at.text_input(key="training.ray_address").set_value("10.0.0.5:6379")
    at.button[0].click()
    _run(at)
    assert TrainRequest.from_args(build_parser().parse_args(started[-1])).executor_spec() == \
        {"executor": "ray", "workers": None, "ray_address": "10.0.0.5:6379"}
    # the other executor's leftover input never reaches the request: local with an address left in the
    # box, and none with a Workers value left, used to run Ray-or-fail / local fold processes
    at.selectbox(key="training.executor").set_value("local")
    at.number_input(key="training.workers").set_value(3)
    at.button[0].click()
    _run(at)
    assert "--ray-address" not in started[-1] and started[-1][started[-1].index("--workers") + 1] == "3"
    at.selectbox(key="training.executor").set_value("")
    at.button[0].click()
    _run(at)
    assert not {"--executor", "--workers", "--ray-address"} & set(started[-1])
    assert TrainRequest.from_args(build_parser().parse_args(started[-1])).executor_spec() is None


def test_resume_button_finishes_the_stopped_run(runs_ws, ws):
    from engine import jobs

    _fid, _done, stopped = runs_ws
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    at.selectbox(key="training.run").set_value(stopped)
    _run(at)
    at.button(key=f"resume-{stopped}").click()
    _run(at)
    job_id = at.session_state[Keys.TRAINING_JOB]
    st = jobs.wait(ws, job_id, timeout=300)
    assert st.status == "succeeded", jobs.log_tail(ws, job_id, 3000)
    assert st.result["run_id"] == stopped and (ws.artifact_dir("model", stopped) / "manifest.json").is_file()
