"""Rate limits shared by every gateway instance: one counter per (class, caller) in Redis.

A fixed window that opens at the caller's first request: one atomic Lua script increments the
counter and, when the key is new (or somehow lost its TTL), gives it the window as its TTL.
So every key expires, N instances count into the same key, and a burst can reach at most twice
the limit across two adjacent windows (documented in gateway/README.md).

Reads of a caller who keeps reading are counted a few at a time (`Leases`): the script adds
several to the counter at once and this instance hands the numbers out to the caller's next
reads itself, each read answered as if it had asked Redis (its own number, so the same
RateLimit headers), the Redis round trip saved. Never more than the limit is admitted in a
window (each admitted read has a number of its own up to the limit, and numbers are not used
after the window Redis gave them in). What another instance holds unused counts against the
caller here: with N instances a caller may be refused after limit - (N - 1) x (lease - 1)
reads, the lease being at most a fiftieth of the limit and 16, so limits under 100 are
counted one by one as before. Numbers already leased are handed out while Redis is away too
(they were counted before it went).
"""
from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from dataclasses import dataclass

import redis.asyncio as redis
from redis.exceptions import RedisError

from .redis_pipe import RedisPipe, script_sha

log = logging.getLogger(__name__)

# KEYS[1] = counter; ARGV[1] = window in ms. Returns {count, ms until the window closes}.
WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
# A lease: as WINDOW_SCRIPT, but ARGV[2] counted at once, never past the limit ARGV[3] (at
# least 1, as a single request always is). Returns {count, ms until the window closes, counted}.
LEASE_SCRIPT = """
local want = tonumber(ARGV[2])
local room = tonumber(ARGV[3]) - tonumber(redis.call('GET', KEYS[1]) or '0')
if want > room then want = math.max(room, 1) end
local count = redis.call('INCRBY', KEYS[1], want)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl, want}
"""
LEASE_MAX = 16          # numbers taken at once for one caller, at most...
LEASE_SHARE = 50        # ...and at most this fraction of the limit (1 / 50)
MAX_LEASES = 4096       # callers with a lease kept per class; expired ones go first


class _Lease:
    """Numbers `next`..`top` of a caller's window, counted in Redis, not yet handed out."""

    __slots__ = ("next", "top", "deadline", "size", "pending")

    def __init__(self, deadline: float) -> None:
        self.next, self.top = 1, 0
        self.deadline = deadline  # monotonic; at most when Redis closes the window
        self.size = 2             # what the next reservation asks for (doubling, to the cap)
        self.pending: asyncio.Future | None = None  # a reservation of several on its way


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int            # seconds until the window closes (RateLimit-Reset, Retry-After)
    counted: bool = True    # False: Redis was unavailable and the request went through uncounted

    def headers(self) -> dict[str, str]:
        if not self.counted:
            return {}
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset_s)}
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_s)
        return headers


class LimiterUnavailable(Exception):
    """Redis cannot be asked and this method class fails closed: 503."""


def verdict(count: int, ttl_ms: int, limit: int) -> Verdict:
    return Verdict(allowed=count <= limit, limit=limit, remaining=max(0, limit - count),
                   reset_s=max(1, math.ceil(ttl_ms / 1000)))


class RateLimiter:
    def __init__(self, client: redis.Redis, prefix: str, window_s: int, limits: dict[str, int],
                 fail_open_reads: bool, fail_open_writes: bool, retry_after_failure_s: float,
                 windows: dict[str, int] | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.window_ms = window_s * 1000
        # classes counted over a window of their own (e.g. logins per user name)
        self.windows_ms = {name: seconds * 1000 for name, seconds in (windows or {}).items()}
        self.limits = limits
        self.fail_open = {"read": fail_open_reads, "write": fail_open_writes}
        self.retry_after_failure_s = retry_after_failure_s
        self._sha = script_sha(WINDOW_SCRIPT)
        self._lease_sha = script_sha(LEASE_SCRIPT)
        self.pipe = _pipe_like(client)
        self._down_until = 0.0
        self._leases: dict[str, _Lease] = {}

    def lease_cap(self, limit: int) -> int:
        return max(1, min(LEASE_MAX, limit // LEASE_SHARE))

    def window_s(self, rate_class: str) -> int:
        return self.windows_ms.get(rate_class, self.window_ms) // 1000

    def key(self, rate_class: str, identity: str) -> str:
        return f"{self.prefix}:{rate_class}:{identity}"

    async def hit(self, rate_class: str, identity: str, method_class: str) -> Verdict:
        """Count one request of `identity` in `rate_class`. `method_class` ("read" or "write")
        decides what happens when Redis is unavailable."""
        limit = self.limits[rate_class]
        key = self.key(rate_class, identity)
        lease = None
        cap = self.lease_cap(limit) if method_class == "read" else 1
        if cap > 1:
            now = time.monotonic()
            lease = self._leases.get(key)
            if lease is not None and now >= lease.deadline:
                del self._leases[key]
                lease = None
            while lease is not None and lease.next > lease.top and lease.pending is not None:
                # a reservation for this caller is on its way: its numbers may cover this read
                # too (the wait is the round trip this read would make on its own)
                await asyncio.shield(lease.pending)
                now = time.monotonic()
                if self._leases.get(key) is not lease or now >= lease.deadline:
                    lease = None
            if lease is not None and lease.next <= lease.top:
                lease.next += 1
                return verdict(lease.next - 1, int((lease.deadline - now) * 1000), limit)
        if time.monotonic() >= self._down_until:
            want = 1 if lease is None or lease.pending is not None else lease.size
            try:
                window_ms = self.windows_ms.get(rate_class, self.window_ms)
                sent = time.monotonic()
                if want > 1:
                    lease.pending = pending = asyncio.get_running_loop().create_future()
                    try:
                        count, ttl_ms, counted = await self.pipe.eval_script(
                            LEASE_SCRIPT, self._lease_sha, [key], [window_ms, want, limit])
                    finally:  # the waiting reads run after the numbers are kept (no await between)
                        lease.pending = None
                        pending.set_result(None)
                else:
                    count, ttl_ms = await self.pipe.eval_script(
                        WINDOW_SCRIPT, self._sha, [key], [window_ms])
                    counted = 1
                count, ttl_ms, counted = int(count), int(ttl_ms), int(counted)
                if cap > 1:
                    self._keep(key, lease, count, counted, sent + ttl_ms / 1000, cap)
                return verdict(count - counted + 1, ttl_ms, limit)
            except (RedisError, OSError) as exc:
                # Do not ask again for a moment: a dead Redis must not add a timeout to each request.
                self._down_until = time.monotonic() + self.retry_after_failure_s
                log.warning("rate-limit store unavailable: %s", exc.__class__.__name__)
        if self.fail_open[method_class]:
            return Verdict(True, limit, limit, 0, counted=False)
        raise LimiterUnavailable()

    def _keep(self, key: str, lease: _Lease | None, count: int, counted: int, deadline: float,
              cap: int) -> None:
        """After a reservation: the numbers beyond the first (which its own request takes) for
        the caller's next reads, and a bigger reservation next time. The deadline counts from
        before the script ran, so it never passes the window's end in Redis."""
        if lease is None or self._leases.get(key) is not lease:
            if len(self._leases) >= MAX_LEASES:
                now = time.monotonic()
                self._leases = {k: v for k, v in self._leases.items() if v.deadline > now}
                if len(self._leases) >= MAX_LEASES:
                    self._leases.clear()
            lease = self._leases[key] = _Lease(deadline)
        if counted > 1:
            lease.next, lease.top, lease.deadline = count - counted + 2, count, deadline
            lease.size = min(counted * 2, cap)

    async def close(self) -> None:
        await self.pipe.close()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False


def _pipe_like(client: redis.Redis) -> RedisPipe:
    """A pipelined connection to the Redis `client` talks to (same address, database, login and
    timeout); `client` itself stays for what is not on the hot path (readiness)."""
    options = client.connection_pool.connection_kwargs
    if "host" not in options:
        raise ValueError("the rate limits need Redis over TCP (redis://host:port/db)")
    tls = None
    if issubclass(client.connection_pool.connection_class, redis.SSLConnection):  # rediss://
        tls = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    return RedisPipe(options["host"], int(options.get("port", 6379)), int(options.get("db", 0)),
                     options.get("username"), options.get("password"),
                     options.get("socket_timeout") or 1.0, tls)
