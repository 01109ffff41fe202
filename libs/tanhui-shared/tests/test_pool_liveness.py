"""A pooled connection the server is done with is never handed out (make_engine's checkout
check): one the server ended is seen at once, one whose host vanished is pinged once idle."""
from __future__ import annotations

import socket
import struct
import threading
import time

import sqlalchemy as sa

from tanhui_shared.db import make_engine


def _backend_pids(engine: sa.Engine, count: int) -> list[int]:
    """`count` pooled connections, each used once and checked in again: their backends' pids."""
    connections = [engine.connect() for _ in range(count)]
    pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for c in connections]
    for connection in connections:
        connection.close()
    return pids


def test_a_connection_the_server_ended_while_pooled_is_replaced_before_it_is_handed_out(
        new_database):
    url = new_database("pool_ended")
    engine, admin = make_engine(url, pool_size=3), make_engine(url, pool_size=1)
    try:
        pooled = _backend_pids(engine, 3)
        with admin.connect() as conn:  # as a restart or a crash ends them: FATAL, then EOF
            ended = conn.execute(sa.text("SELECT bool_and(pg_terminate_backend(pid, 5000)) "
                                         "FROM unnest(CAST(:pids AS integer[])) AS pid"),
                                 {"pids": pooled}).scalar_one()
        assert ended
        # well inside the idle ping's 5 s: only the socket's state tells these are gone
        assert not set(_backend_pids(engine, 3)) & set(pooled)
    finally:
        engine.dispose()
        admin.dispose()


class _Proxy:
    """TCP between the pool and PostgreSQL, whose `lose_host()` makes the server's host vanish
    for the connections made so far: they stay open and silent (no FIN, as when a machine loses
    power) until the client sends something, which is answered with a reset (as a rebooted
    host answers). Connections made afterwards pass through."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.generation = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_host(self) -> None:
        self.generation += 1

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._forward, args=(client, upstream, self.generation),
                             daemon=True).start()
            threading.Thread(target=self._back, args=(upstream, client), daemon=True).start()

    def _forward(self, client: socket.socket, upstream: socket.socket, generation: int) -> None:
        try:
            while data := client.recv(65536):
                if generation != self.generation:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                upstream.sendall(data)
        except OSError:
            pass
        client.close()
        upstream.close()

    @staticmethod
    def _back(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            pass  # and nothing to the client: a vanished host says nothing

    def close(self) -> None:
        self.listener.close()


def test_a_connection_idle_past_the_ping_threshold_is_pinged_and_replaced_if_its_host_vanished(
        new_database):
    url = sa.engine.make_url(new_database("pool_vanished"))
    proxy = _Proxy(url.host, url.port)
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port)
                         .render_as_string(hide_password=False), pool_size=2, idle_ping_s=0.2)
    try:
        pooled = _backend_pids(engine, 2)
        proxy.lose_host()
        time.sleep(0.3)
        assert not set(_backend_pids(engine, 2)) & set(pooled)
    finally:
        engine.dispose()
        proxy.close()
