"""``python -m engine <group> <command> [options] [--json]`` (SPEC 13).

One contract for pages, scripts, tests and remote hosts:
* ``--json`` prints one JSON document on stdout (ids, paths, counts, metrics);
* exit 0 on success; 2 on bad input or a refused request, with one line
  ``error: <what is wrong and what to do>`` on stderr and nothing written to the workspace;
  1 on an unexpected failure;
* progress goes to stderr.

Command groups live in their own modules (``engine/<area>/cli.py``), each with a
``register(subparsers)`` function; the modules listed in ``GROUP_MODULES`` that exist are
loaded.  A handler takes ``(args, ws)`` and returns a dict (``"_text"``, if present, is
the human-readable rendering and is left out of the JSON).
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import math
import sys
import traceback
from pathlib import Path
from typing import Any

from config.errors import BadInput, Cancelled, KlineLabError
from engine.cli_base import ArgumentParser
from engine.jobs.checks import register_command_checker  # also the name older import sites use

GROUP_MODULES = [
    "engine.data.cli",
    "engine.catalog_cli",
    "engine.jobs.cli",
    "engine.features.cli",
    "engine.analysis.cli",
    "engine.training.cli",
    "engine.stage2.cli",
    "engine.backtest.cli",
    "engine.sync.cli",
    "engine.tuning.cli",
]


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m engine", description="KlineLab command line")
    p.add_argument("--home", help="workspace root (default: $KLINELAB_HOME or ./workspace)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    sub = p.add_subparsers(dest="group", metavar="GROUP", parser_class=ArgumentParser)
    for modname in GROUP_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name and modname.startswith(e.name):  # that area is not built yet
                continue
            raise
        mod.register(sub)
    return p


def _default_text(data: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(data, dict):
        lines = []
        for k, v in data.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(_default_text(v, indent + 1))
            else:
                lines.append(f"{pad}{k}: {v}")
        return "\n".join(lines)
    if isinstance(data, list):
        return "\n".join(f"{pad}- " + _default_text(v, indent + 1).lstrip() for v in data)
    return f"{pad}{data}"


def json_safe(data: Any) -> Any:
    """``data`` with NaN / +-inf (also numpy's) as None and numpy scalars as Python numbers, so
    that ``json.dumps(..., allow_nan=False)`` always succeeds: ``--json`` output is valid JSON for
    every parser (bare ``NaN`` is not JSON)."""
    if isinstance(data, dict):
        return {str(k) if not isinstance(k, (str, int, float, bool)) and k is not None else k: json_safe(v)
                for k, v in data.items()}
    if isinstance(data, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in data]
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, (str, int, bool)) or data is None:
        return data
    if type(data).__name__ in ("NaTType", "NAType"):
        return None
    item = getattr(data, "item", None)  # numpy scalars (float32, int64, bool_)
    if callable(item) and type(data).__module__ == "numpy":
        try:
            return json_safe(item())
        except (TypeError, ValueError):
            pass
    tolist = getattr(data, "tolist", None)  # numpy arrays
    if callable(tolist) and type(data).__module__ == "numpy":
        return json_safe(tolist())
    return str(data)


def dumps_json(data: Any, **kw: Any) -> str:
    """The CLI's one JSON writer (null for NaN / inf, never bare NaN)."""
    return json.dumps(json_safe(data), allow_nan=False, **kw)


# OSErrors that say the environment refuses (read-only or full disk, permissions, a file where a
# folder should be): one `error:` line and exit 2, never a traceback (issue 17)
_ENV_ERRNOS = {errno.EROFS: "the file system is read-only", errno.ENOSPC: "no space left on the device",
               errno.EDQUOT: "the disk quota is exceeded", errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted", errno.ENOTDIR: "a path component is a file, not a folder",
               errno.EMFILE: "too many open files", errno.ENAMETOOLONG: "file name too long"}


def _env_error(e: OSError, home: Path | None) -> str | None:
    what = _ENV_ERRNOS.get(e.errno or -1)
    if what is None:
        return None
    where = f" ({e.filename})" if e.filename else ""
    hint = {errno.EROFS: "use a writable workspace (--home or KLINELAB_HOME)",
            errno.ENOSPC: "free some space or move the workspace (--home or KLINELAB_HOME)",
            errno.EDQUOT: "free some space or move the workspace (--home or KLINELAB_HOME)"}.get(
        e.errno, "check the workspace's permissions (--home or KLINELAB_HOME)")
    ws = f" in the workspace {home}" if home is not None else ""
    return f"cannot write{ws}: {what}{where} ({hint})"


def _check_home(ws: Any) -> None:
    root = ws.root
    if root.exists() and not root.is_dir():
        raise BadInput(f"the workspace {root} is a file, not a folder",
                       hint="point --home / KLINELAB_HOME at a folder (it is created if missing)")
    for parent in root.parents:  # a missing workspace is created; a file on the way cannot be
        if parent.exists():
            if not parent.is_dir():
                raise BadInput(f"the workspace {root} cannot be created: {parent} is a file",
                               hint="point --home / KLINELAB_HOME at a folder")
            break


def _finish_job(status: str, **changes: Any) -> None:
    from engine.jobs.context import current_job
    from storage.manifest import utc_now_iso

    job = current_job()
    if job is None:
        return
    try:
        job.update(status=status, ended_at=utc_now_iso(), **changes)
    except Exception as e:  # noqa: BLE001 - never let state bookkeeping hide the real outcome
        print(f"note: could not record the job's end: {e}", file=sys.stderr)


def _normalize(argv: list[str]) -> tuple[list[str], bool]:
    """(argv without --json and with the global options moved to the front, json_mode)."""
    json_mode = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    # global options may also follow the command: move them to the front
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--quiet":
            front.append(a)
        elif a == "--home" and i + 1 < len(argv):
            front += [a, argv[i + 1]]
            i += 1
        elif a.startswith("--home="):
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest, json_mode


def check_command(args: list[str]) -> argparse.Namespace:
    """Parse an engine command without running it (unknown command, bad option or value ->
    BadInput): what a background job is checked with before its process starts; also how a page
    reads a job's options back from its command.  Returns the parsed options."""
    argv, _ = _normalize(list(args))
    if any(a in ("-h", "--help") for a in argv):
        raise BadInput("a background job cannot show help", hint="run the command with --help in a terminal")
    parsed = build_parser().parse_args(argv)
    if not getattr(parsed, "func", None):
        raise BadInput(f"not a complete engine command: {' '.join(argv)[:200]}",
                       hint="e.g. `jobs start -- features build --symbols BTCUSDT --timeframe 15m`")
    return parsed


register_command_checker(check_command)  # engine.jobs.submit checks commands with it (engine/jobs/checks.py)


def main(argv: list[str] | None = None) -> int:
    argv, json_mode = _normalize(list(sys.argv[1:] if argv is None else argv))
    from engine.jobs.context import current_job  # also registers the job's progress sink
    from engine.progress import set_quiet

    job = current_job()
    if job is not None:
        import os

        from engine.jobs.state import proc_start_time
        from storage.manifest import utc_now_iso

        job.update(status="running", pid=os.getpid(), proc_start=proc_start_time(os.getpid()), started_at=utc_now_iso())
        _install_sigterm()
    home: Path | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        set_quiet(bool(args.quiet))
        if not getattr(args, "func", None):
            if args.group:
                raise BadInput(f"{args.group}: a command is needed", hint=f"see `python -m engine {args.group} --help`")
            parser.print_help(sys.stderr)
            return 2
        from storage.cleanup import clean_stale_staging
        from storage.workspace import Workspace

        ws = Workspace.open(args.home)
        home = ws.root
        _check_home(ws)
        clean_stale_staging(ws)  # dead writers' staging / interrupted publishes (best effort)
        from storage.artifacts import recording_published

        # --json: stdout carries the one JSON document; whatever a library prints meanwhile (Ray's raylet
        # messages, a warning printed by hand) goes to stderr
        quiet_stdout = contextlib.redirect_stdout(sys.stderr) if json_mode else contextlib.nullcontext()
        with recording_published() as made, quiet_stdout:  # a job's artifacts: what it published, never its inputs
            result = args.func(args, ws) or {}
        text = result.pop("_text", None) if isinstance(result, dict) else None
        result = json_safe(result)
        if json_mode:
            print(dumps_json(result, indent=2))
        else:
            print(text if text is not None else _default_text(result))
        _finish_job("succeeded", progress=1.0, result=result, artifacts=list(made), returncode=0)
        return 0
    except Cancelled as e:
        print(f"error: {e}", file=sys.stderr)
        _finish_job("cancelled", error=str(e), returncode=130)
        return 130
    except KlineLabError as e:
        data = json_safe(e.data) if getattr(e, "data", None) else None
        if data is not None:
            data.pop("_text", None)
            if json_mode:
                print(dumps_json(data, indent=2))
        print(f"error: {e}", file=sys.stderr)
        _finish_job("failed", error=str(e), returncode=e.exit_code, **({"result": data} if data is not None else {}))
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        _finish_job("cancelled", error="interrupted", returncode=130)
        return 130
    except OSError as e:
        msg = _env_error(e, home)
        if msg is None:
            return _unexpected(e)
        print(f"error: {msg}", file=sys.stderr)
        _finish_job("failed", error=msg, returncode=2)
        return 2
    except Exception as e:  # noqa: BLE001 - the contract: unexpected failures exit 1 with a one-line error
        return _unexpected(e)


def _unexpected(e: BaseException) -> int:
    """The contract: unexpected failures exit 1 with a traceback and a one-line error."""
    traceback.print_exc(file=sys.stderr)
    print(f"error: unexpected failure: {type(e).__name__}: {e}", file=sys.stderr)
    _finish_job("failed", error=f"unexpected failure: {type(e).__name__}: {e}", returncode=1)
    return 1


def _install_sigterm() -> None:
    import signal

    def handler(signum, frame):
        raise Cancelled("cancelled by the user")

    signal.signal(signal.SIGTERM, handler)
