"""One Redis connection for the rate limits' hot path, with commands pipelined.

redis-py's asyncio client takes a connection from its pool, wraps the call in its retry logic
and parses through several layers for each command: about a fifth of the proxy's CPU per
request when profiled (bench/results/gateway_proxy.md). Each request needs one EVALSHA, so
this keeps one connection, writes each command as it comes and lets a single reader task hand
the replies back in order (Redis answers a connection's commands in the order sent), with no
lock around the round trip. RESP2 only, the replies the script and PING give.
"""
from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError


class RedisPipe:
    def __init__(self, host: str, port: int, db: int = 0, username: str | None = None,
                 password: str | None = None, timeout_s: float = 1.0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.db, self.tls = host, port, db, tls
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self._writer: asyncio.StreamWriter | None = None
        self._ready = False  # connected, authenticated, database selected
        self._waiting: deque[asyncio.Future] = deque()
        self._reading: asyncio.Task | None = None
        self._connecting = asyncio.Lock()

    async def call(self, *args: str | int | bytes):
        """The reply to one command: int, bytes, None or a list of them; ResponseError for an
        error reply, ConnectionError or TimeoutError when Redis cannot be asked."""
        async with asyncio.timeout(self.timeout_s):
            if not self._ready:
                await self._connect()
            try:
                result = await self._send(args)
            except TimeoutError:
                # no answer in time: Redis is not there; whoever waits behind us fails now too
                self._drop(RedisConnectionError("no reply from Redis"))
                raise
        if isinstance(result, ResponseError):
            raise result
        return result

    async def eval_script(self, script: str, sha: str, keys: list[str], args: list) -> object:
        """EVALSHA, and EVAL when Redis does not have the script (restarted, flushed)."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call("EVAL", script, len(keys), *keys, *args)

    def _send(self, args) -> asyncio.Future:
        reply = asyncio.get_running_loop().create_future()
        self._waiting.append(reply)
        self._writer.write(_encode(args))
        return reply

    async def _connect(self) -> None:
        async with self._connecting:  # one connection attempt at a time; the others reuse it
            if self._ready:
                return
            try:
                reader, self._writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
                self._reading = asyncio.create_task(self._read_replies(reader))
                setup = []
                if self.password is not None:
                    setup.append(("AUTH", self.username, self.password) if self.username
                                 else ("AUTH", self.password))
                if self.db:
                    setup.append(("SELECT", self.db))
                for command in setup:
                    if isinstance(result := await self._send(command), ResponseError):
                        raise RedisConnectionError(f"Redis refused {command[0]}: {result}")
            except BaseException as exc:  # also a timeout or cancellation halfway through
                error = exc if isinstance(exc, RedisConnectionError) else \
                    RedisConnectionError(f"cannot connect to Redis: {exc!r}")
                self._drop(error)
                if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                    raise error from exc
                raise
            self._ready = True

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                result = await _read_reply(reader)
                if not self._waiting:
                    raise RedisConnectionError("a reply nobody asked for")
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(result)
        except (OSError, asyncio.IncompleteReadError, ValueError, RedisConnectionError) as exc:
            if self._reading is asyncio.current_task():
                self._drop(exc if isinstance(exc, RedisConnectionError)
                           else RedisConnectionError(f"Redis connection lost: {exc!r}"))

    def _drop(self, error: Exception) -> None:
        """Close the connection and fail every command still waiting on it."""
        self._ready = False
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reading is not None and self._reading is not asyncio.current_task():
            self._reading.cancel()
        self._reading = None
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    async def close(self) -> None:
        self._drop(RedisConnectionError("closed"))


def script_sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1


def _encode(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def _read_reply(reader: asyncio.StreamReader):
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest
    if kind == b"-":
        return ResponseError(rest.decode("utf-8", "replace"))
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [await _read_reply(reader) for _ in range(size)]
    raise ValueError(f"not a RESP2 reply: {line[:40]!r}")
