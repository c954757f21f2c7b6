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

import importlib
import json
import sys
import traceback
from typing import Any

from config.errors import BadInput, Cancelled, KlineLabError
from engine.cli_base import ArgumentParser  # also the name older import sites use

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


def _result_artifacts(result: dict[str, Any]) -> list[str]:
    ids = []

    def walk(v: Any, key: str = "") -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str) and key in ("id", "artifact_id", "run_id", "report_id", "featureset_id", "backtest_id",
                                           "model_id", "archive_id", "stage1_id", "stage2_id"):
            ids.append(v)

    walk(result)
    return list(dict.fromkeys(ids))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
    argv = front + rest
    from engine.jobs.context import current_job  # also registers the job's progress sink
    from engine.progress import set_quiet

    job = current_job()
    if job is not None:
        import os

        from engine.jobs.state import proc_start_time
        from storage.manifest import utc_now_iso

        job.update(status="running", pid=os.getpid(), proc_start=proc_start_time(os.getpid()), started_at=utc_now_iso())
        _install_sigterm()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        set_quiet(bool(args.quiet))
        if not getattr(args, "func", None):
            if args.group:
                raise BadInput(f"{args.group}: a command is needed", hint=f"see `python -m engine {args.group} --help`")
            parser.print_help(sys.stderr)
            return 2
        from storage.workspace import Workspace

        ws = Workspace.open(args.home)
        ws.clean_stale_staging()  # dead writers' staging / interrupted publishes (best effort)
        result = args.func(args, ws) or {}
        text = result.pop("_text", None) if isinstance(result, dict) else None
        if json_mode:
            print(json.dumps(result, default=str, indent=2))
        else:
            print(text if text is not None else _default_text(result))
        _finish_job("succeeded", progress=1.0, result=result, artifacts=_result_artifacts(result), returncode=0)
        return 0
    except Cancelled as e:
        print(f"error: {e}", file=sys.stderr)
        _finish_job("cancelled", error=str(e), returncode=130)
        return 130
    except KlineLabError as e:
        print(f"error: {e}", file=sys.stderr)
        _finish_job("failed", error=str(e), returncode=e.exit_code)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        _finish_job("cancelled", error="interrupted", returncode=130)
        return 130
    except Exception as e:  # noqa: BLE001 - the contract: unexpected failures exit 1 with a one-line error
        traceback.print_exc(file=sys.stderr)
        print(f"error: unexpected failure: {type(e).__name__}: {e}", file=sys.stderr)
        _finish_job("failed", error=f"unexpected failure: {type(e).__name__}: {e}", returncode=1)
        return 1


def _install_sigterm() -> None:
    import signal

    def handler(signum, frame):  # noqa: ARG001
        raise Cancelled("cancelled by the user")

    signal.signal(signal.SIGTERM, handler)
