"""A service's FastAPI app on a real uvicorn server in a thread, for tests that race many HTTP
requests at once (TestClient runs one request at a time through the app)."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields its base URL."""
    port = _free_port()
    # 40 threads for sync endpoints (anyio's default), so 20-40 parallel requests really overlap.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def race(requests: Sequence[Callable[[httpx.Client], httpx.Response]], base_url: str,
         ) -> list[httpx.Response]:
    """Send all `requests` at once, each on its own connection, released together by a barrier
    so they really overlap; returns the responses in the same order."""
    barrier = threading.Barrier(len(requests))

    def one(send: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            barrier.wait(timeout=30)
            return send(client)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))
