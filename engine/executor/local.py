"""Local execution: in this process one item after another (``workers=1``, nothing to start), or a
``concurrent.futures.ProcessPoolExecutor`` of ``workers`` spawned processes.  An empty list of items
gives an empty list of results (no pool is started).

Dead workers (killed, out of memory), with ``workers > 1``.  A worker that dies breaks the whole shared
pool, and which item's process died cannot be told: every item not finished by then is a *suspect*,
and that shared-pool try (started or still queued) counts in its ``attempts`` but as nobody's death.  Each
suspect then runs again alone, in a one-process pool of its own, ``workers`` such pools at a time; a
death there is counted as that item's own.  The budget: an item runs alone at most ``max_retries + 1``
times; after its ``max_retries + 1``-th death alone it is reported (``ok=False``, ``WorkerDied``, the
message says how often it died alone and how many attempts it had in all).  So an item that kills its
process every time has ``max_retries + 2`` attempts when it was broken off a shared pool (``max_retries + 1``
when it was the pool's only item: alone there, that run was its own) - the same number of deaths of
its own as Ray reports for it (``engine/executor/ray_exec.py``: ``max_retries + 1`` attempts).
"Its own" means its process, not necessarily its fault: with several isolated processes at once, the
kernel's OOM killer may kill one for a neighbour's memory.  A cancel (``cancel``, or the job's SIGTERM,
which reaches the workers too) raises ``Cancelled`` and counts no death.  Nothing is indexed by a task
itself (see ``engine/executor/__init__.py``), so a dead task leaves nothing half-indexed."""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from config import settings
from config.errors import Cancelled
from engine.executor.base import Executor, ItemResult, ProgressFn, describe_error, is_cancelled, sigterm_flag


def run_item(fn: Callable[[Any], Any], item: Any) -> tuple[str, Any, str | None, str]:
    """The task body of every executor: errors come back as data (message, class name), so an
    exception that does not pickle, or a library's own wrapping, never loses the item's error."""
    where = f"{socket.gethostname()}:{os.getpid()}"
    # a task is not the job: only the driver writes the job's state (a local Ray or a process pool
    # inherits the driver's environment)
    os.environ.pop(settings.JOB_ID.name, None)
    try:
        return "ok", fn(item), None, where
    except Exception as e:  # noqa: BLE001 - reported for this item, by the driver
        msg, typ = describe_error(e)
        return "err", msg, typ, where


def to_result(index: int, out: tuple[str, Any, str | None, str], attempts: int = 1) -> ItemResult:
    status, value, typ, where = out
    if status == "ok":
        return ItemResult(index, True, value=value, attempts=attempts, where=where)
    return ItemResult(index, False, error=value, error_type=typ, attempts=attempts, where=where)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, workers: int = 1, max_retries: int = 2):
        self.workers = int(workers)
        self.max_retries = int(max_retries)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}

    def slots(self) -> int:
        return max(1, self.workers)

    def map(self, fn, items: Sequence[Any], *, on_progress: ProgressFn | None = None, cancel: Any = None) -> list[ItemResult]:
        items = list(items)
        if not items:
            return []  # nothing to run: no pool (a pool of 0 processes is an error)
        if self.workers <= 1:
            return self._sequential(fn, items, on_progress, cancel)
        return self._pool(fn, items, on_progress, cancel)

    def _sequential(self, fn, items, on_progress, cancel) -> list[ItemResult]:
        out: list[ItemResult] = []
        for i, item in enumerate(items):
            if is_cancelled(cancel):
                raise Cancelled("cancelled by the user")
            try:
                res = ItemResult(i, True, value=fn(item), where=f"{socket.gethostname()}:{os.getpid()}")
            except Cancelled:
                raise
            except Exception as e:  # noqa: BLE001 - this item's error, reported
                msg, typ = describe_error(e)
                res = ItemResult(i, False, error=msg, error_type=typ)
            out.append(res)
            if on_progress:
                on_progress(len(out), len(items), res)
        return out

    def _pool(self, fn, items, on_progress, cancel) -> list[ItemResult]:
        with sigterm_flag() as term:
            return self._pool_run(fn, items, on_progress, lambda: term.is_set() or is_cancelled(cancel))

    def _pool_run(self, fn, items, on_progress, cancel) -> list[ItemResult]:
        """One shared pool of ``workers`` processes for every item.  A worker that dies (killed, out of
        memory) breaks the whole pool: every item not finished by then is a suspect, run again alone
        (``_isolated``); the broken run counts in its ``attempts`` but not as its death (see the module
        docstring), except for an item that was alone in the pool."""
        results: dict[int, ItemResult] = {}
        attempts = {i: 1 for i in range(len(items))}
        deaths = {i: 0 for i in range(len(items))}
        # spawn: the driver may hold TensorFlow / torch / LightGBM threads, which fork does not survive
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=ctx)
        suspects: list[int] = []
        try:
            futs: dict[Future, int] = {}
            for i in range(len(items)):
                try:
                    futs[pool.submit(run_item, fn, items[i])] = i
                except BrokenProcessPool:  # a worker died while the items were handed out
                    suspects.append(i)
            pending = set(futs)
            while pending:
                if is_cancelled(cancel):
                    raise Cancelled("cancelled by the user")
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    i = futs[f]
                    try:
                        res = to_result(i, f.result(), attempts[i])
                    except BrokenProcessPool:
                        suspects.append(i)
                        continue
                    results[i] = res
                    if on_progress:
                        on_progress(len(results), len(items), res)
        except BaseException:
            _kill(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if suspects and is_cancelled(cancel):  # a cancel's SIGTERM reaches the workers too (one process group)
            raise Cancelled("cancelled by the user")
        if len(items) == 1 and suspects:  # alone in its pool: the death was its own
            deaths[suspects[0]] += 1
        self._isolated(fn, items, sorted(suspects), results, attempts, deaths, on_progress, cancel, ctx)
        return [results[i] for i in range(len(items))]

    def _isolated(self, fn, items, todo: list[int], results, attempts, deaths, on_progress, cancel, ctx) -> None:
        """Run ``todo`` each in a one-process pool of its own, ``workers`` at a time; an item whose process
        dies is run again until it died more than ``max_retries`` times, then reported (``WorkerDied``).
        A death seen while a cancel is on (a job's SIGTERM kills these processes too) is no death:
        ``Cancelled`` is raised."""
        queue = [i for i in todo if deaths[i] <= self.max_retries]
        for i in todo:
            if i not in queue:
                self._report_dead(i, results, attempts, deaths, len(items), on_progress)
        running: dict[Future, tuple[int, ProcessPoolExecutor]] = {}
        try:
            while queue or running:
                if is_cancelled(cancel):
                    raise Cancelled("cancelled by the user")
                while queue and len(running) < self.workers:
                    i = queue.pop(0)
                    attempts[i] += 1
                    pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
                    running[pool.submit(run_item, fn, items[i])] = (i, pool)
                done, _ = wait(set(running), timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    i, pool = running.pop(f)
                    pool.shutdown(wait=True)
                    try:
                        res = to_result(i, f.result(), attempts[i])
                    except BrokenProcessPool:
                        if is_cancelled(cancel):  # killed by the cancel's SIGTERM, not by the item
                            raise Cancelled("cancelled by the user") from None
                        deaths[i] += 1
                        if deaths[i] <= self.max_retries:
                            queue.append(i)
                        else:
                            self._report_dead(i, results, attempts, deaths, len(items), on_progress)
                        continue
                    results[i] = res
                    if on_progress:
                        on_progress(len(results), len(items), res)
        finally:
            for _, pool in running.values():
                _kill(pool)

    @staticmethod
    def _report_dead(i, results, attempts, deaths, total, on_progress) -> None:
        error = f"the worker process died {deaths[i]} time(s) running this item alone"
        if attempts[i] > deaths[i]:
            error += f" ({attempts[i]} attempt(s) in all, the first in a shared pool that a worker's death broke)"
        res = ItemResult(i, False, error=error, error_type="WorkerDied", attempts=attempts[i])
        results[i] = res
        if on_progress:
            on_progress(len(results), total, res)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's processes now (a cancel must not wait for running items).  concurrent.futures
    has no public way to kill running workers; ``_processes`` is its map of them."""
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):  # already gone
            p.kill()
    pool.shutdown(wait=False, cancel_futures=True)
