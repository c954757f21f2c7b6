"""Ray as the executor: every item one Ray task (``num_cpus=1``), on a cluster given by
``address`` / ``RAY_ADDRESS``, or on a local Ray that ``ray.init()`` starts (and ``close`` stops).

* a worker process (or node) that dies while running a task: Ray runs the task again, up to
  ``max_retries`` times (``max_retries`` of ``@ray.remote``; exceptions raised by the item's own code
  are NOT retried - they are that item's error); after that the item is reported as failed;
* cancel: ``ray.cancel(ref, force=True)`` for every task not finished, then ``Cancelled``;
* code: tasks import ``engine`` by module name, so every worker needs this checkout (same version)
  on its ``PYTHONPATH``; the driver adds its own checkout to the tasks' ``PYTHONPATH`` (enough when
  the workers share the path, e.g. on one machine).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Sequence
from typing import Any

from config import settings
from config.errors import Cancelled, RemoteError
from engine.executor.base import Executor, ItemResult, ProgressFn, is_cancelled, sigterm_flag
from engine.executor.local import run_item, to_result


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: str | None = None, *, max_retries: int = 2, num_cpus: float = 1.0):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.max_retries = int(max_retries)
        self.num_cpus = num_cpus
        # KLINELAB_SHARED_DISK=1: every worker sees the driver's workspace at the same path (one machine,
        # NFS): inputs are not packed into the object store; 0: always shipped; unset: shipped, and a
        # worker that sees the disk uses it
        self.shared_disk = {"1": True, "0": False}.get(settings.SHARED_DISK.get())
        self._remote = None

    @property
    def ships_inputs(self) -> bool:
        return True

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "address": self.address or "local (started by ray.init)",
                "max_retries": self.max_retries}

    def _start(self):
        import ray

        from config.version import ROOT

        if self._remote is not None:
            return ray
        if not ray.is_initialized():
            if self.address:
                _probe(self.address)
            main = threading.current_thread() is threading.main_thread()
            old = signal.getsignal(signal.SIGTERM) if main else None
            try:
                ray.init(address=self.address, log_to_driver=False, include_dashboard=False,
                         configure_logging=False,
                         runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT}" + os.pathsep + "${PYTHONPATH}"}})
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise RemoteError(f"cannot reach the Ray cluster at {self.address or '(local)'}: {e}",
                                  hint="start it with `ray start --head` or give --ray-address / RAY_ADDRESS host:port") from None
            finally:
                if main and old is not None:
                    # ray.init makes SIGTERM a sys.exit; a job's cancel is a SIGTERM that must raise Cancelled
                    # (engine/cli.py) so that map() cancels the tasks and the batch saves its state
                    signal.signal(signal.SIGTERM, old)
        self._remote = ray.remote(num_cpus=self.num_cpus, max_retries=self.max_retries, retry_exceptions=False)(run_item)
        return ray

    def slots(self) -> int:
        """The cluster's CPUs now (one task takes ``num_cpus``)."""
        ray = self._start()
        return max(1, int(float(ray.cluster_resources().get("CPU", 1)) // max(self.num_cpus, 1e-9)))

    def put(self, value: Any) -> Any:
        ray = self._start()
        return ray.put(value)

    def map(self, fn, items: Sequence[Any], *, on_progress: ProgressFn | None = None, cancel: Any = None) -> list[ItemResult]:
        items = list(items)
        if not items:
            return []  # nothing to run: no cluster is reached or started for it
        ray = self._start()
        import ray.exceptions as rex

        with sigterm_flag() as term:  # a SIGTERM inside Ray's C++ wait would come out as a SystemError
            return self._map(ray, rex, fn, items, on_progress, cancel, term)

    def _map(self, ray, rex, fn, items, on_progress, cancel, term) -> list[ItemResult]:
        refs = [self._remote.remote(fn, item) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        results: dict[int, ItemResult] = {}
        pending = list(refs)
        try:
            while pending:
                if term.is_set() or is_cancelled(cancel):
                    raise Cancelled("cancelled by the user")
                done, pending = ray.wait(pending, num_returns=1, timeout=0.2)
                for ref in done:
                    i = index[ref]
                    try:
                        res = to_result(i, ray.get(ref))
                    except (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError,
                            rex.LocalRayletDiedError) as e:
                        res = ItemResult(i, False, error=f"the Ray worker died running this item "
                                         f"({self.max_retries + 1} attempt(s)): {type(e).__name__}",
                                         error_type="WorkerDied", attempts=self.max_retries + 1)
                    except rex.RayError as e:
                        res = ItemResult(i, False, error=f"Ray failed this item: {type(e).__name__}: "
                                         f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}",
                                         error_type=type(e).__name__)
                    results[i] = res
                    if on_progress:
                        on_progress(len(results), len(items), res)
        except BaseException:
            self._cancel_all(ray, pending)
            raise
        return [results[i] for i in range(len(items))]

    @staticmethod
    def _cancel_all(ray, refs: list, rounds: int = 4) -> None:
        """Force-cancel every unfinished task. A cancel that reaches a task while Ray is still leasing it a
        worker can be lost (seen under load: the task then ran to its end), so the cancel is repeated for
        whatever has not settled after a second, a few times."""
        left = list(refs)
        for _ in range(rounds):
            for ref in left:
                with contextlib.suppress(Exception):  # already finished or gone
                    ray.cancel(ref, force=True)
            with contextlib.suppress(Exception):
                _, left = ray.wait(left, num_returns=len(left), timeout=1.0)
            if not left:
                return

    def close(self) -> None:
        if self._remote is not None:
            import ray

            ray.shutdown()
            self._remote = None


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes, when nothing listens at the cluster's address (ray.init would wait
    for the GCS for minutes).  ``auto`` and names without a port are left to Ray."""
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise RemoteError(f"cannot reach the Ray cluster at {address}: {e}",
                          hint="start the head with `ray start --head --port=...` or fix --ray-address / RAY_ADDRESS") from None
