"""`jobs` commands: list, show, cancel, start."""
from __future__ import annotations

from engine.argtypes import float_in, int_in
from engine.jobs import runner


def _row(st) -> dict:
    return {"id": st.id, "name": st.name, "status": st.status, "progress": st.progress, "message": st.message,
            "error": st.error, "pid": st.pid, "host": st.host, "created_at": st.created_at, "ended_at": st.ended_at,
            "artifacts": st.artifacts, "command": st.command}


def cmd_list(args, ws):
    jobs = runner.list_jobs(ws, status=args.status, limit=args.limit)
    rows = [_row(j) for j in jobs]
    text = "\n".join(f"{r['id']:<44} {r['status']:<10} {r['progress'] * 100:5.1f}%  {r['name']}  {r['message'] or ''}"
                     for r in rows) or "no jobs"
    return {"jobs": rows, "_text": text}


def cmd_show(args, ws):
    st = runner.get(ws, args.id)
    d = st.to_dict()
    d["log_tail"] = runner.log_tail(ws, args.id, args.log_bytes)
    d["_text"] = "\n".join(f"{k}: {v}" for k, v in _row(st).items()) + "\n--- log ---\n" + d["log_tail"]
    return d


def cmd_cancel(args, ws):
    st = runner.cancel(ws, args.id)
    return {"id": st.id, "status": st.status, "_text": f"{st.id}: {st.status}"}


def cmd_start(args, ws):
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    st = runner.submit(ws, cmd)
    return {"id": st.id, "status": st.status, "pid": st.pid, "_text": f"started {st.id} (pid {st.pid})"}


def cmd_sleep(args, ws):
    """Diagnostic job: reports progress for ``seconds``; with --artifact it writes a test artifact
    step by step (used to check cancel / died-process handling end to end)."""
    import time

    from engine.progress import progress

    def steps(draft=None):
        for i in range(args.steps):
            time.sleep(args.seconds / args.steps)
            if draft is not None:
                draft.path(f"step{i}.txt").write_text(str(i))
            progress((i + 1) / args.steps, f"step {i + 1} of {args.steps}")

    if args.artifact:
        from storage.artifacts import create_artifact

        with create_artifact(ws, "archive", name="diagnostic sleep") as d:
            steps(d)
        return {"id": d.id, "seconds": args.seconds}
    steps()
    return {"seconds": args.seconds}


def register(sub) -> None:
    g = sub.add_parser("jobs", help="background jobs")
    s = g.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=type(g))
    p = s.add_parser("list")
    p.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    p.add_argument("--limit", type=int_in(1, 1_000_000))
    p.set_defaults(func=cmd_list)
    p = s.add_parser("show")
    p.add_argument("id", metavar="JOB_ID")
    p.add_argument("--log-bytes", type=int_in(0, 10_000_000), default=4000)
    p.set_defaults(func=cmd_show)
    p = s.add_parser("cancel")
    p.add_argument("id", metavar="JOB_ID")
    p.set_defaults(func=cmd_cancel)
    p = s.add_parser("sleep", help="diagnostic: a job that only reports progress")
    p.add_argument("--seconds", type=float_in(0, 86_400), default=5.0)
    p.add_argument("--steps", type=int_in(1, 100_000), default=10)
    p.add_argument("--artifact", action="store_true", help="write a test artifact while running")
    p.set_defaults(func=cmd_sleep)
    p = s.add_parser("start", help="run any engine command as a background job: jobs start -- data import PATH")
    p.add_argument("command", nargs="+")
    p.set_defaults(func=cmd_start)
