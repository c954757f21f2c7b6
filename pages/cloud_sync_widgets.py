"""Streamlit helpers of the Cloud Sync page: session keys, the Hub token (session field,
Streamlit secrets or HF_TOKEN; handed to jobs through their environment only), job
submission with secrets in the environment, and renderers for plans, transfers, host-key
checks and the sync history."""
from __future__ import annotations

import os
import shlex
from typing import Any

import pandas as pd
import streamlit as st

from engine.requests import CliRequest
from engine.sync.plan import human_bytes
from engine.sync.requests import SshDownloadRequest, SshTrustRequest
from pages.ui import Keys, show_table, start_job


class SyncKeys:
    HUB_JOB = Keys.SYNC_JOB
    HUB_TEST_JOB = "sync.hub_test_job_id"
    HUB_PLANS = "sync.hub_plans"  # plan job id -> the parameters it planned
    HF_TOKEN = Keys.HF_TOKEN  # session only
    SSH_JOB = "sync.ssh_job_id"
    SSH_HOST = "sync.ssh_host"
    SSH_PASSWORD = "sync.ssh_password"  # session only
    REMOTE_JOB = "sync.remote_job_id"


def hub_token() -> tuple[str | None, str]:
    """(token, where it comes from); never displayed, never written."""
    typed = st.session_state.get(SyncKeys.HF_TOKEN)
    if typed:
        return typed.strip(), "the token field (this session only)"
    try:
        secret = st.secrets.get("HF_TOKEN")
    except Exception:  # noqa: BLE001 - no secrets.toml is the normal case
        secret = None
    if secret:
        return str(secret).strip(), "Streamlit secrets (HF_TOKEN)"
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"].strip(), "the HF_TOKEN environment variable"
    return None, "none (public repositories can be read; writing needs a token)"


def _host_of(command: list[str]) -> str:
    """The ``--host`` of a finished ``sync ssh`` job's command line, read back by the CLI's own parser."""
    from engine.cli import check_command

    return check_command(command).host


def submit(args: list[str], key: str, *, name: str, env: dict[str, str] | None = None) -> str | None:
    """Start ``python -m engine ARGS`` as a job; secrets go into its environment, never its command."""
    st.session_state.pop(f"{key}.done", None)
    return start_job(args, key, name=name, env={k: v for k, v in (env or {}).items() if v})


def plan_frame(plan: dict[str, Any]) -> pd.DataFrame:
    items = pd.DataFrame(plan.get("items") or [], columns=["status", "size", "path", "artifact_id", "note"])
    order = {"new": 0, "changed": 1, "removed": 2, "conflict": 3, "unchanged": 4, "kept": 5, "skipped": 6}
    items = items.assign(_o=items.status.map(order).fillna(9)).sort_values(["_o", "path"]).drop(columns="_o")
    return items[["status", "size", "path", "artifact_id", "note"]]


def show_plan(result: dict[str, Any]) -> None:
    plan = result.get("plan") or {}
    head = plan.get("head")
    st.markdown(f"**{plan.get('op')}** `{plan.get('group') or 'everything'}` - {plan.get('repo_type')} "
                f"`{plan.get('repo_id')}`@{plan.get('revision')} " + (f"(head `{head[:10]}`)" if head else "(new repository)"))
    summary = plan.get("summary") or {}
    if summary:
        cols = st.columns(len(summary))
        for c, (status, s) in zip(cols, summary.items()):
            c.metric(status, f"{s['files']} files", human_bytes(s["bytes"]), delta_color="off")
    for n in plan.get("notes") or []:
        st.caption(n)
    if result.get("dry_run"):
        todo = plan.get("to_do") or {}
        st.info(f"Dry run: {todo.get('files', 0)} file(s), {human_bytes(todo.get('bytes', 0))} would change, as one "
                "commit. Nothing was changed.", icon=":material/preview:")
    elif result.get("status"):
        what = f"commit `{result['commit'][:10]}`" if result.get("commit") and plan.get("op") != "download" else \
            f"{len(result.get('artifacts') or [])} artifact(s) indexed" if plan.get("op") == "download" else ""
        st.success(f"{result['status']}: {result.get('files', 0)} file(s), {human_bytes(result.get('bytes', 0))}"
                   + (f", {what}" if what else ""))
    show_table(plan_frame(plan), hide_index=True, width="stretch",
                 column_config={"size": st.column_config.NumberColumn("size (bytes)", format="%d")})


def show_hub_overview(result: dict[str, Any]) -> None:
    who = f"token of **{result.get('user')}** ({result.get('token_role')})" if result.get("token") else "no token"
    st.success(f"{result['endpoint']}: {who}. Repository `{result['repo_id']}` "
               + (f"exists (head `{result['head'][:10]}`)" if result.get("exists") else "does not exist yet (an upload creates it)"))
    groups = result.get("groups") or {}
    if groups:
        show_table(pd.DataFrame([{"group": g, "files": v["files"], "size": human_bytes(v["bytes"])}
                                   for g, v in sorted(groups.items())]), hide_index=True)


def show_ssh_result(stt) -> None:
    res = stt.result or {}
    cmd = stt.command[2] if len(stt.command) > 2 else ""
    if cmd == "test":
        key = res.get("host_key") or {}
        if key.get("status") == "trusted":
            st.success(res.get("_text") or f"connected to {res.get('host')}")
            st.code(f"{res.get('system', '')}", language=None)
            if res.get("profile", {}).get("project_dir"):
                if res.get("klinelab"):
                    st.caption(f"KlineLab on the host: {res['klinelab']}")
                else:
                    st.warning(f"KlineLab on the host is not usable: {res.get('klinelab_error')}")
        else:
            level = st.error if key.get("status") == "changed" else st.warning
            level(f"Host key of {key.get('host')} is **{key.get('status', '?').upper()}**: `{key.get('key_type')} "
                  f"{key.get('fingerprint')}`" + (f"; trusted: {', '.join(key['trusted_fingerprints'])}"
                                                  if key.get("trusted_fingerprints") else ""))
            if key.get("status") == "unknown":
                st.caption("Compare this fingerprint with the one the host's owner gives you (e.g. "
                           "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host) before trusting it.")
                if st.button(f"Trust {key.get('fingerprint')}", key="ssh-trust", type="primary"):
                    req = SshTrustRequest.build(host=_host_of(stt.command), fingerprint=key["fingerprint"])
                    submit(req.argv(), SyncKeys.SSH_JOB, name=f"trust {key.get('host')}")
                    st.rerun()
            else:
                st.caption("A changed key is refused. Only if you know why it changed (the host was reinstalled), "
                           f"remove the old key: `python -m engine sync ssh forget --host {_host_of(stt.command)}`.")
    elif cmd == "list":
        st.caption(f"{res.get('host')}:{res.get('path')}")
        entries = pd.DataFrame(res.get("entries") or [], columns=["name", "size", "dir", "modified"])
        show_table(entries, hide_index=True, width="stretch")
        files = [e["name"] for e in res.get("entries") or [] if not e["dir"]]
        if files:
            c1, c2 = st.columns([3, 1])
            pick = c1.selectbox("File to download and import", files, key="ssh-pick")
            if c2.button("Download", key="ssh-download"):
                path = res["path"].rstrip("/") + "/" + pick
                submit(SshDownloadRequest.build(host=_host_of(stt.command), path=path).argv(), SyncKeys.SSH_JOB,
                       name=f"download {pick}", env=ssh_env())
                st.rerun()
    elif cmd in ("archive-training", "archive-results"):
        st.success(res.get("_text") or "archive created")
    elif cmd in ("upload", "download"):
        st.success(res.get("_text") or "done")
        if res.get("artifacts"):
            show_table(pd.DataFrame(res["artifacts"]), hide_index=True)
    else:
        st.success(res.get("_text") or "done")


def ssh_env() -> dict[str, str]:
    """The session's SSH password for a job's environment (empty when none was typed)."""
    pw = st.session_state.get(SyncKeys.SSH_PASSWORD)
    return {"KLINELAB_SSH_PASSWORD": pw} if pw else {}


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["time", "backend", "op", "target", "group", "status", "files", "bytes", "commit", "error", "duration_s"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df["bytes"] = df["bytes"].map(lambda b: human_bytes(b) if pd.notna(b) else "")
        df["commit"] = df["commit"].map(lambda c: c[:10] if isinstance(c, str) else "")
    return df


def command_line(req: CliRequest) -> str:
    """The shell command a typed request stands for (a display: jobs run ``req.argv()`` with no shell)."""
    return "python -m engine " + " ".join(shlex.quote(a) for a in req.argv())
