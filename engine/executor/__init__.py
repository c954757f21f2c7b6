"""Where the items of a fan-out job run: local processes (the default) or a Ray cluster.

``Executor.map(fn, items, on_progress=..., cancel=...)`` runs ``fn(item)`` for every item and
returns one :class:`ItemResult` per item, in the items' order.  A failing item is reported as
its own result (``ok=False`` and a one-line ``error``), never swallowed and never stopping the
others.  ``on_progress(done, total, result)`` is called on the driver as each item finishes (so
the caller can save what finished before a cancel); ``cancel`` (a callable returning True, or a
``threading.Event``) stops the run: the running tasks are cancelled (Ray: ``ray.cancel``) and
:class:`config.errors.Cancelled` is raised.  A SIGTERM (a job's cancel) raises ``Cancelled`` in the
driver while it waits, with the same effect.

``fn`` must be a module-level function and items and results picklable: with processes or
Ray they cross a process (or machine) boundary.  Tasks never touch the workspace by
themselves unless the caller's ``fn`` does; see engine/stage2/batch.py for the Stage 2 pattern
(compute in a scratch workspace, ship the staged artifacts back, the driver adopts them).

Choice: ``engine.executor.choose.get_executor(name, address=, workers=)``; ``name`` defaults to ``KLINELAB_EXECUTOR``
(``local`` or ``ray``), the Ray address to ``--ray-address`` / ``RAY_ADDRESS`` (none: a local
Ray is started by ``ray.init()``).
"""
from engine.executor.base import (  # noqa: F401 - the interface, re-exported
    Executor,
    ItemResult,
    ProgressFn,
    describe_error,
    fetch,
    is_cancelled,
    sigterm_flag,
)
