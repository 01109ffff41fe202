"""The rate-limit script on a real Redis: one atomic count per window, every key with a TTL, and
what happens when Redis cannot be asked."""
from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
import redis.asyncio as redis

from tanhui_gateway.ratelimit import LimiterUnavailable, RateLimiter, verdict
from tanhui_shared.testing.coroutines import run_coroutine

pytestmark = pytest.mark.infra


def limiter(url: str, limit: int = 5, window_s: int = 60, prefix: str | None = None) -> RateLimiter:
    # generous timeouts: this checks counting under concurrency, not latency on a busy machine
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return RateLimiter(client, prefix or f"test:{uuid.uuid4().hex[:8]}", window_s,
                       {"read": limit, "write": limit, "auth": limit, "batch": limit},
                       fail_open_reads=True, fail_open_writes=False, retry_after_failure_s=0.5)


def test_the_limit_holds_under_concurrency_and_every_key_expires(infra):
    async def scenario():
        rl = limiter(infra.redis_url, limit=25)
        verdicts = await asyncio.gather(*(rl.hit("write", "user:u1", "write") for _ in range(100)))
        assert sum(v.allowed for v in verdicts) == 25
        assert sorted(v.remaining for v in verdicts if v.allowed) == list(range(25))
        assert all(v.headers()["Retry-After"] for v in verdicts if not v.allowed)
        ttl = await rl.client.ttl(rl.key("write", "user:u1"))
        assert 0 < ttl <= 60
        other = await rl.hit("write", "user:u2", "write")       # callers do not share a window
        assert other.allowed and other.remaining == 24
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())


def test_the_window_closes_after_its_ttl(infra):
    async def scenario():
        rl = limiter(infra.redis_url, limit=2, window_s=1)
        assert [(await rl.hit("read", "ip:1", "read")).allowed for _ in range(3)] == [True, True, False]
        await asyncio.sleep(1.1)
        assert (await rl.hit("read", "ip:1", "read")).allowed
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())


def test_a_key_that_lost_its_ttl_gets_one_again(infra):
    async def scenario():
        rl = limiter(infra.redis_url)
        key = rl.key("read", "ip:2")
        await rl.client.set(key, 3)                     # e.g. written by an older version
        assert (await rl.hit("read", "ip:2", "read")).remaining == 1
        assert 0 < await rl.client.ttl(key) <= 60
        await rl.client.delete(key)
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_redis_reads_pass_uncounted_and_writes_are_refused():
    async def scenario():
        rl = limiter(f"redis://127.0.0.1:{_dead_port()}/0")
        read = await rl.hit("read", "ip:3", "read")
        assert read.allowed and not read.counted and read.headers() == {}
        with pytest.raises(LimiterUnavailable):
            await rl.hit("write", "user:u3", "write")
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())


def test_verdict_headers():
    assert verdict(3, 42_500, 10).headers() == {"RateLimit-Limit": "10", "RateLimit-Remaining": "7",
                                                "RateLimit-Reset": "43"}
    assert verdict(11, 900, 10).headers()["Retry-After"] == "1"


class CountedPipe:
    """The limiter's real pipe, with its round trips to Redis counted."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.calls = 0

    async def eval_script(self, *args):
        self.calls += 1
        return await self.pipe.eval_script(*args)

    async def close(self) -> None:
        await self.pipe.close()


def test_a_busy_readers_counts_are_leased_with_the_same_verdicts(infra):
    async def scenario():
        rl = limiter(infra.redis_url, limit=1000)        # leases of up to 16 (a 50th, at most 16)
        rl.pipe = CountedPipe(rl.pipe)
        verdicts = [await rl.hit("read", "ip:4", "read") for _ in range(100)]
        # each read has its own number, as if Redis had been asked each time
        assert [v.remaining for v in verdicts] == list(range(999, 899, -1))
        assert all(v.allowed and v.counted and 0 < v.reset_s <= 60 for v in verdicts)
        assert rl.pipe.calls <= 12                        # 1, 2, 4, 8, 16, 16...
        assert 100 <= int(await rl.client.get(rl.key("read", "ip:4"))) <= 115
        # reads at once wait for the reservation on its way rather than each asking Redis
        calls = rl.pipe.calls
        together = await asyncio.gather(*(rl.hit("read", "ip:4", "read") for _ in range(64)))
        assert sorted(v.remaining for v in together) == list(range(836, 900))
        assert rl.pipe.calls - calls <= 8
        calls = rl.pipe.calls
        writes = [await rl.hit("write", "ip:4", "write") for _ in range(5)]   # one by one
        assert rl.pipe.calls - calls == 5 and [v.remaining for v in writes] == [999, 998, 997, 996, 995]
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())


def test_leases_never_admit_more_than_the_limit_across_instances(infra):
    async def scenario():
        prefix = f"test:{uuid.uuid4().hex[:8]}"
        first, second = (limiter(infra.redis_url, limit=200, prefix=prefix) for _ in range(2))
        # one after another, alternating: each instance keeps using what it leased
        alternating = [await (first, second)[i % 2].hit("read", "ip:5", "read") for i in range(300)]
        assert sum(v.allowed for v in alternating) == 200
        # all at once on both: never more than the limit; at most a lease short per other instance
        together = await asyncio.gather(*((first, second)[i % 2].hit("read", "ip:6", "read")
                                          for i in range(300)))
        admitted = sum(v.allowed for v in together)
        assert 200 - (first.lease_cap(200) - 1) <= admitted <= 200
        for rl in (first, second):
            await rl.close()
            await rl.client.aclose()

    run_coroutine(scenario())


def test_a_lease_ends_with_its_window(infra):
    async def scenario():
        rl = limiter(infra.redis_url, limit=500, window_s=1)
        assert [(await rl.hit("read", "ip:7", "read")).remaining for _ in range(20)] == \
            list(range(499, 479, -1))
        await asyncio.sleep(1.1)
        assert (await rl.hit("read", "ip:7", "read")).remaining == 499
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())


def test_a_lease_never_counts_past_the_limit(infra):
    async def scenario():
        rl = limiter(infra.redis_url, limit=100)         # leases of 2
        assert all([(await rl.hit("read", "ip:8", "read")).allowed for _ in range(100)])
        assert int(await rl.client.get(rl.key("read", "ip:8"))) == 100   # none held past it
        assert not (await rl.hit("read", "ip:8", "read")).allowed
        assert int(await rl.client.get(rl.key("read", "ip:8"))) == 101   # a refusal counts one
        await rl.close()
        await rl.client.aclose()

    run_coroutine(scenario())
