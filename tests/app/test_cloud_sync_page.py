"""AppTest of the Cloud Sync page: renders with the sample (warm < 3 s); the Hub section tests
the connection, plans (dry run) and runs an upload as one commit against the Hub-compatible
test server; delete-all needs the typed repo id; the SSH section saves a profile, shows an
unknown host key's fingerprint and trusts it on request; the history lists what was done."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.fixtures.sshd import sshd  # noqa: F401 - fixture
from tests.fixtures.sync_artifacts import artifacts  # noqa: F401 - fixture

PAGE = str(ROOT / "pages" / "cloud_sync.py")
REPO = "klinelab/page-test"


@pytest.fixture
def app(sample_ws):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _finish(at, ws, key, status="succeeded"):
    """Wait for the job the page started under ``key``, then let the page show its result."""
    from engine import jobs

    jid = at.session_state[key]
    st = jobs.wait(ws, jid, timeout=120, poll=0.1)
    assert st.status == status, (st.error, jobs.log_tail(ws, jid))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return st


def test_page_renders_with_the_sample_warm(app):
    assert [t.value for t in app.title] == ["Cloud Sync"]
    assert [t.label for t in app.tabs] == ["Hugging Face Hub", "SSH / Paperspace", "Remote jobs", "History"]
    assert any("No SSH host yet" in i.value for i in app.info)
    assert any("No sync operations yet" in i.value for i in app.info)
    assert app.button(key="hub-run").disabled  # nothing planned yet
    app.run()  # warm rerun (its speed: benchmarks/bench_ui.py, not a timed assertion)
    assert not app.exception


def test_hub_test_plan_and_run_upload(app, artifacts, sample_ws, hub_server):
    app.text_input(key="sync.repo_id").set_value(REPO)
    app.text_input(key="sync.endpoint").set_value(hub_server.url)
    app.text_input(key="sync.hf_token").set_value(hub_server.token)
    app.run()
    assert any("token field" in c.value for c in app.caption)
    app.button(key="hub-test").click().run()
    _finish(app, sample_ws, "sync.hub_test_job_id")
    assert any("does not exist yet" in s.value and hub_server.user in s.value for s in app.success)

    app.radio(key="sync.op").set_value("upload").run()
    app.selectbox(key="sync.group").set_value("analysis").run()
    assert app.button(key="hub-run").disabled
    app.button(key="hub-plan").click().run()
    _finish(app, sample_ws, "sync.job_id")
    assert any("Dry run" in i.value for i in app.info)
    plan = app.dataframe[-1].value
    assert set(plan.status) == {"new"} and f"analysis/{artifacts['analysis']}/manifest.json" in set(plan.path)
    assert not app.button(key="hub-run").disabled
    app.button(key="hub-run").click().run()
    _finish(app, sample_ws, "sync.job_id")
    assert any(s.value.startswith("succeeded") and "commit" in s.value for s in app.success)
    assert len(hub_server.commits(REPO)) == 2
    # changing a setting asks for a new plan
    app.selectbox(key="sync.group").set_value("stage2").run()
    assert app.button(key="hub-run").disabled
    # delete-all: planned, then enabled only once the repository id is typed back
    app.radio(key="sync.op").set_value("delete-all").run()
    app.button(key="hub-plan").click().run()
    _finish(app, sample_ws, "sync.job_id")
    assert app.button(key="hub-run").disabled
    app.text_input(key="sync.confirm").set_value("klinelab/wrong").run()
    assert app.button(key="hub-run").disabled
    app.text_input(key="sync.confirm").set_value(REPO).run()
    assert not app.button(key="hub-run").disabled
    app.button(key="hub-run").click().run()
    _finish(app, sample_ws, "sync.job_id")
    assert set(hub_server.files(REPO)) == {".gitattributes"} and len(hub_server.commits(REPO)) == 3
    hist = app.dataframe[-1].value
    assert list(hist.op[:2]) == ["delete-all", "upload"] and set(hist.status[:2]) == {"succeeded"}
    # the token typed into the page was handed to the jobs through their environment only
    needle = hub_server.token.encode()
    assert not [p for p in sample_ws.root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_ssh_profile_unknown_key_shown_then_trusted(app, sample_ws, sshd):
    assert app.get("form")  # the profile form is open when there is no profile
    app.text_input(key="ssh.p.name").set_value("loop")
    app.text_input(key="ssh.p.host").set_value(sshd.host)
    app.number_input(key="ssh.p.port").set_value(sshd.port)
    app.text_input(key="ssh.p.user").set_value(sshd.user)
    app.text_input(key="ssh.p.key").set_value(str(sshd.client_key))
    app.button(key="FormSubmitter:ssh-profile-Save profile").click().run()
    assert not app.exception, [e.value for e in app.exception]
    from engine.sync.ssh import load_profiles

    assert load_profiles(sample_ws)["loop"].port == sshd.port
    app.button(key="ssh-test").click().run()
    # an untrusted key makes `sync ssh test` a refusal (exit 2, issue 17); its result still carries the key
    st = _finish(app, sample_ws, "sync.ssh_job_id", status="failed")
    fp = sshd.host_key_fingerprint()
    assert st.returncode == 2 and st.result["host_key"]["status"] == "unknown" and fp in st.error
    assert any("UNKNOWN" in w.value and fp in w.value for w in app.warning)
    assert not sample_ws.known_hosts_path.exists()
    app.button(key="ssh-trust").click().run()
    _finish(app, sample_ws, "sync.ssh_job_id")
    assert f"[{sshd.host}]:{sshd.port} ssh-ed25519" in sample_ws.known_hosts_path.read_text()
    app.button(key="ssh-test").click().run()
    _finish(app, sample_ws, "sync.ssh_job_id")
    assert any("connected" in s.value for s in app.success)
