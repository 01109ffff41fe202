"""`python -m tanhui_gateway --workers 2`: each worker listens on a socket of its own
(SO_REUSEPORT), so connections opened together are spread over both workers, and every one of them
is answered (the supervisor keeps no listening socket of its own that would take a share and
never accept it). On uvicorn's one shared socket, 16 connections went 16/0 to one worker."""
from __future__ import annotations

import collections
import shutil
import subprocess
import time

import pytest

from test_gateway_support import connect, read_answer, start_gateway  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


def _sockets(state: str, port: int) -> list[str]:
    """The `ss` lines of the gateway's sockets on `port` in `state` (with their processes)."""
    out = subprocess.run(["ss", "-tnpH", "state", state, f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_two_workers_share_connections_opened_together(start_gateway):
    gateway = start_gateway(gateway_workers="2")
    deadline = time.monotonic() + 30
    while len(_sockets("listening", gateway.port)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the second worker may still be starting
    listening = _sockets("listening", gateway.port)
    # one socket per worker, none held by the supervisor
    assert len(listening) == 2 and f"pid={gateway.popen.pid}," not in "".join(listening), listening
    clients = [connect(gateway.port) for _ in range(16)]
    try:
        time.sleep(0.3)  # accepted
        workers = collections.Counter(line.split("pid=")[1].split(",")[0]
                                      for line in _sockets("established", gateway.port))
        for client in clients:
            client.sendall(b"GET /problems HTTP/1.1\r\nHost: x\r\n\r\n")
        for client in clients:
            assert read_answer(client, timeout_s=10).startswith(b"HTTP/1.1 200 ")
    finally:
        for client in clients:
            client.close()
    assert sum(workers.values()) == 16
    assert len(workers) == 2 and min(workers.values()) >= 3, workers
