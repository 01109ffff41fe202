"""The gateway's HTTP protocol turns Nagle's algorithm off on every client connection, also when
uvicorn binds the listener itself (`--workers N`), whose accepted sockets asyncio leaves alone."""
from __future__ import annotations

import asyncio
import socket

from uvicorn.config import Config
from uvicorn.server import ServerState

from tanhui_gateway.slowclients import GuardedHttpToolsProtocol
from tanhui_shared.testing.coroutines import run_coroutine


async def _app(scope, receive, send) -> None:  # never called: only connections are made
    raise AssertionError("no request is sent")


async def _accepted_socket_options() -> tuple[int, int]:
    """(proto, TCP_NODELAY) of the server side of one connection to a listener bound the way
    uvicorn's supervisor binds it."""
    config = Config(_app, host="127.0.0.1", port=0, ws="none", lifespan="off")
    config.load()
    listener = config.bind_socket()
    state = ServerState()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GuardedHttpToolsProtocol(config=config, server_state=state, app_state={}, _loop=loop),
        sock=listener)
    port = listener.getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(100):
            if state.connections:
                break
            await asyncio.sleep(0.01)
        (protocol,) = state.connections
        accepted = protocol.transport.get_extra_info("socket")
        return accepted.proto, accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_client_connections_have_nodelay_when_uvicorn_binds_the_listener() -> None:
    proto, nodelay = run_coroutine(_accepted_socket_options())
    assert proto == 0  # the case asyncio skips: without the protocol's own setsockopt, Nagle stays on
    assert nodelay != 0
