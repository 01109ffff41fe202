"""A request's blocking work runs in a worker thread, never on the event loop, with the request's
context variables; its answer or its exception comes back to the request; a cancelled request
still waits for the work it started; no more threads than the limit, however many requests."""
from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from tanhui_shared.testing.coroutines import run_coroutine
from tanhui_shared.web.worker_threads import WorkerThreads, in_worker_thread

request_id = contextvars.ContextVar("request_id", default=None)


def test_the_work_runs_off_the_loop_with_the_requests_context() -> None:
    def work(x: int) -> tuple[int, int, str | None]:
        return x * 2, threading.get_ident(), request_id.get()

    async def request() -> tuple[int, tuple]:
        request_id.set("req-1")
        return threading.get_ident(), await in_worker_thread(work, 21)

    loop_thread, (answer, worker, seen) = run_coroutine(request())
    assert answer == 42 and worker != loop_thread and seen == "req-1"


def test_an_exception_of_the_work_is_raised_in_the_request() -> None:
    def work() -> None:
        raise LookupError("no such trip")

    with pytest.raises(LookupError, match="no such trip"):
        run_coroutine(in_worker_thread(work))


def test_a_cancelled_request_waits_for_its_work_to_end() -> None:
    ended: list[float] = []

    def work() -> None:
        time.sleep(0.2)
        ended.append(time.monotonic())

    async def cancel_it() -> float:
        task = asyncio.ensure_future(in_worker_thread(work))
        await asyncio.sleep(0.05)
        task.cancel()
        task.cancel()  # twice: still waits
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic()

    returned = run_coroutine(cancel_it())
    assert ended and ended[0] <= returned  # the session the work used outlived it


def test_no_more_threads_than_the_limit_and_every_job_answered() -> None:
    pool = WorkerThreads(limit=3, name="test-limit")
    busy, most = [0], [0]
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.01)
        with lock:
            busy[0] -= 1
        return i

    async def many() -> list[int]:
        first = await asyncio.gather(*(pool.run(work, i) for i in range(20)))
        second = await asyncio.gather(*(pool.run(work, i) for i in range(20, 25)))
        return first + second

    assert run_coroutine(many()) == list(range(25))
    names = [t.name for t in threading.enumerate() if t.name.startswith("test-limit")]
    assert most[0] == 3 and len(names) == 3
