"""Several gateway workers (`--workers N`), each accepting on a listening socket of its own.

uvicorn's workers all accept on one shared socket, and whichever wakes first accepts everything
queued (asyncio accepts up to its backlog per wake-up): 16 keep-alive connections opened together
landed 16/0, 15/1 and 16/0 on two workers, so two workers served as one, plus the idle one's
overhead (bench/results/gateway_proxy.md). With SO_REUSEPORT every worker listens on a socket of
its own on the same port and the kernel spreads new connections over them. uvicorn's supervisor
is kept (signals, health checks, restarts); only the socket each worker is started with changes.
"""
from __future__ import annotations

import socket

from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess


def reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor, starting each worker (and each replacement) with a new socket. The
    supervisor closes its copy once the worker has started: a listening socket nobody accepts on
    would still be given its share of the connections, which would then hang."""

    def __init__(self, config: Config) -> None:
        if not config.port:
            raise ValueError("workers with a socket each need a fixed port")
        self._given: list[socket.socket] = []
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """Read once per worker started (uvicorn: `Process(self.config, self.sockets)`)."""
        self._close_given()
        self._given.append(reuse_port_socket(self.config.host, self.config.port))
        return self._given[-1:]

    @sockets.setter
    def sockets(self, _shared: list[socket.socket]) -> None:
        pass  # no shared socket: each worker gets its own above

    def _close_given(self) -> None:
        while self._given:
            self._given.pop().close()

    def init_processes(self) -> None:
        super().init_processes()
        self._close_given()

    def restart_all(self) -> None:
        super().restart_all()
        self._close_given()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._close_given()
