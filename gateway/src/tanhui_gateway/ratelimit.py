"""Rate limits shared by every gateway instance: one counter per (class, caller) in Redis.

A fixed window that opens at the caller's first request: one atomic Lua script increments the
counter and, when the key is new (or somehow lost its TTL), gives it the window as its TTL.
So every key expires, N instances count into the same key, and a burst can reach at most twice
the limit across two adjacent windows (documented in gateway/README.md).
"""
from __future__ import annotations

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
        self.pipe = _pipe_like(client)
        self._down_until = 0.0

    def window_s(self, rate_class: str) -> int:
        return self.windows_ms.get(rate_class, self.window_ms) // 1000

    def key(self, rate_class: str, identity: str) -> str:
        return f"{self.prefix}:{rate_class}:{identity}"

    async def hit(self, rate_class: str, identity: str, method_class: str) -> Verdict:
        """Count one request of `identity` in `rate_class`. `method_class` ("read" or "write")
        decides what happens when Redis is unavailable."""
        limit = self.limits[rate_class]
        if time.monotonic() >= self._down_until:
            try:
                window_ms = self.windows_ms.get(rate_class, self.window_ms)
                count, ttl_ms = await self.pipe.eval_script(
                    WINDOW_SCRIPT, self._sha, [self.key(rate_class, identity)], [window_ms])
                return verdict(int(count), int(ttl_ms), limit)
            except (RedisError, OSError) as exc:
                # Do not ask again for a moment: a dead Redis must not add a timeout to each request.
                self._down_until = time.monotonic() + self.retry_after_failure_s
                log.warning("rate-limit store unavailable: %s", exc.__class__.__name__)
        if self.fail_open[method_class]:
            return Verdict(True, limit, limit, 0, counted=False)
        raise LimiterUnavailable()

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
