"""Token checks: only RS256 from accounts' keys, with iss, aud, exp and nbf; the key set refreshes
on an unknown kid, but not more often than its minimum interval."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tanhui_gateway.tokens import (InvalidToken, KeySet, VerifiedTokens, bearer_token, parse_jwks,
                                   verify)
from tanhui_shared.testing.coroutines import run_coroutine

ISS, AUD = "tanhui-accounts", "tanhui"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {"k1": KEY.public_key()}


def token(key=KEY, kid="k1", alg="RS256", **overrides) -> str:
    now = int(time.time())
    claims = {"sub": "u1", "role": "citizen", "preferred_username": "alice", "iss": ISS, "aud": AUD,
              "iat": now, "nbf": now, "exp": now + 600, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg,
                      headers={"kid": kid})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs256_with_public_key(key) -> str:
    """The RS/HS confusion attack: HMAC-signed with the public key's PEM as the secret (PyJWT
    refuses to make one, so it is assembled by hand)."""
    secret = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    signing_input = b64({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + "." + b64(
        {"sub": "u1", "role": "admin", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600})
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def test_a_good_token_names_the_caller():
    caller = verify(token(), KEYS, ISS, AUD)
    assert (caller.sub, caller.role, caller.username) == ("u1", "citizen", "alice")


@pytest.mark.parametrize("bad", [
    pytest.param(lambda: token(exp=int(time.time()) - 60), id="expired"),
    pytest.param(lambda: token(nbf=int(time.time()) + 600), id="not-yet-valid"),
    pytest.param(lambda: token(aud="another-api"), id="wrong-audience"),
    pytest.param(lambda: token(iss="someone-else"), id="wrong-issuer"),
    pytest.param(lambda: token(exp=None), id="no-exp"),
    pytest.param(lambda: token(key=OTHER), id="signed-by-another-key"),
    pytest.param(lambda: token(kid="unknown"), id="unknown-kid"),
    pytest.param(lambda: token()[:-6] + "AAAAAA", id="tampered-signature"),
    pytest.param(lambda: ".".join([token().split(".")[0], b64({"sub": "admin", "role": "admin", "iss": ISS,
                                   "aud": AUD, "iat": 1, "exp": 2**31}), token().split(".")[2]]),
                 id="tampered-claims"),
    pytest.param(lambda: b64({"alg": "none", "kid": "k1"}) + "." + b64({"sub": "u1", "iss": ISS, "aud": AUD,
                 "iat": 1, "exp": 2**31}) + ".", id="alg-none"),
    pytest.param(lambda: hs256_with_public_key(KEY), id="hs256-with-public-key"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
])
def test_refused_tokens(bad):
    with pytest.raises(InvalidToken):
        verify(bad(), KEYS, ISS, AUD)
    remembering = VerifiedTokens(ISS, AUD)
    for _ in range(2):  # a refusal is not remembered: refused again, and by the same checks
        with pytest.raises(InvalidToken):
            remembering.verify(bad(), KEYS)
    assert not remembering._passed


def test_a_remembered_token_is_refused_once_it_expires():
    now = [time.time()]
    tokens = VerifiedTokens(ISS, AUD, leeway_s=5, clock=lambda: now[0])
    good = token(exp=int(now[0]) + 60)
    assert tokens.verify(good, KEYS).sub == "u1"
    now[0] += 60 + 4  # inside the leeway: still good
    assert tokens.verify(good, KEYS).sub == "u1"
    now[0] += 2
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(good, KEYS)


def test_a_remembered_token_is_refused_once_its_key_is_retired_or_replaced():
    tokens = VerifiedTokens(ISS, AUD)
    good = token()
    assert tokens.verify(good, KEYS).sub == "u1"
    with pytest.raises(InvalidToken, match="unknown key"):
        tokens.verify(good, {})  # the kid retired from the key set
    assert tokens.verify(good, KEYS).sub == "u1"
    with pytest.raises(InvalidToken):
        tokens.verify(good, {"k1": OTHER.public_key()})  # same kid, another key


def test_remembered_tokens_are_bounded():
    tokens = VerifiedTokens(ISS, AUD, size=3)
    for n in range(5):
        tokens.verify(token(sub=f"u{n}"), KEYS)
    assert len(tokens._passed) == 3


def test_only_bearer_authorization_is_read():
    assert bearer_token(None) is None
    assert bearer_token("Bearer abc") == "abc"
    for header in ("Basic dXNlcjpwdw==", "Bearer ", "abc"):
        with pytest.raises(InvalidToken):
            bearer_token(header)


def _jwks(*pairs) -> dict:
    return {"keys": [{**json.loads(RSAAlgorithm.to_jwk(k.public_key())), "kid": kid, "use": "sig",
                      "alg": "RS256"} for kid, k in pairs]}


def test_an_unknown_kid_refreshes_the_key_set_at_most_once_per_interval():
    now = [1000.0]
    published = [("k1", KEY)]

    async def fetch():
        return _jwks(*published)

    async def scenario():
        keys = KeySet(fetch, min_refresh_s=10, max_age_s=300, clock=lambda: now[0])
        await keys.ensure("k1")
        assert set(keys.keys) == {"k1"} and keys.fetches == 1
        for _ in range(50):                      # an attacker's made-up kids
            await keys.ensure("made-up")
        assert keys.fetches == 1
        published.append(("k2", OTHER))          # accounts rotates its key
        now[0] += 11
        await keys.ensure("k2")
        assert set(keys.keys) == {"k1", "k2"} and keys.fetches == 2
        await keys.ensure("k1")                  # known and fresh: no fetch
        assert keys.fetches == 2
        now[0] += 301                            # old: refetched even for a known kid
        await keys.ensure("k1")
        assert keys.fetches == 3

    run_coroutine(scenario())


def test_a_failed_fetch_is_retried_after_a_short_pause_not_the_whole_interval():
    now = [0.0]
    answers = [OSError("accounts still starting"), _jwks(("k1", KEY))]

    async def fetch():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def scenario():
        keys = KeySet(fetch, min_refresh_s=10, max_age_s=300, clock=lambda: now[0], retry_failed_s=1)
        await keys.ensure("k1")
        assert not keys.keys
        now[0] += 0.5
        await keys.ensure("k1")
        assert not keys.keys and len(answers) == 1   # still pausing
        now[0] += 0.6
        await keys.ensure("k1")
        assert set(keys.keys) == {"k1"}

    run_coroutine(scenario())


def test_a_failed_fetch_keeps_the_known_keys():
    calls = []

    async def failing():
        calls.append(1)
        raise OSError("accounts restarting")

    async def scenario():
        keys = KeySet(failing, min_refresh_s=0, max_age_s=300)
        keys.keys = parse_jwks(_jwks(("k1", KEY)))
        await keys.ensure("k2")
        assert set(keys.keys) == {"k1"} and calls

    run_coroutine(scenario())


def test_non_signing_or_non_rsa_keys_are_ignored():
    document = _jwks(("k1", KEY))
    document["keys"].append({**document["keys"][0], "kid": "enc", "use": "enc"})
    document["keys"].append({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"})
    assert set(parse_jwks(document)) == {"k1"}
