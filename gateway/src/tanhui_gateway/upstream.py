"""A small HTTP/1.1 client for the hot path: keep-alive connections to one service.

httpx's connection pool costs more CPU per request than everything else the gateway does
(bench/results/gateway_proxy.md); the services are plain-HTTP uvicorn servers on a private
network, so this client speaks just what they speak: Content-Length or chunked bodies,
keep-alive unless `Connection: close`, one retry when a reused idle connection turns out to
have been closed by the service before answering.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

BUFFER_BELOW = 256 * 1024  # bodies up to this size are read whole and sent in one message
_READ_CHUNK = 64 * 1024
_NO_BODY = {204, 304}


class UpstreamError(Exception):
    def __init__(self, status: int, kind: str) -> None:
        super().__init__(kind)
        self.status = status  # what the client gets: 503 (unreachable) or 504 (too slow)
        self.kind = kind


class _StaleConnection(Exception):
    """A reused connection closed before the response began: safe to retry once."""


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None                      # the whole body, or None when streamed
    stream: AsyncIterator[bytes] | None = None


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Upstream:
    def __init__(self, base_url: str, connect_timeout_s: float, timeout_s: float,
                 max_idle: int = 64) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"service URLs are plain http://host:port, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.max_idle = max_idle
        self._idle: list[_Connection] = []

    async def request(self, method: str, target: str, headers: list[tuple[str, str]],
                      body: bytes | None) -> UpstreamResponse:
        lines = [f"{method} {target} HTTP/1.1".encode(), b"host: " + self.host_header]
        lines += [f"{k}: {v}".encode("latin-1") for k, v in headers]
        payload = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
        for reused in (True, False):
            connection = self._take_idle() if reused else None
            if reused and connection is None:
                continue
            connection = connection or await self._connect()
            try:
                return await self._exchange(connection, method, payload, reused)
            except _StaleConnection:
                continue
        raise UpstreamError(503, "unreachable")  # pragma: no cover - the fresh attempt raises

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            reader, writer = self._idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    async def _connect(self) -> _Connection:
        try:
            return await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                          self.connect_timeout_s)
        except TimeoutError as exc:
            raise UpstreamError(503, "connect_timeout") from exc
        except OSError as exc:
            raise UpstreamError(503, "unreachable") from exc

    async def _exchange(self, connection: _Connection, method: str, payload: bytes,
                        reused: bool) -> UpstreamResponse:
        reader, writer = connection
        try:
            async with asyncio.timeout(self.timeout_s):
                writer.write(payload)
                await writer.drain()
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as exc:
                    if reused and not exc.partial:
                        raise _StaleConnection() from exc
                    raise
                status, headers, keep_alive, length, chunked = _parse_head(head)
                while 100 <= status < 200:  # interim answers: the real one follows
                    head = await reader.readuntil(b"\r\n\r\n")
                    status, headers, keep_alive, length, chunked = _parse_head(head)
                if method == "HEAD" or status in _NO_BODY:
                    self._release(connection, keep_alive)
                    return UpstreamResponse(status, headers, b"")
                if length is not None and length <= BUFFER_BELOW:
                    body = await reader.readexactly(length)
                    self._release(connection, keep_alive)
                    return UpstreamResponse(status, headers, body)
        except _StaleConnection:
            writer.close()
            raise
        except TimeoutError as exc:
            writer.close()
            raise UpstreamError(504, "timeout") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            writer.close()
            if reused and isinstance(exc, ConnectionResetError | BrokenPipeError):
                raise _StaleConnection() from exc
            raise UpstreamError(503, "broken_response") from exc
        streamed = self._stream(connection, keep_alive, length, chunked)
        return UpstreamResponse(status, headers, None, streamed)

    async def _stream(self, connection: _Connection, keep_alive: bool, length: int | None,
                      chunked: bool) -> AsyncIterator[bytes]:
        reader, writer = connection
        complete = False
        try:
            async with asyncio.timeout(self.timeout_s):
                if chunked:
                    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                        yield await reader.readexactly(size)
                        await reader.readexactly(2)
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                        pass
                elif length is not None:
                    remaining = length
                    while remaining:
                        chunk = await reader.read(min(remaining, _READ_CHUNK))
                        if not chunk:
                            raise asyncio.IncompleteReadError(b"", remaining)
                        remaining -= len(chunk)
                        yield chunk
                else:  # delimited by the end of the connection
                    keep_alive = False
                    while chunk := await reader.read(_READ_CHUNK):
                        yield chunk
            complete = True
        finally:
            self._release(connection, keep_alive and complete)

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and len(self._idle) < self.max_idle:
            self._idle.append(connection)
        else:
            connection[1].close()

    async def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


def _parse_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]], bool, int | None, bool]:
    """(status, headers, keep-alive, Content-Length, chunked) of a response head."""
    status_line, *lines = head[:-4].split(b"\r\n")
    version, status = status_line[:8], int(status_line[9:12])
    headers = []
    keep_alive = version == b"HTTP/1.1"
    length = None
    chunked = False
    for line in lines:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = b"close" not in value.lower() and (keep_alive or b"keep-alive" in value.lower())
    if chunked:
        length = None
    return status, headers, keep_alive, length, chunked
