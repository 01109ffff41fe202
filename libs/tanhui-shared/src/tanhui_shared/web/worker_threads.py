"""Blocking work (a unit of work's SQL) run off the event loop: one hop there, one hop back.

FastAPI runs a sync endpoint through anyio's `to_thread.run_sync`, which per call also yields to
the event loop twice (a checkpoint, then a capacity limiter's), opens a cancel scope and hands
the job over a `queue.Queue` (a Condition in Python). On a single trip that was ~11-14% of the
accounts API's CPU. Here the job goes over a `SimpleQueue` (C) to a thread of this pool and its
result comes back by one `call_soon_threadsafe`; the request's context variables (request id,
trace context) go with it, as anyio's do.

As with anyio's default, a request whose task is cancelled still waits for its job to end: the
job uses the request's session, which must not be closed under it.
"""
from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")

# anyio's default thread limit; the engines' pools (10 + 10 overflow) bound the useful number
MAX_THREADS = 40


class _Job:
    __slots__ = ("loop", "future", "context", "func", "args", "done", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop, func: Callable[..., Any],
                 args: tuple) -> None:
        self.loop = loop
        self.future = loop.create_future()
        self.context = contextvars.copy_context()
        self.func = func
        self.args = args
        self.done = False
        self.waiter: asyncio.Future | None = None  # set once the request was cancelled

    def settle(self, result: Any, error: BaseException | None) -> None:  # on the event loop
        self.done = True
        if not self.future.done():
            if error is None:
                self.future.set_result(result)
            else:
                self.future.set_exception(error)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class WorkerThreads:
    def __init__(self, limit: int = MAX_THREADS, name: str = "tanhui-worker") -> None:
        self.limit = limit
        self.name = name
        self._jobs: SimpleQueue[_Job] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        # threads waiting for a job less jobs waiting for a thread (negative: a backlog)
        self._spare = 0

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        job = _Job(asyncio.get_running_loop(), func, args)
        with self._lock:
            self._spare -= 1
            start = self._spare < 0 and self._threads < self.limit
            if start:
                self._threads += 1
                self._spare += 1  # the new thread takes a job as soon as it runs
        self._jobs.put(job)
        if start:
            threading.Thread(target=self._work, name=f"{self.name}-{self._threads}",
                             daemon=True).start()
        try:
            return await job.future
        except asyncio.CancelledError:
            while not job.done:  # a thread cannot be stopped: let its work end first
                job.waiter = job.loop.create_future()
                try:
                    await job.waiter
                except asyncio.CancelledError:
                    continue
            raise

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                result, error = job.context.run(job.func, *job.args), None
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                result, error = None, exc
            with self._lock:
                self._spare += 1
            try:
                job.loop.call_soon_threadsafe(job.settle, result, error)
            except RuntimeError:  # the loop closed (the process is stopping): nobody waits
                pass
            del job, result, error  # not kept alive while this thread waits for the next


_POOL = WorkerThreads()


async def in_worker_thread(func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in a worker thread, awaited; its exception is raised here."""
    return await _POOL.run(func, *args)
