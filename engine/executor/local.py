"""Local execution: in this process one item after another (``workers=1``, nothing to start), or a
``concurrent.futures.ProcessPoolExecutor`` of ``workers`` spawned processes.

A worker process that dies (killed, out of memory) breaks the whole pool; the items it had not finished
are run again each in a process of its own, so a death is pinned on the item that caused it: that item
is retried up to ``max_retries`` times, then reported (``WorkerDied``); the others finish normally.
Nothing is indexed by a task itself (see ``engine/executor/__init__.py``), so a dead task leaves nothing
half-indexed."""
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
        memory) breaks the whole pool: every item it had not finished is a suspect, and the suspects are
        run again each in a pool of its own (``_isolated``), where a death is that item's own; so an item
        is reported dead only for deaths of its own, never for a neighbour's."""
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
        dies is run again until it died more than ``max_retries`` times, then reported (``WorkerDied``)."""
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
        res = ItemResult(i, False, error=f"the worker process died {deaths[i]} time(s) running this item",
                         error_type="WorkerDied", attempts=attempts[i])
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
