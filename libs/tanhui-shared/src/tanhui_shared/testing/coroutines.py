"""Run a coroutine to completion from a synchronous test, whatever the thread already runs.

Playwright's sync API (the console tests' session-wide browser) leaves an event loop running in
the main thread, so `asyncio.run` there fails in any test that comes after it in the same
process (pytest-xdist gives a worker files in any order). A thread of its own has no loop.
"""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
