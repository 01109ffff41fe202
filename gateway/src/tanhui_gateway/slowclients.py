"""Slow clients: a request head and a request body each get a deadline.

uvicorn has no timeout for a request head: a fresh connection that sends nothing, or a head
sent a byte every few seconds, is held for as long as the client likes (its keep-alive timer
runs only between requests and is cancelled by any byte). `GuardedH11Protocol` arms a timer
whenever the connection waits for a request head and closes it when the head is not complete
in time, with a 408 when part of a head had arrived.

Bodies are guarded at the ASGI level (`BodyDeadline`), where a 408 can be a problem document:
`timeout_s` plus one second per `min_rate` bytes received (mod_reqtimeout's rule, see
settings.py). An answer sent before the body was read to its end closes the connection, so the
rest of a slow body cannot hold it either.
"""
from __future__ import annotations

import asyncio
import json
import socket

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from tanhui_shared.web.problem_types import type_uri
from tanhui_shared.web.problems import problem_response

from .settings import get_settings

_CLOSE = (b"connection", b"close")


def _raw_408(detail: str) -> bytes:
    body = json.dumps({"type": type_uri("request-timeout"), "title": "Request Timeout",
                       "status": 408, "detail": detail, "code": "request-timeout"}).encode()
    head = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on every request head (`http=` of uvicorn.run)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = get_settings().header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()  # keep-alive: the next head is awaited from now

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        """Armed while a head is awaited (h11: the client is IDLE), from the moment waiting began;
        stopped once a head is complete (the client moves on to its body or is done)."""
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if not waiting:
            self._stop_head_timer()
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _ = self.conn.trailing_data
        if partial:  # part of a head came: say why; an idle connection is just closed
            self.transport.write(_raw_408(f"the request head was not complete within "
                                          f"{self.header_timeout_s:g}s"))
        self.transport.close()


def _no_delay(transport) -> None:
    """TCP_NODELAY on the client's connection. asyncio sets it only on sockets whose `proto` is
    IPPROTO_TCP, and with `--workers N` uvicorn binds the listener itself with proto 0, which
    accepted sockets inherit (Kludex/uvicorn issue 3149): Nagle then holds each answer's body,
    sent after its head, until the client's delayed ACK, about 40 ms per keep-alive request."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BodyTimeout(Exception):
    """The request body did not arrive in time."""


class BodyDeadline:
    """ASGI layer: `receive()` fails with BodyTimeout once the body is late; the answer to a
    request whose body was not read to its end carries `Connection: close`."""

    def __init__(self, app: ASGIApp, timeout_s: float, min_rate: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        complete = b"transfer-encoding" not in headers and headers.get(b"content-length",
                                                                       b"0").strip() in (b"0", b"")
        loop = asyncio.get_running_loop()
        started: float | None = None
        received = 0
        answered = False

        async def guarded_receive() -> Message:
            nonlocal complete, started, received
            if complete:  # after the body only a disconnect can come: no deadline on waiting for it
                return await receive()
            if started is None:
                started = loop.time()
            remaining = started + self.timeout_s + received / self.min_rate - loop.time()
            try:
                async with asyncio.timeout(max(remaining, 0)):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(f"the request body did not arrive in time ({received} bytes in "
                                  f"{loop.time() - started:.0f}s)") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                if not complete:
                    message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except BodyTimeout as slow:
            if answered:
                raise
            response = problem_response(408, str(slow), headers={"Connection": "close"},
                                        instance=scope["path"])
            await response(scope, receive, send)
