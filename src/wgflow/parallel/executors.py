"""Executors of sweep points: local processes or a Dask cluster, behind one small interface.

An executor runs a picklable function on a list of tasks and yields ``(index, outcome)``
as points finish, in any order; ``outcome`` is the function's return value, or a
:class:`WorkerLost` when the process running the point died (killed, out of memory, a
lost Dask worker). Exceptions *inside* a point are the function's business (the sweep's
worker returns them as a failed result), so one bad point never stops the others.

* :class:`LocalExecutor` — one fresh process per point, at most ``workers`` at a time,
  forked from a ``forkserver`` that has imported wgflow and torch once (cheap starts, clean
  state per point, and a dead process is attributed to exactly its point).
* :class:`DaskExecutor` — ``Client.submit`` / ``as_completed`` on a running scheduler
  (``tcp://host:8786``, e.g. one started by dask-jobqueue on Slurm/PBS) or on a
  ``LocalCluster`` (``"local"``). Results travel back to the driver, which alone writes the
  store.
"""

from __future__ import annotations

import ipaddress
import multiprocessing as mp
import os
import re
import urllib.parse
from collections.abc import Callable, Generator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol, cast

from ..errors import ConfigError

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "WorkerLost", "make_executor", "check_dask_address"]

_DASK_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")
_CONNECT_TIMEOUT_S = 10  # a scheduler that does not answer in this time is reported, not waited for


class WorkerLost(RuntimeError):
    """The process running a point died before returning a result."""


class Executor(Protocol):
    """Runs ``fn(task)`` for every task; yields ``(index, result | WorkerLost)`` as they finish."""

    workers: int
    threads: int | None  # torch threads of each point (None: a remote worker keeps its own)

    def map_unordered(
        self, fn: Callable[[Any], Any], tasks: Sequence[Any]
    ) -> Generator[tuple[int, Any], None, None]: ...

    def close(self) -> None: ...


def _child(conn, fn, task) -> None:
    try:
        conn.send(fn(task))
    finally:
        conn.close()


class LocalExecutor:
    """Local processes, at most ``workers`` at once (default: the number of CPU cores)."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        preload: Sequence[str] = ("torch", "wgflow.experiments", "wgflow.parallel.sweep"),
    ):
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.preload = list(preload)
        self.threads: int | None = max(1, (os.cpu_count() or 1) // self.workers)  # torch threads of each point
        self.name = f"local processes ({self.workers})"

    def map_unordered(self, fn, tasks):
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(self.preload)
        pending = list(enumerate(tasks))[::-1]
        running: dict[Any, tuple[int, Any]] = {}  # pipe reader -> (index, process)
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    i, task = pending.pop()
                    r, w = ctx.Pipe(duplex=False)
                    p = ctx.Process(target=_child, args=(w, fn, task), daemon=True)
                    p.start()
                    w.close()
                    running[r] = (i, p)
                for r in cast(list[Connection], wait(list(running))):
                    i, p = running.pop(r)
                    try:
                        out = r.recv()
                    except EOFError:  # the child died without sending anything
                        p.join()
                        out = WorkerLost(f"worker process lost (exit code {p.exitcode})")
                    r.close()
                    p.join()
                    yield i, out
        finally:
            for _, p in running.values():  # the driver was interrupted: stop its children
                p.terminate()
            for _, p in running.values():
                p.join(5.0)
                if p.is_alive():  # a point that ignores SIGTERM
                    p.kill()
                    p.join()
                r.close()

    def close(self) -> None:
        pass


class DaskExecutor:
    """Dask distributed: ``address="local"`` starts a LocalCluster (closed with the executor).

    ``workers`` is the LocalCluster size (one single-threaded process each); with a
    scheduler address the cluster's own workers are used.
    """

    def __init__(self, address: str = "local", workers: int | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - optional dependency
            raise ImportError("the Dask executor needs dask[distributed]: pip install 'wgflow[dask]'") from None
        self._cluster = None
        self.threads: int | None = None  # a remote worker keeps its own thread settings
        if address == "local":
            self.threads = 1
            self._cluster = LocalCluster(
                n_workers=max(1, int(workers or 2)), threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(check_dask_address(address), timeout=_CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as e:  # distributed's CommClosedError and timeouts are OSErrors
                reason = " ".join(str(e).split())[:160] or type(e).__name__
                raise ConfigError(
                    f"cannot reach the Dask scheduler at {address} ({reason}); start it (`dask scheduler`) "
                    "or use --dask local"
                ) from None
        self.workers = len(self.client.scheduler_info().get("workers", {})) or int(workers or 1)
        self.name = f"dask {address} ({self.workers} workers)"

    def map_unordered(self, fn, tasks):
        from dask.distributed import as_completed  # optional dependency, installed if the executor exists

        futures = {self.client.submit(fn, t, pure=False): i for i, t in enumerate(tasks)}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                if fut.status == "finished":
                    yield i, fut.result()
                else:  # KilledWorker (the worker died running it, repeatedly), cancelled, ...
                    exc = fut.exception()
                    yield i, WorkerLost(f"dask worker lost: {type(exc).__name__}: {exc}")
                fut.release()
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_dask_address(address: str) -> str:
    """``address`` if it is ``"local"`` or ``SCHEME://HOST:PORT`` (tcp, tls, ucx, ws, wss; a valid IP or host
    name; a port in [1, 65535]), else a one-line :class:`ConfigError`: no connection is tried."""
    if address == "local":
        return address
    u = urllib.parse.urlsplit(address)
    try:
        port = u.port
    except ValueError:  # out of range or not a number
        port = None
    host = u.hostname or ""
    valid_host = bool(re.fullmatch(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]", u.netloc.rsplit(":", 1)[0] or "-"))
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            valid_host = False
    if u.scheme not in _DASK_SCHEMES or not host or port is None or not valid_host:
        raise ConfigError(
            f"--dask {address!r} is not 'local' or SCHEME://HOST:PORT (scheme {', '.join(_DASK_SCHEMES)}; "
            "a valid host; a port in 1-65535)"
        )
    return address


def make_executor(workers: int | None = None, dask: str | None = None) -> Executor:
    """``dask=None``: local processes; ``dask="local"`` or ``"tcp://host:8786"``: Dask."""
    if dask:
        return DaskExecutor(dask, workers)
    return LocalExecutor(workers)
