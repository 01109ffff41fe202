"""The rate limits' pipelined Redis connection on a real Redis: replies go back to the command
that asked, whatever the interleaving; a script Redis lost is sent again; a connection Redis
closed is replaced; a dead Redis is an error the limiter knows, not a hang."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from tanhui_gateway.ratelimit import WINDOW_SCRIPT
from tanhui_gateway.redis_pipe import RedisPipe, script_sha
from tanhui_shared.testing.coroutines import run_coroutine

from test_ratelimit import _dead_port

pytestmark = pytest.mark.infra


def _pipe(url: str) -> RedisPipe:
    options = redis.Redis.from_url(url).connection_pool.connection_kwargs
    return RedisPipe(options["host"], options["port"], options.get("db", 0), timeout_s=5)


def test_concurrent_commands_each_get_their_own_reply(infra):
    async def scenario():
        pipe = _pipe(infra.redis_url)
        prefix = f"test:pipe:{uuid.uuid4().hex[:8]}"
        # 50 keys counted to different heights at once: any reply handed to the wrong caller
        # shows as a count that is not its key's
        calls = [(f"{prefix}:{k}", n) for k in range(50) for n in range(1, k % 5 + 2)]
        replies = await asyncio.gather(*(pipe.call("INCR", key) for key, _ in calls))
        assert replies == [n for _, n in calls]
        assert await pipe.call("GET", f"{prefix}:4") == b"5"
        assert await pipe.call("GET", f"{prefix}:none") is None
        with pytest.raises(ResponseError):
            await pipe.call("INCR", f"{prefix}:a", "extra")  # wrong arity: an error reply
        assert await pipe.call("DEL", *{key for key, _ in calls}) == 50
        await pipe.close()

    run_coroutine(scenario())


def test_a_script_redis_lost_is_sent_again(infra):
    async def scenario():
        pipe = _pipe(infra.redis_url)
        key = f"test:pipe:{uuid.uuid4().hex[:8]}"
        sha = script_sha(WINDOW_SCRIPT)
        assert (await pipe.eval_script(WINDOW_SCRIPT, sha, [key], [60_000]))[0] == 1
        await pipe.call("SCRIPT", "FLUSH")  # as after a Redis restart (other users reload theirs)
        count, ttl_ms = await pipe.eval_script(WINDOW_SCRIPT, sha, [key], [60_000])
        assert count == 2 and 0 < ttl_ms <= 60_000
        await pipe.call("DEL", key)
        await pipe.close()

    run_coroutine(scenario())


def test_a_connection_redis_closed_is_replaced(infra):
    async def scenario():
        pipe = _pipe(infra.redis_url)
        own_id = await pipe.call("CLIENT", "ID")
        killer = redis.Redis.from_url(infra.redis_url)
        assert await killer.client_kill_filter(_id=own_id) == 1
        await killer.aclose()
        # the command in flight when the close arrives fails (the limiter counts it as Redis
        # unavailable); the connection is then replaced, not left broken
        failures = 0
        for _ in range(50):
            try:
                assert await pipe.call("PING") == b"PONG"
            except RedisConnectionError:
                failures += 1
            await asyncio.sleep(0.02)
        assert failures <= 1
        assert await pipe.call("CLIENT", "ID") != own_id
        await pipe.close()

    run_coroutine(scenario())


def test_a_dead_redis_is_a_connection_error():
    async def scenario():
        pipe = RedisPipe("127.0.0.1", _dead_port(), timeout_s=1)
        with pytest.raises(RedisConnectionError):
            await pipe.call("PING")
        await pipe.close()

    run_coroutine(scenario())


def test_a_rediss_url_makes_a_tls_pipe():
    import redis.asyncio as redis

    from tanhui_gateway.ratelimit import _pipe_like

    assert _pipe_like(redis.Redis.from_url("rediss://cache.internal:6380/2")).tls is not None
    plain = _pipe_like(redis.Redis.from_url("redis://127.0.0.1:6379/0"))
    assert plain.tls is None and (plain.host, plain.port, plain.db) == ("127.0.0.1", 6379, 0)
