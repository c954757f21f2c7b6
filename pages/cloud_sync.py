"""Cloud Sync: Hugging Face Hub groups (plan as a dry run, then one commit), SSH / Paperspace
hosts (host keys, archives, SFTP with resume and checksums), remote jobs, sync history.
Every action runs as a background job of the matching `python -m engine sync ...` command."""
from __future__ import annotations

import os

import streamlit as st

from engine import jobs
from engine.sync.groups import GROUPS
from engine.sync.history import read as read_history
from engine.sync.requests import (
    HUB_OPS,
    ArchiveResultsRequest,
    ArchiveTrainingRequest,
    HubTestRequest,
    SshListRequest,
    SshTestRequest,
    SshUploadRequest,
)
from engine.sync.ssh import HostProfile, load_profiles, save_profile
from pages.artifact_widgets import by_name
from pages.cloud_sync_widgets import (
    SyncKeys,
    command_line,
    history_frame,
    hub_token,
    show_hub_overview,
    show_plan,
    show_ssh_result,
    ssh_env,
    submit,
)
from pages.ui import catalog, ensure_sample, follow_job, jobs_table, show_table, user_errors, workspace

ensure_sample()
ws = workspace()
st.title("Cloud Sync")
st.caption("Hugging Face Hub and SSH hosts (Paperspace). Every operation is planned first; Hub changes land as one commit.")


def _ids(kinds: tuple[str, ...]) -> list[str]:
    with user_errors():
        frames = [catalog().query(kind=k, limit=500) for k in kinds]
        return [i for f in frames for i in f["id"].tolist()]
    return []


tab_hub, tab_ssh, tab_remote, tab_hist = st.tabs(["Hugging Face Hub", "SSH / Paperspace", "Remote jobs", "History"])

# -- Hub ------------------------------------------------------------------------------------------
with tab_hub:
    c1, c2, c3 = st.columns([3, 1, 2])
    repo_id = c1.text_input("Repository (owner/name)", key="sync.repo_id", placeholder="my-user/klinelab-data")
    repo_type = c2.selectbox("Type", ["dataset", "model"], key="sync.repo_type")
    endpoint = c3.text_input("Endpoint", value=os.environ.get("HF_ENDPOINT", "https://huggingface.co"), key="sync.endpoint")
    st.text_input("Token (kept for this session only; default: Streamlit secrets or HF_TOKEN)", type="password",
                  key=SyncKeys.HF_TOKEN)
    token, source = hub_token()
    st.caption(f"Token: {source}")
    common = {"repo_id": repo_id.strip(), "repo_type": repo_type, "endpoint": endpoint.strip() or None}
    env = {"HF_TOKEN": token} if token else {}

    if st.button("Test connection", key="hub-test", disabled=not repo_id.strip()):
        with user_errors():
            submit(HubTestRequest.build(**common).argv(), SyncKeys.HUB_TEST_JOB, name=f"hub test {repo_id}", env=env)
    follow_job(SyncKeys.HUB_TEST_JOB, on_done=lambda s: show_hub_overview(s.result or {}))

    st.subheader("Plan and run")
    c1, c2 = st.columns([1, 2])
    op = c1.radio("Operation", ["upload", "download", "delete", "delete-all"], key="sync.op", horizontal=True)
    fields: dict = dict(common)
    if op != "delete-all":
        group = c2.selectbox("Group", list(GROUPS), key="sync.group", format_func=lambda g: f"{g} - {GROUPS[g].title}")
        fields["group"] = group
        with st.expander("Selection and options"):
            g = GROUPS[group]
            if g.kinds and op == "upload":
                opts = _ids(g.kinds)
                ids = st.multiselect("Only these artifacts (default: all)", opts, key=f"sync.ids.{group}",
                                     format_func=by_name(opts))
            else:
                ids = [x.strip() for x in st.text_input("Only these artifact ids (comma separated)",
                                                         key=f"sync.idtext.{group}").split(",") if x.strip()]
            fields["ids"] = ids
            fields["symbols"] = st.text_input("Only these symbols", key="sync.symbols")
            fields["timeframes"] = st.text_input("Only these timeframes", key="sync.timeframes")
            if g.optional_scalers and op in ("upload", "delete"):
                fields["no_scalers"] = st.checkbox("Leave the scalers out", key="sync.noscalers")
            if g.local_folder:
                fields["ticks_dir"] = st.text_input("Tick folder", value=str(ws.root / "raw" / "ticks"), key="sync.ticksdir")
            if op == "upload":
                fields["prune"] = st.checkbox("Also delete this group's files that are only on the Hub", key="sync.prune")
                fields["private"] = st.checkbox("Create the repository private (if new)", key="sync.private")
            if op == "download":
                fields["replace"] = st.checkbox("Replace local artifacts that differ", key="sync.replace")
            if op != "download":
                fields["commit_message"] = st.text_input("Commit message (default: the seed's)", key="sync.message").strip() or None
    confirm = ""
    if op == "delete-all":
        st.warning("delete-all removes every file of the repository (except .gitattributes) in one commit.",
                   icon=":material/warning:")
        confirm = st.text_input("Type the repository id to confirm", key="sync.confirm")
    req = None
    if repo_id.strip():
        with user_errors():
            req = HUB_OPS[op].build(**fields)  # the typed request `sync hub OP` parses
    args = req.argv() if req else []
    plans = st.session_state.setdefault(SyncKeys.HUB_PLANS, {})
    planned = req is not None and any(p == args and jobs.get(ws, jid).status == "succeeded"
                                      for jid, p in plans.items() if (ws.jobs_dir / jid).is_dir())
    c1, c2, _ = st.columns([1, 1, 3])
    if c1.button("Plan (dry run)", key="hub-plan", disabled=req is None):
        jid = submit(req.with_fields(dry_run=True).argv(), SyncKeys.HUB_JOB, name=f"plan {op} {repo_id}", env=env)
        if jid:
            plans[jid] = list(args)
    run_ok = planned and (op != "delete-all" or confirm.strip() == repo_id.strip())
    if c2.button(f"Run {op}", key="hub-run", type="primary", disabled=not run_ok,
                 help=None if run_ok else "make a plan with these settings first" + (
                     " and type the repository id" if op == "delete-all" else "")):
        final = req.with_fields(confirm=confirm.strip()) if op == "delete-all" else req
        submit(final.argv(), SyncKeys.HUB_JOB, name=f"{op} {repo_id}", env=env)
    if req is not None:
        st.caption(f"Same as: `{command_line(req)}`")
    follow_job(SyncKeys.HUB_JOB, on_done=lambda s: show_plan(s.result or {}))

# -- SSH ------------------------------------------------------------------------------------------
profiles: dict[str, HostProfile] = {}
with tab_ssh:
    with user_errors():
        profiles = load_profiles(ws)
    names = list(profiles)
    with st.expander("Add or edit a host profile", expanded=not names):
        cur = profiles.get(st.session_state.get(SyncKeys.SSH_HOST) or "")
        with st.form("ssh-profile", enter_to_submit=False):
            c1, c2, c3, c4 = st.columns([2, 3, 1, 2])
            name = c1.text_input("Name", value=cur.name if cur else "paperspace", key="ssh.p.name")
            host = c2.text_input("Host", value=cur.host if cur else "", key="ssh.p.host")
            port = c3.number_input("Port", 1, 65535, value=cur.port if cur else 22, key="ssh.p.port")
            user = c4.text_input("User", value=cur.user if cur else "paperspace", key="ssh.p.user")
            c1, c2 = st.columns(2)
            key_file = c1.text_input("Key file (empty: SSH agent / ~/.ssh keys / password)",
                                     value=(cur.key_file or "") if cur else "", key="ssh.p.key")
            remote_dir = c2.text_input("Remote folder", value=cur.remote_dir if cur else "/storage/", key="ssh.p.dir")
            c1, c2, c3 = st.columns(3)
            project_dir = c1.text_input("KlineLab checkout on the host (remote jobs)", value=(cur.project_dir or "") if cur else "",
                                        key="ssh.p.project")
            python = c2.text_input("Its python", value=cur.python if cur else "python3", key="ssh.p.python")
            remote_home = c3.text_input("Its workspace (default <remote folder>/klinelab-workspace)",
                                        value=(cur.remote_home or "") if cur else "", key="ssh.p.home")
            if st.form_submit_button("Save profile"):
                with user_errors():
                    p = save_profile(ws, HostProfile(name=name.strip(), host=host.strip(), port=int(port), user=user.strip() or None,
                                                     key_file=key_file.strip() or None, remote_dir=remote_dir.strip() or "/storage/",
                                                     project_dir=project_dir.strip() or None, python=python.strip() or "python3",
                                                     remote_home=remote_home.strip() or None))
                    st.session_state[SyncKeys.SSH_HOST] = p.name
                    st.rerun()
    if not names:
        st.info("No SSH host yet: add a profile above (host keys are checked against this workspace's known_hosts).")
    else:
        c1, c2 = st.columns([2, 3])
        hname = c1.selectbox("Host", names, key=SyncKeys.SSH_HOST)
        c2.text_input("Password (only if the host uses one; kept for this session only)", type="password",
                      key=SyncKeys.SSH_PASSWORD)
        prof = profiles[hname]
        st.caption(f"{prof.label}, folder `{prof.remote_dir}`" + (f", checkout `{prof.project_dir}`" if prof.project_dir else ""))
        c1, c2, c3 = st.columns([1, 2, 1])
        if c1.button("Test connection", key="ssh-test"):
            submit(SshTestRequest.build(host=hname).argv(), SyncKeys.SSH_JOB, name=f"ssh test {hname}", env=ssh_env())
        rpath = c2.text_input("Remote folder", value=prof.remote_dir, key="sync.ssh_path", label_visibility="collapsed")
        if c3.button("List", key="ssh-list"):
            submit(SshListRequest.build(host=hname, path=rpath.strip() or None).argv(), SyncKeys.SSH_JOB, name=f"list {hname}",
                   env=ssh_env())

        st.subheader("Archives")
        a1, a2 = st.columns(2)
        with a1.form("archive-training"):
            st.markdown("**Training archive** (feature sets + their reports)")
            fs_opts = _ids(("features",))
            fs = st.multiselect("Feature sets (default: all)", fs_opts, format_func=by_name(fs_opts))
            root_ticks = ws.root / "raw" / "ticks"
            tick_mb = sum(p.stat().st_size for p in root_ticks.rglob("*") if p.is_file()) / 1e6 if root_ticks.is_dir() else 0.0
            ticks = st.checkbox(f"Include tick data ({tick_mb:.1f} MB in {root_ticks})", disabled=tick_mb == 0)
            cache = st.checkbox("Include the candles they were built from")
            if st.form_submit_button("Create"):
                req = ArchiveTrainingRequest.build(no_ask_ticks=True, ids=fs, include_ticks=ticks, include_cache=cache)
                submit(req.argv(), SyncKeys.SSH_JOB, name="training archive")
        with a2.form("archive-results"):
            st.markdown("**Results archive** (models: checkpoints, metrics, logs, scalers)")
            m_opts = _ids(("model", "stage1", "stage2"))
            ms = st.multiselect("Models (default: all)", m_opts, format_func=by_name(m_opts))
            if st.form_submit_button("Create"):
                submit(ArchiveResultsRequest.build(ids=ms).argv(), SyncKeys.SSH_JOB, name="results archive")
        archives = _ids(("archive",))
        if archives:
            with st.form("ssh-upload", enter_to_submit=False):
                c1, c2 = st.columns([2, 2])
                arch = c1.selectbox("Archive to upload", archives, format_func=by_name(archives))
                dest = c2.text_input("Remote folder or file", value=prof.remote_dir)
                if st.form_submit_button("Upload (resumable, sha256-checked)"):
                    with user_errors():
                        req = SshUploadRequest.build(host=hname, archive=arch, path=dest.strip() or None)
                        submit(req.argv(), SyncKeys.SSH_JOB, name=f"upload {arch}", env=ssh_env())
        follow_job(SyncKeys.SSH_JOB, on_done=show_ssh_result)

# -- Remote jobs ------------------------------------------------------------------------------------
with tab_remote:
    runnable = [n for n, p in profiles.items() if p.project_dir]
    if not runnable:
        st.info("Remote jobs need a host profile with the KlineLab checkout on the host (SSH tab).")
    else:
        with st.form("remote-run", enter_to_submit=False):
            c1, c2 = st.columns([1, 3])
            rhost = c1.selectbox("Host", runnable)
            command = c2.text_input("Command (as after `python -m engine`)", placeholder="train patchtst --config configs/my.yaml")
            send_opts = _ids(("features", "analysis", "ohlcv"))
            send = st.multiselect("Send these artifacts first (ids named in the command or its config are sent anyway)",
                                  send_opts, format_func=by_name(send_opts))
            if st.form_submit_button("Start on the host", type="primary"):
                from engine.sync.remote_jobs import submit_command

                with user_errors():
                    res = submit_command(ws, rhost, command, send=send, password=ssh_env().get("KLINELAB_SSH_PASSWORD"))
                    st.session_state[SyncKeys.REMOTE_JOB] = res["job_id"]
                    st.session_state.pop(f"{SyncKeys.REMOTE_JOB}.done", None)
        follow_job(SyncKeys.REMOTE_JOB, on_done=lambda s: st.success((s.result or {}).get("_text") or "done"))
    remote_jobs = [j for j in jobs.list_jobs(ws, limit=200) if j.host != "local"][:20]
    if remote_jobs:
        show_table(jobs_table(remote_jobs).assign(host=[j.host for j in remote_jobs]), hide_index=True, width="stretch")

# -- History ----------------------------------------------------------------------------------------
with tab_hist:
    rows = read_history(ws, 500)
    if rows:
        show_table(history_frame(rows), hide_index=True, width="stretch")
    else:
        st.info("No sync operations yet.")
