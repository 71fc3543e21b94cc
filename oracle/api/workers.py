"""Worker processes for the model endpoints: every model call runs in one, under a budget.

A call that runs past its time budget, or whose client has gone away, is stopped by killing
its process (a fresh one takes its place), so an abandoned solve never keeps burning a core or
holding its memory. Each worker may allocate ``memory_mb`` beyond its start-up size (beyond
that the call fails with ``MemoryError``, a 422) and runs at a lower CPU priority than the
server, so /healthz stays quick while the models work. Workers are forked from a forkserver
that imports the models once (as with any multiprocessing, a script that makes them needs
the ``if __name__ == "__main__":`` guard).

    workers = ModelWorkers(processes=2, memory_mb=2048)
    result = await workers.run(fn, args, budget_s=30, gone=request.is_disconnected)
    workers.close()

:class:`InlineRunner` runs the same calls in a thread instead (embedding and unit tests: it
cannot stop a call, only stop waiting for it); ``oracle serve`` and ``oracle run`` use workers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from oracle.api.service import Rejected

log = logging.getLogger(__name__)

Gone = Callable[[], Awaitable[bool]]  # whether the client has disconnected
PRELOAD = ["pandas", "models.forecasting", "models.solar", "models.anomaly", "models.pricing",
           "models.optimization", "oracle.api.compute", "oracle.api.service",
           "oracle.api.bodies"]
POLL_S = 0.1  # how often a waiting call checks its client and its deadline
NICENESS = 5


class Runner(Protocol):
    async def run(self, fn: Callable[..., Any], args: tuple[Any, ...], *, budget_s: float,
                  gone: Gone) -> Any: ...

    def close(self) -> None: ...


def over_budget(budget_s: float) -> Rejected:
    return Rejected(422, (), f"the request did not finish within its budget of {budget_s:g} s "
                    "(api.request_timeout_s); send a smaller problem", "budget_exceeded",
                    counted=True)


def client_gone() -> Rejected:
    return Rejected(422, (), "the client went away; the model call was stopped", "client_gone")


class InlineRunner:
    """Runs calls in the server's thread pool; past the budget it stops waiting."""

    async def run(self, fn: Callable[..., Any], args: tuple[Any, ...], *, budget_s: float,
                  gone: Gone) -> Any:
        call = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
        try:  # an executor future stops being waited for at once (the thread runs on)
            return await asyncio.wait_for(call, budget_s)
        except TimeoutError:
            raise over_budget(budget_s) from None

    def close(self) -> None:
        pass


def _limit_memory(memory_mb: int) -> None:
    """Address-space limit: what the worker has mapped at start-up plus ``memory_mb``."""
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError):
        return
    limit = mapped + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(conn: Connection, memory_mb: int | None) -> None:
    """A worker's loop: receive ``(fn, args)``, send back ``("ok", value)`` or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops us
    os.nice(NICENESS)
    if memory_mb:
        _limit_memory(memory_mb)
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except Rejected as err:
            reply = ("rejected", err)
        except MemoryError:
            reply = ("rejected", Rejected(422, (), "the request needs more memory than a model "
                                          "worker may use (api.worker_memory_mb)", "too_large",
                                          counted=True))
        except Exception as err:  # a bug in a model: the server logs it, the client gets a 500
            reply = ("failed", f"{type(err).__name__}: {err}"[:1000])
        try:
            conn.send(reply)
        except Exception as err:  # an answer that cannot be pickled is a bug too
            conn.send(("failed", f"unpicklable answer: {type(err).__name__}: {err}"[:1000]))


class _Worker:
    def __init__(self, context: Any, memory_mb: int | None) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, memory_mb),
                                       name="oracle-model-worker", daemon=True)
        self.process.start()
        child.close()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class ModelWorkers:
    """``processes`` model workers, started on first use; :meth:`run` sends a call to an idle
    one."""

    def __init__(self, processes: int = 2, memory_mb: int | None = None) -> None:
        self.processes = processes
        self.memory_mb = memory_mb
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._idle: deque[_Worker] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._start_failing = False
        self._started = False

    def _start(self) -> None:
        """Start the workers on first use (a daemon whose API gets no model call pays nothing);
        in the background, since the forkserver's first start imports the models."""
        with self._lock:
            if self._started:
                return
            self._started = True
        for _ in range(self.processes):
            self._replace(None)

    async def run(self, fn: Callable[..., Any], args: tuple[Any, ...], *, budget_s: float,
                  gone: Gone) -> Any:
        """``fn(*args)`` in a worker; Rejected when it fails, the budget runs out or the
        client goes away (the worker is then killed and replaced)."""
        deadline = time.monotonic() + budget_s
        self._start()
        while True:
            worker = await self._take(deadline, budget_s, gone)
            try:  # pickling a large request would hold the event loop: a thread does it
                await run_in_threadpool(worker.conn.send, (fn, args))
                break
            except (BrokenPipeError, OSError):  # died while idle: take another
                self._replace(worker)
        try:
            status, value = await self._reply(worker, deadline, budget_s, gone)
        except BaseException:
            self._replace(worker)
            raise
        self._give_back(worker)
        if status == "rejected":
            raise value
        if status == "failed":
            log.error("model worker: %s", value)
            raise Rejected(500, (), "the model failed unexpectedly (logged)", "internal_error",
                           counted=True)
        return value

    def close(self) -> None:
        """Stop every worker (idle ones now, busy ones when their call ends)."""
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for worker in idle:
            worker.stop()

    async def _take(self, deadline: float, budget_s: float, gone: Gone) -> _Worker:
        checked = time.monotonic()
        while True:
            with self._lock:
                if self._closed:
                    raise Rejected(503, (), "the model workers are shutting down", "unavailable")
                if self._idle:
                    return self._idle.popleft()
            now = time.monotonic()
            if now >= deadline:
                raise Rejected(503, (), f"all {self.processes} model workers stayed busy for "
                               f"the request's budget of {budget_s:g} s (api.workers, "
                               "api.request_timeout_s); retry later", "busy",
                               headers={"Retry-After": "5"})
            if now - checked >= POLL_S:
                checked = now
                if await gone():
                    raise client_gone()
            await asyncio.sleep(0.01)

    async def _reply(self, worker: _Worker, deadline: float, budget_s: float,
                     gone: Gone) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = worker.conn.fileno()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            while not ready.done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise over_budget(budget_s)
                await asyncio.wait([ready], timeout=min(POLL_S, remaining))
                if not ready.done() and await gone():
                    raise client_gone()
        finally:
            loop.remove_reader(fd)
        try:
            reply: tuple[str, Any] = await run_in_threadpool(worker.conn.recv)
        except (EOFError, OSError):
            raise Rejected(422, (), "the model worker stopped while computing this request "
                           "(out of memory? see api.worker_memory_mb)", "worker_died",
                           counted=True) from None
        return reply

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.stop()

    def idle_pids(self) -> list[int]:
        """Process ids of the workers waiting for a call (for monitoring and tests)."""
        with self._lock:
            return [w.process.pid for w in self._idle]

    def ready(self, timeout_s: float) -> bool:
        """Start the workers and wait until every one is up (the first start imports the
        models)."""
        self._start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._idle) >= self.processes:
                    return True
            time.sleep(0.05)
        return False

    def _replace(self, worker: _Worker | None) -> None:
        """Stop ``worker`` (if any) and start a fresh one, in the background."""
        threading.Thread(target=self._restart, args=(worker,), name="model-worker-restart",
                         daemon=True).start()

    def _restart(self, worker: _Worker | None) -> None:
        if worker is not None:
            worker.stop()
        delay = 0.5
        while True:
            with self._lock:
                if self._closed:
                    return
            try:
                fresh = _Worker(self._context, self.memory_mb)
            except Exception as err:  # cannot fork (memory, process limit): retry, log once
                if not self._start_failing:
                    log.error("cannot start a model worker (retrying): %s: %s",
                              type(err).__name__, err)
                    self._start_failing = True
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if self._start_failing:
                log.info("model workers start again")
                self._start_failing = False
            self._give_back(fresh)
            return
