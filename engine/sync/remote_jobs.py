"""Remote jobs: run an engine command (training) on an SSH host and bring its results home.

:func:`submit_remote_train` / :func:`submit_remote` start a LOCAL background job
(``sync ssh run --host H ...``, its state marked with ``host = H``) that:

1. sends what the command needs - the artifacts it names (feature sets with their analysis
   reports, or any ids given) as a training archive, resumable and sha256-verified, unpacked
   on the host by the host's own KlineLab (``sync ssh import-archive``), plus input files
   (``--put``, e.g. the training config) whose paths are rewritten in the command;
2. starts the command there as a job of the host's KlineLab (``jobs start``: its own process
   group, detached, so it survives the SSH session);
3. follows the remote job's state and log over SFTP (mirrored into the local job's progress
   and log), reconnecting if the link drops;
4. when it succeeds, has the host pack the artifacts it produced (``sync ssh archive-results``),
   downloads that archive (resumable, verified), unpacks it safely and indexes them here with
   origin ``ssh:<host>``.

:func:`cancel_remote` (called by ``engine.jobs.runner.cancel`` for jobs whose host is not
"local") cancels the remote job and stops the local follower.
"""
from __future__ import annotations

import json
import os
import posixpath
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import tenacity

from config import settings
from config.errors import BadInput, Cancelled, KlineLabError, RemoteError
from config.secrets import mask_args
from engine.progress import progress
from engine.sync import history
from engine.sync.ssh import HostProfile, connect, resolve, run_command
from storage.workspace import Workspace


def _engine(profile: HostProfile, *args: str) -> str:
    """The shell command running ``python -m engine ARGS --json`` in the host's checkout and workspace."""
    if not profile.project_dir:
        raise BadInput(f"host {profile.name}: no KlineLab checkout configured for remote jobs",
                       hint="set the host profile's project dir (and python): `sync ssh host-add ... --project-dir DIR`")
    return (f"cd {shlex.quote(profile.project_dir)} && env KLINELAB_HOME={shlex.quote(profile.home)} PYTHONUNBUFFERED=1 "
            f"{shlex.quote(profile.python)} -m engine {' '.join(shlex.quote(a) for a in args)} --json")


def _json_out(out: str, what: str) -> dict:
    try:
        return json.loads(out)
    except ValueError:
        raise RemoteError(f"{what}: the host's KlineLab did not answer with JSON: {out.strip()[-300:]}") from None


def referenced_ids(ws: Workspace, args: list[str]) -> list[str]:
    """Artifact ids of this workspace named in the command or in the config files it points to
    (any string value), so that they can be sent along."""
    from config.bounded import load_yaml_file

    found: list[str] = []

    def visit(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                visit(x)
        elif isinstance(v, list):
            for x in v:
                visit(x)
        elif isinstance(v, str) and v and len(v) < 200:
            for part in v.split(","):
                part = part.strip()
                try:
                    if part and ws.find_artifact_dir(part) is not None and not part.startswith("job-"):
                        found.append(part)
                except BadInput:
                    continue

    for a in args:
        visit(a)
        p = Path(a)
        if p.suffix in (".yaml", ".yml", ".json") and p.is_file():
            try:
                visit(load_yaml_file(p))  # bounded: no aliases, at most 1 MB
            except KlineLabError:
                continue
    return list(dict.fromkeys(found))


def submit_remote(ws: Workspace, host: str, engine_args: list[str], *, send: list[str] | None = None,
                  put: list[str] | None = None, password: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Start the follower job; returns its id (follow it like any local job)."""
    from engine import jobs
    from engine.jobs.state import update

    if not engine_args:
        raise BadInput("no command to run on the host")
    profile = resolve(ws, host)
    _engine(profile)  # the profile must name a checkout
    args = ["sync", "ssh", "run", "--host", host]
    if send:
        args += ["--send", ",".join(send)]
    for f in put or []:
        args += ["--put", str(Path(f).expanduser().resolve())]
    args += ["--", *engine_args]
    env = {"KLINELAB_SSH_PASSWORD": password} if password else None
    st = jobs.submit(ws, args, name=name or f"{' '.join(engine_args[:2])} on {profile.name}",
                     extra={"remote": {"host": profile.name}}, env=env)
    st = update(ws, st.id, host=profile.name)
    return {"job_id": st.id, "host": profile.name, "status": st.status, "command": engine_args, "send": send or []}


def submit_remote_train(ws: Workspace, host: str, train_args: list[str], *, password: str | None = None,
                        send: list[str] | None = None) -> dict[str, Any]:
    """``train ... --remote HOST``: the artifacts the arguments / config name are sent along,
    files given as ``--config FILE`` are copied to the host."""
    args = [a for a in train_args if a]
    if args[:1] == ["train"]:  # accepted with or without the command name
        args = args[1:]
    put = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--config", "--config-file") and Path(args[i + 1]).is_file()]
    return submit_remote(ws, host, ["train", *args], send=list(dict.fromkeys([*(send or []), *referenced_ids(ws, args)])),
                         put=put, password=password, name=f"train {args[0] if args else ''} on {host}")


def submit_command(ws: Workspace, host: str, command: str, *, send: list[str] | None = None,
                   password: str | None = None) -> dict[str, Any]:
    """A command line as typed on the page (``train ...`` or any engine command)."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError as e:
        raise BadInput(f"cannot read the command: {e}") from None
    if words[:1] == ["train"]:
        return submit_remote_train(ws, host, words[1:], password=password, send=send)
    return submit_remote(ws, host, words, send=list(dict.fromkeys([*(send or []), *referenced_ids(ws, words)])),
                         password=password)


# -- the follower (runs inside the local job) ---------------------------------------------------
class _Link:
    """An SSH connection that reconnects (with back-off) when the link drops."""

    attempts = 8  # connection attempts: waits of 1, 2, 4, ... s (at most 60 s) in between
    backoff_s = 1.0

    def __init__(self, ws: Workspace, profile: HostProfile):
        self.ws, self.profile, self.client = ws, profile, None

    def _note_retry(self, rs: tenacity.RetryCallState) -> None:
        e = rs.outcome.exception()
        progress(None, f"connection to {self.profile.label} lost ({getattr(e, 'message', e)}); "
                       f"retrying in {rs.next_action.sleep:.0f} s")

    def get(self):
        if self.client is None or not self.client.get_transport() or not self.client.get_transport().is_active():
            self.close()
            self.client = tenacity.Retrying(
                stop=tenacity.stop_after_attempt(self.attempts),
                wait=tenacity.wait_exponential(multiplier=self.backoff_s, max=60 * self.backoff_s),
                retry=tenacity.retry_if_exception_type(RemoteError), before_sleep=self._note_retry,
                sleep=time.sleep, reraise=True)(connect, self.ws, self.profile)
        return self.client

    def run(self, cmd: str, **kw) -> tuple[int, str, str]:
        try:
            return run_command(self.get(), cmd, **kw)
        except (OSError, EOFError):
            self.close()
            return run_command(self.get(), cmd, **kw)

    def read(self, path: str, offset: int = 0) -> bytes | None:
        try:
            sftp = self.get().open_sftp()
        except (OSError, EOFError):
            self.close()
            sftp = self.get().open_sftp()
        try:
            with sftp.open(path, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return None
        finally:
            sftp.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None


def _record_remote(ws: Workspace, info: dict[str, Any]) -> None:
    from engine.jobs.context import current_job
    from engine.jobs.state import read_state, update

    job = current_job()
    if job is None:
        return
    st = read_state(ws, job.job_id)
    update(ws, job.job_id, extra={**st.extra, "remote": {**(st.extra.get("remote") or {}), **info}})


def _send_artifacts(ws: Workspace, link: _Link, profile, send: list[str]) -> None:
    """Pack ``send`` into a training archive, upload it to the host's inbox and unpack it there."""
    from engine.sync import ssh
    from engine.sync.archives import create
    from engine.sync.ssh_ops import progress_printer

    home = profile.home
    made = create(ws, "training", ids=send, span=(0.01, 0.03))
    remote_archive = posixpath.join(home, "inbox", made["file"])
    progress(0.03, f"sending {made['file']} ({made['bytes'] / 1e6:.1f} MB)")
    ssh.upload(link.get(), Path(made["path"]), remote_archive, local_sha=made["sha256"],
               progress=progress_printer(f"sending {made['file']}", 0.03, 0.10))
    _, out, _ = link.run(_engine(profile, "sync", "ssh", "import-archive", remote_archive, "--origin",
                                 f"ssh:{os.uname().nodename}", "--replace"), timeout=1800)
    sent = _json_out(out, "unpacking the training archive on the host")
    link.run(f"rm -f {shlex.quote(remote_archive)}", check=False)
    print(f"sent {len(sent.get('artifacts', []))} artifact(s) to {profile.label}", file=sys.stderr, flush=True)


def _fetch_results(ws: Workspace, link: _Link, profile, produced: list[str]) -> dict[str, Any]:
    """Pack the remote job's artifacts on the host, download the archive and adopt them here."""
    from engine.sync import ssh
    from engine.sync.archives import import_archive
    from engine.sync.ssh_ops import progress_printer

    progress(0.86, f"packing {len(produced)} result artifact(s) on {profile.label}")
    _, out, _ = link.run(_engine(profile, "sync", "ssh", "archive-results", "--ids", ",".join(produced)),
                         timeout=3600)
    res = _json_out(out, "packing the results on the host")
    local = ws.tmp_dir / "ssh-downloads" / f"{profile.host}_{profile.port}" / res["file"]
    ssh.download(link.get(), res["path"], local, expected_sha=res["sha256"],
                 progress=progress_printer(f"fetching {res['file']}", 0.88, 0.97))
    try:
        imported = import_archive(ws, local, origin=f"ssh:{profile.host}", replace=True, span=(0.97, 0.99))
    finally:
        local.unlink(missing_ok=True)
    return {"artifacts": imported["artifacts"],
            "results_archive": {"path": res["path"], "sha256": res["sha256"], "bytes": res["bytes"]}}


def run_remote(ws: Workspace, host: str, engine_args: list[str], *, send: list[str] | None = None,
               put: list[str] | None = None, fetch: bool = True) -> dict[str, Any]:
    """Steps 1-4 above, in the foreground (the body of ``sync ssh run``)."""
    from engine.sync import ssh

    if engine_args and engine_args[0] == "--":
        engine_args = engine_args[1:]
    if not engine_args:
        raise BadInput("no command to run on the host", hint="sync ssh run --host H -- train patchtst --config FILE")
    profile = resolve(ws, host)
    _engine(profile)
    started = time.monotonic()
    link = _Link(ws, profile)
    remote_id = None
    try:
        progress(0.01, f"connecting to {profile.label}")
        link.get()
        home = profile.home
        link.run(f"mkdir -p {shlex.quote(posixpath.join(home, 'inbox'))} {shlex.quote(posixpath.join(home, 'inputs'))}")
        if send:
            _send_artifacts(ws, link, profile, send)
        args = list(engine_args)
        for f in put or []:
            local = Path(f)
            if not local.is_file():
                raise BadInput(f"--put {f}: no such file")
            target = posixpath.join(home, "inputs", local.name)
            ssh.upload(link.get(), local, target)
            args = [target if a in (f, str(local)) else a for a in args]
        progress(0.12, f"starting `{' '.join(args[:3])}` on {profile.label}")
        _, out, _ = link.run(_engine(profile, "jobs", "start", "--", *args), timeout=300)
        remote_id = _json_out(out, "starting the remote job")["id"]
        _record_remote(ws, {"host": profile.name, "job_id": remote_id, "home": home, "command": mask_args(args)})
        print(f"remote job {remote_id} started on {profile.label}", file=sys.stderr, flush=True)
        state = _follow(link, profile, remote_id)
        if state["status"] == "cancelled":
            raise Cancelled(f"the remote job {remote_id} on {profile.label} was cancelled")
        if state["status"] != "succeeded":
            raise RemoteError(f"the remote job {remote_id} on {profile.label} {state['status']}: "
                              f"{state.get('error') or 'see the log'}")
        produced = [a for a in state.get("artifacts") or [] if not a.startswith("job-")]
        out_doc: dict[str, Any] = {"host": profile.name, "remote_job": remote_id, "remote_status": state["status"],
                                   "remote_result": state.get("result"), "artifacts": []}
        if produced and fetch:
            out_doc.update(_fetch_results(ws, link, profile, produced))
        history.record(ws, backend="ssh", op="remote-run", target=profile.label, status="succeeded",
                       artifacts=[a["id"] for a in out_doc["artifacts"]], duration_s=round(time.monotonic() - started, 2),
                       summary={"remote_job": remote_id, "command": mask_args(args[:6])})
        progress(1.0, f"remote job {remote_id} done; {len(out_doc['artifacts'])} artifact(s) fetched")
        out_doc["_text"] = (f"remote job {remote_id} on {profile.label}: {state['status']}\n"
                            + "\n".join(f"  {a['status']:>9}  {a['kind']:<8} {a['id']}" for a in out_doc["artifacts"]))
        return out_doc
    except Cancelled:
        if remote_id:
            _cancel_remote_job(link, profile, remote_id)
        raise
    except KlineLabError as e:
        history.record(ws, backend="ssh", op="remote-run", target=profile.label, status="failed", error=str(e),
                       duration_s=round(time.monotonic() - started, 2), summary={"remote_job": remote_id})
        raise
    finally:
        link.close()


def _follow(link: _Link, profile: HostProfile, remote_id: str) -> dict[str, Any]:
    jd = posixpath.join(profile.home, "jobs", remote_id)
    offset = 0
    last_alive_check = 0.0
    while True:
        raw = link.read(posixpath.join(jd, "state.json"))
        state = json.loads(raw) if raw else {"status": "queued"}
        chunk = link.read(posixpath.join(jd, "log.txt"), offset)
        if chunk:
            offset += len(chunk)
            print(chunk.decode("utf-8", "replace"), end="", file=sys.stderr, flush=True)
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return state
        progress(0.15 + 0.7 * float(state.get("progress") or 0.0), f"[{profile.name}] {state.get('message') or state['status']}")
        now = time.monotonic()
        if now - last_alive_check > 5:
            last_alive_check = now
            pid = state.get("pid")
            rc = link.run(f"kill -0 {int(pid)} 2>/dev/null", check=False, timeout=60)[0] if pid else 1
            if rc != 0:
                # no process (yet, or any more) behind an active state: the host's KlineLab decides (it records
                # a job whose process died as failed, and one that never got a pid after 30 s)
                link.run(_engine(profile, "jobs", "show", remote_id), check=False, timeout=300)
                continue
        time.sleep(settings.REMOTE_POLL_S.get())


def _cancel_remote_job(link: _Link, profile: HostProfile, remote_id: str) -> None:
    try:
        link.run(_engine(profile, "jobs", "cancel", remote_id), check=False, timeout=60)
    except KlineLabError:
        pass  # best effort: the local job is cancelled either way


def cancel_remote(ws: Workspace, job_state):
    """Cancel a remote job: the job on the host, then the local follower."""
    from engine.jobs.state import stop_process_group, update
    from storage.manifest import utc_now_iso

    remote = (job_state.extra or {}).get("remote") or {}
    # recorded first: the follower, seeing the remote job end, must not record another outcome
    st = update(ws, job_state.id, status="cancelled", error="cancelled by the user", ended_at=utc_now_iso())
    note = ""
    if remote.get("job_id"):
        link = _Link(ws, resolve(ws, remote.get("host") or job_state.host))
        try:
            _cancel_remote_job(link, link.profile, remote["job_id"])
        except KlineLabError as e:
            note = f" (the host could not be told: {e.message})"
        finally:
            link.close()
    stop_process_group(job_state.pid, job_state.proc_start)  # the local follower (the host was told above)
    if note:
        st = update(ws, job_state.id, error="cancelled by the user" + note)
    return st
