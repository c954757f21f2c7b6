"""SSH operations as the page and the CLI offer them: connection test, list, upload (of a
training archive, made on the fly like the seed's ``upload-training``), download (of a
results archive, then unpacked safely and indexed), each recorded in the sync history."""
from __future__ import annotations

import posixpath
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

from config.errors import BadInput, KlineLabError
from engine.progress import progress
from engine.sync import history
from engine.sync.ssh import HostProfile, connect, host_key_status, listdir, remote_path, run_command
from storage.workspace import Workspace


def progress_printer(label: str, lo: float = 0.0, hi: float = 1.0):
    """A transfer callback that reports at most every half second (and at the end)."""
    last = [0.0]

    def cb(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done >= total:
            last[0] = now
            frac = done / total if total else 1.0
            progress(lo + (hi - lo) * frac, f"{label}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    return cb


def test(ws: Workspace, profile: HostProfile, *, password: str | None = None) -> dict[str, Any]:
    """Reachability, host key (shown as a fingerprint when unknown), authentication, the remote
    folder and, for remote jobs, the KlineLab checkout and its python."""
    out: dict[str, Any] = {"host": profile.label, "profile": profile.to_dict()}
    out["host_key"] = key = host_key_status(ws, profile)
    if key["status"] != "trusted":
        out["ok"] = False
        out["_text"] = (f"{profile.label}: host key {key['key_type']} {key['fingerprint']} is {key['status'].upper()}"
                        + (f" (trusted: {', '.join(key['trusted_fingerprints'])})" if key["trusted_fingerprints"] else "")
                        + f"\ntrust it only after checking it: python -m engine sync ssh trust --host {profile.name} "
                          f"--fingerprint {key['fingerprint']}")
        return out
    client = connect(ws, profile, password=password)
    try:
        _, uname, _ = run_command(client, "uname -srm; echo $HOME", timeout=30)
        lines = uname.strip().splitlines()
        out["system"], out["remote_home_dir"] = (lines + ["", ""])[:2]
        rc, _, _ = run_command(client, f"test -d {shlex.quote(profile.remote_dir)}", check=False, timeout=30)
        out["remote_dir_exists"] = rc == 0
        if profile.project_dir:
            rc, ver, err = run_command(client, f"cd {shlex.quote(profile.project_dir)} && {shlex.quote(profile.python)} -c "
                                               f"{shlex.quote('import config.version as v; print(v.code_version())')}",
                                       check=False, timeout=120)
            out["klinelab"] = ver.strip() if rc == 0 else None
            if rc != 0:
                out["klinelab_error"] = (err.strip() or ver.strip())[-300:]
    finally:
        client.close()
    out["ok"] = True
    text = [f"{profile.label}: connected (host key {key['fingerprint']} trusted)", f"  system: {out['system']}",
            f"  {profile.remote_dir}: {'exists' if out['remote_dir_exists'] else 'missing (created on first upload)'}"]
    if profile.project_dir:
        text.append(f"  KlineLab at {profile.project_dir}: " + (out["klinelab"] or f"NOT usable: {out.get('klinelab_error')}"))
    out["_text"] = "\n".join(text)
    return out


def list_remote(ws: Workspace, profile: HostProfile, path: str | None, *, password: str | None = None) -> dict[str, Any]:
    where = remote_path(profile, path)
    client = connect(ws, profile, password=password)
    try:
        rows = listdir(client, where)
    finally:
        client.close()
    text = "\n".join(f"{'d' if r['dir'] else '-'} {r['size']:>14,}  {r['modified']}  {r['name']}" for r in rows)
    return {"host": profile.label, "path": where, "entries": rows, "_text": f"{profile.label}:{where}\n{text or '(empty)'}"}


def upload(ws: Workspace, profile: HostProfile, *, archive_id: str | None = None, file: str | None = None,
           path: str | None = None, password: str | None = None, archive_args: dict | None = None) -> dict[str, Any]:
    """Send a file or an archive artifact; without either, make a training archive first."""
    from storage.artifacts import read_manifest

    if archive_id and file:
        raise BadInput("give --archive or --file, not both")
    started = time.monotonic()
    made = None
    if file:
        src = Path(file).expanduser()
        if not src.is_file():
            raise BadInput(f"no such file: {src}")
        sha = None
    else:
        if not archive_id:
            from engine.sync.archives import create

            made = create(ws, "training", span=(0.0, 0.1), **(archive_args or {}))
            archive_id = made["archive_id"]
        m = read_manifest(ws, archive_id, "archive")
        fname = m.extra.get("archive_file") or m.name
        src = ws.artifact_dir("archive", archive_id) / fname
        sha = next((f.sha256 for f in m.files if f.path == fname), None)
    target = remote_path(profile, path)
    if target.endswith("/") or not posixpath.splitext(target)[1]:
        target = posixpath.join(target, src.name)
    client = connect(ws, profile, password=password)
    try:
        try:
            from engine.sync import ssh

            t = ssh.upload(client, src, target, local_sha=sha, progress=progress_printer(f"uploading {src.name}", 0.1, 0.98))
        except KlineLabError as e:
            history.record(ws, backend="ssh", op="upload", target=profile.label, path=target, status="failed", error=str(e),
                           duration_s=round(time.monotonic() - started, 2))
            raise
    finally:
        client.close()
    history.record(ws, backend="ssh", op="upload", target=profile.label, path=target, status="succeeded", files=1,
                   bytes=t.bytes, sha256=t.sha256, artifacts=[archive_id] if archive_id else None,
                   duration_s=round(time.monotonic() - started, 2), summary={"resumed_from": t.resumed_from})
    out = {"host": profile.label, "archive_id": archive_id, "transfer": t.to_dict(), "created_archive": bool(made)}
    out["_text"] = (f"{src.name} -> {profile.label}:{target}  {t.bytes / 1e6:.1f} MB, sha256 verified"
                    + (f", resumed after {t.resumed_from} bytes" if t.resumed_from and t.sent else "")
                    + ("" if t.sent or not t.notes else f" ({t.notes[0]})"))
    return out


def download(ws: Workspace, profile: HostProfile, remote: str, *, local_path: str | None = None, do_import: bool = True,
             replace: bool = False, password: str | None = None, expected_sha: str | None = None) -> dict[str, Any]:
    """Fetch a remote file (resumable, verified); a KlineLab archive is then unpacked safely
    and its artifacts indexed with origin ``ssh:<host>``."""
    from engine.sync import ssh
    from engine.sync.archives import import_archive

    if not remote:
        raise BadInput("--path: the remote file to download is required")
    src = remote_path(profile, remote)
    keep = Path(local_path).expanduser().resolve() if local_path else None
    if keep is not None and not keep.is_dir():
        raise BadInput(f"--local-path {local_path}: not an existing folder")
    if not do_import and keep is None:
        raise BadInput("--no-import needs --local-path (where to keep the file)")
    started = time.monotonic()
    ws.ensure()
    # a fixed place per host and file, so that an interrupted download resumes on the next run
    inbox = ws.tmp_dir / "ssh-downloads" / f"{profile.host}_{profile.port}"
    local = inbox / posixpath.basename(src)
    client = connect(ws, profile, password=password)
    try:
        try:
            t = ssh.download(client, src, local, expected_sha=expected_sha,
                             progress=progress_printer(f"downloading {posixpath.basename(src)}", 0.05, 0.8))
        except KlineLabError as e:
            history.record(ws, backend="ssh", op="download", target=profile.label, path=src, status="failed",
                           error=str(e), duration_s=round(time.monotonic() - started, 2))
            raise
    finally:
        client.close()
    out: dict[str, Any] = {"host": profile.label, "transfer": t.to_dict()}
    try:
        if keep is not None:
            shutil.copyfile(local, keep / local.name)
            out["saved_to"] = str(keep / local.name)
        if do_import:
            out.update(import_archive(ws, local, origin=f"ssh:{profile.host}", replace=replace, span=(0.8, 1.0)))
    finally:
        local.unlink(missing_ok=True)
    history.record(ws, backend="ssh", op="download", target=profile.label, path=src, status="succeeded", files=1,
                   bytes=t.bytes, sha256=t.sha256, artifacts=[a["id"] for a in out.get("artifacts", [])],
                   duration_s=round(time.monotonic() - started, 2), summary={"resumed_from": t.resumed_from})
    out["_text"] = (f"{profile.label}:{src} -> {t.bytes / 1e6:.1f} MB, sha256 verified"
                    + (f", resumed after {t.resumed_from} bytes" if t.resumed_from else "")
                    + (f"\n{out['_text']}" if "_text" in out else ""))
    return out
