"""The services' token check remembers tokens that passed, and only while that is still safe: the
key that verified a token still stands for its kid, and the token has not expired."""
from __future__ import annotations

import json
import threading

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tanhui_shared.web.auth import TokenVerifier
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.trusted_keys import RELOAD_GRACE_S, KeyCache

ISSUER, AUDIENCE, NOW = "tanhui-accounts", "tanhui", 1_900_000_000


def _key(kid: str) -> tuple[rsa.RSAPrivateKey, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def _token(private: rsa.RSAPrivateKey, kid: str, sub: str = "u1", exp: int = NOW + 600) -> str:
    claims = {"sub": sub, "role": "citizen", "preferred_username": sub, "iss": ISSUER,
              "aud": AUDIENCE, "iat": NOW - 10, "exp": exp}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


class _World:
    def __init__(self) -> None:
        self.keys: dict[str, dict] = {}
        self.now = float(NOW)
        self.checks = 0
        self.verifier = TokenVerifier(self.keys.get, ISSUER, AUDIENCE, remember=3,
                                      clock=lambda: self.now)
        real_check = self.verifier._check

        def counted(token: str):  # noqa: ANN202
            self.checks += 1
            return real_check(token)
        self.verifier._check = counted


class _FrozenDatetime:
    """PyJWT's clock, held at the world's."""

    @staticmethod
    def now(tz=None):  # noqa: ANN001, ANN205
        from datetime import datetime
        return datetime.fromtimestamp(_FrozenDatetime.at, tz)

    at = float(NOW)


@pytest.fixture()
def world(monkeypatch) -> _World:
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    return _World()


def test_a_token_that_passed_is_not_checked_again(world):
    private, jwk = _key("k1")
    world.keys["k1"] = jwk
    token = _token(private, "k1")
    first = world.verifier.verify(token)
    assert world.verifier.verify(token) == first and first.user_id == "u1"
    assert world.checks == 1


def test_a_remembered_token_is_refused_once_its_key_is_retired_or_replaced(world):
    private, jwk = _key("k1")
    world.keys["k1"] = jwk
    token = _token(private, "k1")
    world.verifier.verify(token)
    del world.keys["k1"]  # retired: the lookup answers None
    with pytest.raises(Problem) as refused:
        world.verifier.verify(token)
    assert refused.value.status == 401 and "unknown key" in refused.value.detail
    world.keys["k1"] = _key("k1")[1]  # another key under the same kid
    with pytest.raises(Problem):
        world.verifier.verify(token)
    assert world.checks == 3


def test_a_remembered_token_is_refused_once_it_expires(world):
    private, jwk = _key("k1")
    world.keys["k1"] = jwk
    token = _token(private, "k1", exp=NOW + 60)
    world.verifier.verify(token)
    world.now = _FrozenDatetime.at = NOW + 61
    try:
        with pytest.raises(Problem) as refused:
            world.verifier.verify(token)
    finally:
        _FrozenDatetime.at = float(NOW)
    assert "expired" in refused.value.detail


def test_refusals_are_not_remembered_and_the_memory_is_bounded(world):
    private, jwk = _key("k1")
    world.keys["k1"] = jwk
    forged = _token(_key("k1")[0], "k1")  # signed by another key with the same kid
    for _ in range(2):
        with pytest.raises(Problem):
            world.verifier.verify(forged)
    assert world.checks == 2 and world.verifier._passed == {}
    tokens = [_token(private, "k1", sub=f"u{n}") for n in range(5)]
    for token in tokens:
        world.verifier.verify(token)
    assert list(world.verifier._passed) == tokens[2:]  # the oldest forgotten first


def test_the_event_loop_is_answered_only_what_is_known_without_loading_a_key(world):
    """`remembered` (asked on the event loop, where nothing may block) answers a token that
    passed only while its key's cache entry is fresh; else None, and `verify` (in a worker
    thread) loads the key and decides."""
    private, jwk = _key("k1")
    loads = []
    cache = KeyCache(lambda kid: loads.append(kid) or world.keys.get(kid), ttl_s=5,
                     clock=lambda: world.now)
    verifier = TokenVerifier(cache, ISSUER, AUDIENCE, clock=lambda: world.now)
    world.keys["k1"] = jwk
    token = _token(private, "k1", exp=NOW + 60)
    assert verifier.remembered(token) is None  # never checked: only `verify` may
    principal = verifier.verify(token)
    assert verifier.remembered(token) == principal and loads == ["k1"]
    world.now += 5  # the key's entry is stale: only a load may say the key still stands
    assert verifier.remembered(token) is None and loads == ["k1"]
    del world.keys["k1"]  # retired meanwhile
    with pytest.raises(Problem):
        verifier.verify(token)
    assert verifier.remembered(token) is None
    world.keys["k1"] = jwk
    world.now = NOW + 58
    verifier.verify(token)
    world.now = NOW + 61  # past exp, though the key's entry is fresh
    assert cache.peek("k1") == jwk and verifier.remembered(token) is None
    # a lookup that cannot answer from memory leaves every token to `verify`
    plain = TokenVerifier(world.keys.get, ISSUER, AUDIENCE, clock=lambda: float(NOW))
    plain.verify(token)
    assert plain.remembered(token) is None


def test_a_stale_key_is_reloaded_once_while_the_others_go_on_with_it(world):
    """When a key's entry goes stale, one caller reloads it; the callers meanwhile, in threads
    and on the event loop, are answered the key as last loaded, for at most the reload grace.
    Before, each of them queried the database (and left the event loop for a thread)."""
    private, jwk = _key("k1")
    world.keys["k1"] = jwk
    loading, release, loads = threading.Event(), threading.Event(), []

    def load(kid: str) -> dict | None:
        loads.append(kid)
        if len(loads) > 1:  # the reload: held until the test lets it land
            loading.set()
            release.wait(5)
        return world.keys.get(kid)

    cache = KeyCache(load, ttl_s=5, clock=lambda: world.now)
    verifier = TokenVerifier(cache, ISSUER, AUDIENCE, clock=lambda: world.now)
    token = _token(private, "k1", exp=NOW + 60)
    principal = verifier.verify(token)
    world.now += 5  # stale
    reloader = threading.Thread(target=cache, args=("k1",))
    reloader.start()
    assert loading.wait(5)
    try:
        assert [cache("k1") for _ in range(20)] == [jwk] * 20  # no load of their own
        assert verifier.remembered(token) == principal  # the event loop answers it too
        assert verifier.verify(token) == principal
        assert loads == ["k1", "k1"]
        world.now += RELOAD_GRACE_S  # a reload that hangs holds nobody back any longer
        assert cache.peek("k1") is None and verifier.remembered(token) is None
        assert cache("k1") == jwk and len(loads) == 3
    finally:
        release.set()
        reloader.join()


def test_a_key_retired_during_its_reload_is_refused_once_the_reload_lands(world):
    private, jwk = _key("k1")
    world.keys["k1"] = jwk
    cache = KeyCache(world.keys.get, ttl_s=5, clock=lambda: world.now)
    verifier = TokenVerifier(cache, ISSUER, AUDIENCE, clock=lambda: world.now)
    token = _token(private, "k1", exp=NOW + 60)
    verifier.verify(token)
    del world.keys["k1"]  # retired
    world.now += 5
    assert cache("k1") is None and cache.peek("k1") is None
    assert verifier.remembered(token) is None
    with pytest.raises(Problem):
        verifier.verify(token)
