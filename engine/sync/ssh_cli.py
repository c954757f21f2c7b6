"""`sync ssh` commands: host profiles, host keys, connection test, archives, SFTP transfers,
remote jobs.  Seed equivalents: create-training-archive = archive-training,
create-results-archive = archive-results, upload-training = upload, download-results =
download, list-remote-files = list (``--method scp|rsync`` -> SFTP with resume and sha256
checks, always)."""
from __future__ import annotations

import argparse
import sys

from config.errors import BadInput
from engine.argtypes import csv_list as _csv
from engine.argtypes import int_in
from engine.sync import requests as R


def _profile(args, ws):
    from engine.sync.ssh import resolve

    return resolve(ws, args.host, port=getattr(args, "port", None), user=getattr(args, "user", None),
                   key_file=getattr(args, "key_file", None), remote_dir=getattr(args, "remote_dir", None))


def _confirm_ticks(args, ws) -> None:
    """The seed asks before packing tick data (it can be tens of GB)."""
    if not getattr(args, "include_ticks", False) or getattr(args, "no_ask_ticks", False) or not sys.stdin.isatty():
        return
    from engine.sync.archives import ticks_size

    answer = input(f"include {ticks_size(ws) / 1e6:.1f} MB of tick data in the archive? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise BadInput("tick data not confirmed", hint="answer y, or pass --no-ask-ticks")


def cmd_archive_training(args, ws):
    from engine.sync.archives import create

    req = R.ArchiveTrainingRequest.from_args(args)  # the same typed request the Cloud Sync page builds
    _confirm_ticks(req, ws)
    return create(ws, "training", output=req.output, **req.archive_args())


def cmd_archive_results(args, ws):
    from engine.sync.archives import create

    req = R.ArchiveResultsRequest.from_args(args)
    return create(ws, "results", ids=req.ids or None, kinds=req.kinds or None, output=req.output,
                  compresslevel=req.compression)


def cmd_import_archive(args, ws):
    from engine.sync.archives import import_archive

    return import_archive(ws, args.path, origin=args.origin, replace=args.replace)


def cmd_upload(args, ws):
    from engine.sync import ssh_ops

    req = R.SshUploadRequest.from_args(args)
    _confirm_ticks(req, ws)
    return ssh_ops.upload(ws, _profile(req, ws), archive_id=req.archive, file=req.file, path=req.path,
                          archive_args=req.archive_args())


def cmd_download(args, ws):
    from engine.sync import ssh_ops

    req = R.SshDownloadRequest.from_args(args)
    return ssh_ops.download(ws, _profile(req, ws), req.path, local_path=req.local_path, do_import=not req.no_import,
                            replace=req.replace, expected_sha=req.sha256)


def cmd_list(args, ws):
    from engine.sync import ssh_ops

    req = R.SshListRequest.from_args(args)
    return ssh_ops.list_remote(ws, _profile(req, ws), req.path)


def cmd_test(args, ws):
    from config.errors import Refused
    from engine.sync import ssh_ops

    out = ssh_ops.test(ws, _profile(R.SshTestRequest.from_args(args), ws))
    if not out.get("ok"):  # an unknown or changed host key is a refusal: exit 2, fingerprint in the message
        key = out["host_key"]
        text = out.pop("_text")
        raise Refused(text.splitlines()[0], hint=text.splitlines()[-1] if key["status"] == "unknown" else
                      f"a changed key is refused; only if you know why: `python -m engine sync ssh forget --host "
                      f"{out['profile']['name']}`", data=out)
    return out


def cmd_trust(args, ws):
    from engine.sync.ssh import trust

    req = R.SshTrustRequest.from_args(args)
    out = trust(ws, _profile(req, ws), req.fingerprint)
    out["_text"] = f"{out['host']}: {out['key_type']} {out['fingerprint']} trusted"
    return out


def cmd_forget(args, ws):
    from engine.sync.ssh import forget

    return forget(ws, _profile(args, ws))


def cmd_hosts(args, ws):
    from engine.sync.ssh import load_profiles

    rows = [p.to_dict() for p in load_profiles(ws).values()]
    text = "\n".join(f"{r['name']:<16} {r['user']}@{r['host']}:{r['port']}  dir {r['remote_dir']}"
                     + (f"  checkout {r['project_dir']} ({r['python']})" if r["project_dir"] else "") for r in rows)
    return {"hosts": rows, "_text": text or "no host profiles (add one with `sync ssh host-add`)"}


def cmd_host_add(args, ws):
    from engine.sync.ssh import HostProfile, save_profile

    p = save_profile(ws, HostProfile(name=args.name, host=args.host, port=args.port or 22, user=args.user,
                                     key_file=args.key_file, remote_dir=args.remote_dir or "/storage/",
                                     project_dir=args.project_dir, python=args.python or "python3",
                                     remote_home=args.remote_home, agent=not args.no_agent))
    return {"host": p.to_dict(), "_text": f"saved host profile {p.name}: {p.label}"}


def cmd_host_remove(args, ws):
    from engine.sync.ssh import remove_profile

    remove_profile(ws, args.name)
    return {"removed": args.name}


def cmd_run(args, ws):
    from engine.sync.remote_jobs import run_remote, submit_remote

    command = [a for a in (args.command or [])]
    if command and command[0] == "--":
        command = command[1:]
    if args.background:
        return submit_remote(ws, args.host, command, send=_csv(args.send) or None, put=args.put)
    return run_remote(ws, args.host, command, send=_csv(args.send) or None, put=args.put, fetch=not args.no_fetch)


def _conn(p, *, path_help: str | None = None) -> None:
    p.add_argument("--host", required=True, help="a saved host profile, or user@host")
    p.add_argument("--port", **R.SshTestRequest.option("port"))
    p.add_argument("--user")
    p.add_argument("--key-file", help="private key file (default: the profile's, the SSH agent, ~/.ssh keys)")
    if path_help:
        p.add_argument("--path", help=path_help)


def _archive_opts(p) -> None:
    p.add_argument("--ids", help="these artifacts (default: every feature set, with their analysis reports)")
    p.add_argument("--include-ticks", action="store_true", help="add the raw tick files (<workspace>/raw/ticks)")
    p.add_argument("--no-ask-ticks", action="store_true", help="do not ask before adding tick data")
    p.add_argument("--include-cache", action="store_true", help="add the candle series the feature sets were built from")
    p.add_argument("--compression", **R.ArchiveTrainingRequest.option("compression"), help="gzip level 0-9 (default 1: parquet is compressed already)")


def register_ssh(sub, parser_class) -> None:
    g = sub.add_parser("ssh", help="SSH / Paperspace: archives, SFTP with resume and checksums, host keys, remote jobs")
    s = g.add_subparsers(dest="ssh_cmd", metavar="COMMAND", parser_class=parser_class)
    _archive_commands(s)
    _transfer_commands(s)
    _host_commands(s)
    _run_command(s)


def _archive_commands(s) -> None:
    p = s.add_parser("archive-training", help="tar.gz of feature sets + reports (+ ticks, + candles) with sha256 list")
    _archive_opts(p)
    p.add_argument("--output", "-o", help="also copy the archive to this file")
    p.set_defaults(func=cmd_archive_training)

    p = s.add_parser("archive-results", help="tar.gz of trained models (checkpoints, metrics, logs, scalers)")
    p.add_argument("--ids", help="these artifacts (default: every model, stage1 and stage2 artifact)")
    p.add_argument("--kinds", help="kinds to pack when no --ids (default model,stage1,stage2)")
    p.add_argument("--output", "-o", help="also copy the archive to this file")
    p.add_argument("--compression", **R.ArchiveResultsRequest.option("compression"))
    p.set_defaults(func=cmd_archive_results)

    p = s.add_parser("import-archive", help="unpack a KlineLab archive safely and index its artifacts")
    p.add_argument("path")
    p.add_argument("--origin", help="origin to record (default ssh:<machine that made it>)")
    p.add_argument("--replace", action="store_true", help="replace local artifacts that differ")
    p.set_defaults(func=cmd_import_archive)


def _transfer_commands(s) -> None:
    p = s.add_parser("upload", help="send an archive or file (default: a new training archive) over SFTP")
    _conn(p, path_help="remote folder or file (default: the profile's folder, e.g. /storage/)")
    p.add_argument("--archive", help="an archive artifact id")
    p.add_argument("--file", help="any local file")
    _archive_opts(p)
    p.set_defaults(func=cmd_upload)

    p = s.add_parser("download", help="fetch a results archive over SFTP, unpack safely, index")
    _conn(p, path_help="the remote file (relative paths are under the profile's folder)")
    p.add_argument("--local-path", help="also keep the downloaded file in this folder")
    p.add_argument("--no-import", action="store_true", help="only save the file (with --local-path)")
    p.add_argument("--replace", action="store_true", help="replace local artifacts that differ")
    p.add_argument("--sha256", help="expected sha256 of the file (default: computed on the host)")
    p.set_defaults(func=cmd_download)

    p = s.add_parser("list", help="list a remote folder")
    _conn(p, path_help="remote folder (default: the profile's folder)")
    p.set_defaults(func=cmd_list)


def _host_commands(s) -> None:
    p = s.add_parser("test", help="connection test: host key, login, remote folder, KlineLab on the host")
    _conn(p)
    p.set_defaults(func=cmd_test)

    p = s.add_parser("trust", help="trust the host's key after checking its fingerprint")
    _conn(p)
    p.add_argument("--fingerprint", required=True, help="SHA256:... as shown by `sync ssh test`")
    p.set_defaults(func=cmd_trust)

    p = s.add_parser("forget", help="remove the trusted key of a host (after a reinstall)")
    _conn(p)
    p.set_defaults(func=cmd_forget)

    p = s.add_parser("hosts", help="saved host profiles")
    p.set_defaults(func=cmd_hosts)

    p = s.add_parser("host-add", help="save a host profile (never a password)")
    p.add_argument("name")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int_in(1, 65_535))
    p.add_argument("--user")
    p.add_argument("--key-file")
    p.add_argument("--remote-dir", help="default remote folder (default /storage/)")
    p.add_argument("--project-dir", help="KlineLab checkout on the host (for remote jobs)")
    p.add_argument("--python", help="python of that checkout (default python3)")
    p.add_argument("--remote-home", help="KLINELAB_HOME on the host (default <remote-dir>/klinelab-workspace)")
    p.add_argument("--no-agent", action="store_true", help="do not use the SSH agent")
    p.set_defaults(func=cmd_host_add)

    p = s.add_parser("host-remove", help="delete a host profile")
    p.add_argument("name")
    p.set_defaults(func=cmd_host_remove)


def _run_command(s) -> None:
    p = s.add_parser("run", help="run an engine command on the host, follow it, fetch its results: run --host H -- CMD")
    p.add_argument("--host", required=True)
    p.add_argument("--send", help="artifact ids to send first (comma separated)")
    p.add_argument("--put", action="append", help="a local file to copy to the host (its path in CMD is rewritten)")
    p.add_argument("--no-fetch", action="store_true", help="leave the results on the host")
    p.add_argument("--background", action="store_true", help="start it as a background job and return its id")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_run)
