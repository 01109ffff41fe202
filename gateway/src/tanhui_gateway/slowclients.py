"""Slow clients: a request head and a request body each get a deadline.

uvicorn has no timeout for a request head: a fresh connection that sends nothing, or a head
sent a byte every few seconds, is held for as long as the client likes (its keep-alive timer
runs only between requests and is cancelled by any byte). `GuardedHttpToolsProtocol` arms a
timer when a connection opens and when the first byte of a later head arrives, and closes the
connection when the head is not complete in time, with a 408 when part of a head had arrived.

Between requests a kept-alive connection is left to uvicorn's keep-alive timer
(`keep_alive_timeout_s`, settings.py), which must outlast the clients' own idle expiry: a
server that closes an idle connection just as its client reuses it makes the client's request
fail with no answer (httpx keeps idle connections 5 s, uvicorn's default timeout was 5 s too).

Bodies are guarded at the ASGI level (`BodyDeadline`), where a 408 can be a problem document:
`timeout_s` plus one second per `min_rate` bytes received (mod_reqtimeout's rule, see
settings.py). An answer sent before the body was read to its end closes the connection, so the
rest of a slow body cannot hold it either.
"""
from __future__ import annotations

import asyncio
import json
import socket

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tanhui_shared.web.problem_types import type_uri
from tanhui_shared.web.problems import problem_response

from .settings import get_settings

_CLOSE = (b"connection", b"close")
MAX_HEAD_BYTES = 16 * 1024  # a longer request head is a 400 (HeaderLimit's 431 starts at 8 KiB)


def _raw_408(detail: str) -> bytes:
    body = json.dumps({"type": type_uri("request-timeout"), "title": "Request Timeout",
                       "status": 408, "detail": detail, "code": "request-timeout"}).encode()
    head = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (`http=` of uvicorn.run) with a deadline on every request
    head and a bound on its size. httptools parses in C: uvicorn's h11 protocol, pure Python,
    cost the gateway about a fifth of its CPU per request (bench/results/gateway_proxy.md)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = get_settings().header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting = True       # for a request head: none is complete and unanswered
        self._head_bytes = 0       # bytes received while waiting (some came: a 408, not silence)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._waiting:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._waiting or self.transport.is_closing():
            return
        if self._head_bytes > MAX_HEAD_BYTES:
            # still no complete head (as h11's max incomplete event size did): a head without
            # end must not grow in memory for its whole deadline
            self.send_400_response(f"Request head over {MAX_HEAD_BYTES} bytes.")
        elif self._head_timer is None and data:
            # a kept-alive connection's next head began in this chunk and is not complete: its
            # deadline runs from now (a head that came whole, the usual case, needs no timer)
            self._arm()

    def on_headers_complete(self) -> None:
        self._waiting = False
        self._stop_head_timer()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:  # the request just parsed
            self.cycle.transport = _HeadWithBody(self.transport, self.cycle)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.pipeline and not self.transport.is_closing():
            # keep-alive: idle under uvicorn's keep-alive timer until the next head's first
            # byte arms the head deadline (a pipelined head is complete already)
            self._waiting = True
            self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._waiting:
            return
        if self._head_bytes:  # part of a head came: say why; an idle connection is just closed
            self.transport.write(_raw_408(f"the request head was not complete within "
                                          f"{self.header_timeout_s:g}s"))
        self.transport.close()


class _HeadWithBody:
    """A response's transport, as its request cycle sees it: the head waits for the first body
    write and both leave in one send(2) (uvicorn writes them apart: two system calls and two
    segments for every answer). Anything written before the head (100 Continue) goes at once."""

    __slots__ = ("_transport", "_cycle", "_head", "_sent")

    def __init__(self, transport, cycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._sent = False

    def write(self, data: bytes) -> None:
        if not self._sent and self._cycle.response_started:
            if self._head is None:
                self._head = data
                return
            data, self._head, self._sent = self._head + data, None, True
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:  # the answer failed after its head: what went before, as before
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


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
        chunked, length = False, b"0"
        for name, value in scope["headers"]:  # the last Content-Length counts, as in a dict
            if name == b"transfer-encoding":
                chunked = True
            elif name == b"content-length":
                length = value
        if not chunked and length.strip() in (b"0", b""):
            # no body to wait for: nothing to guard, nor any answer to close the connection after
            await self.app(scope, receive, send)
            return
        complete = False
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
