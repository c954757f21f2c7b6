"""Choosing an executor: ``get_executor`` (local processes or Ray) and the CLI options of a command
that fans out. Apart from ``base`` so that the implementations, which import ``base``, are never
imported back by the package ``__init__`` (no import cycle)."""
from __future__ import annotations

from engine.executor.base import ENV_EXECUTOR, EXECUTORS, Executor, resolve_executor


def get_executor(name: str | None = None, *, address: str | None = None, workers: int | None = None,
                 max_retries: int = 2) -> Executor:
    """The executor the options choose by the one rule (:func:`resolve_executor`); nothing chosen: a
    one-worker local executor (everything in this process)."""
    spec = resolve_executor(name.strip().lower() if name else None, workers=workers, ray_address=address)
    if spec and spec["executor"] == "ray":
        from engine.executor.ray_exec import RayExecutor

        return RayExecutor(address=spec["ray_address"], max_retries=max_retries)
    from engine.executor.local import LocalExecutor

    return LocalExecutor(workers=(spec or {}).get("workers") or 1, max_retries=max_retries)


def add_cli_options(p) -> None:
    """``--executor`` / ``--ray-address`` / ``--workers`` for a command that fans out."""
    from engine.requests import ExecutorFields

    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help=f"where the items run: local processes or a Ray cluster (default: {ENV_EXECUTOR}; without it, "
                        "--workers means local and --ray-address ray; none of them: in this process)")
    p.add_argument("--ray-address", default=None,
                   help="host:port of an existing Ray cluster (default RAY_ADDRESS; none: a local Ray is started)")
    p.add_argument("--workers", **ExecutorFields.option("workers"),
                   help="local executor: processes at once (default 1: one item after another, in this process)")


def executor_from_spec(spec: dict | None) -> Executor:
    """The executor of a :func:`resolve_executor` spec (None: a one-worker local one, i.e. in this process)."""
    spec = spec or {}
    return get_executor(spec.get("executor"), address=spec.get("ray_address"), workers=spec.get("workers"))


def executor_from_args(args) -> Executor:
    return executor_from_spec(resolve_executor(getattr(args, "executor", None), workers=getattr(args, "workers", None),
                                               ray_address=getattr(args, "ray_address", None)))
