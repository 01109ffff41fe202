"""Bearer tokens: RS256 JWTs from accounts, checked against its JWKS.

The key set is cached; an unknown kid refetches it, but never more often than
`jwks_min_refresh_s`, so a stream of tokens with made-up kids cannot make us hammer accounts.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]


class InvalidToken(Exception):
    """The request carries a token we refuse: 401 with WWW-Authenticate."""


@dataclass(frozen=True)
class Caller:
    sub: str
    role: str
    username: str


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header; InvalidToken for any other scheme."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be `Bearer <token>`")
    return token.strip()


def verify(token: str, keys: Mapping[str, RSAPublicKey], issuer: str, audience: str,
           leeway_s: int = 0) -> Caller:
    """Signature, exp, nbf, iss and aud; anything but RS256 with a known kid is refused first,
    which rules out alg=none and HS256 signed with the public key as the secret."""
    return _checked(token, keys, issuer, audience, leeway_s)[0]


def _checked(token: str, keys: Mapping[str, RSAPublicKey], issuer: str, audience: str,
             leeway_s: int) -> tuple[Caller, str, RSAPublicKey, dict[str, Any]]:
    """verify()'s work: the caller, the kid and key that verified the token, and its claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed token: {exc}") from exc
    if header.get("alg") != "RS256":
        raise InvalidToken("token must be RS256-signed")
    kid = header.get("kid") or ""
    key = keys.get(kid)
    if key is None:
        raise InvalidToken("token signed by an unknown key")
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer,
                            leeway=leeway_s, options={"require": REQUIRED_CLAIMS})
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc
    caller = Caller(sub=str(claims["sub"]), role=str(claims.get("role", "")),
                    username=str(claims.get("preferred_username", "")))
    return caller, kid, key, claims


class VerifiedTokens:
    """verify(), remembering the tokens that passed: a caller's next requests with the same token
    skip PyJWT's parsing (it checks base64 a character at a time) and the RSA signature, about a
    tenth of the gateway's CPU per request (bench/results/gateway_proxy.md). A remembered token
    is accepted only while the very key object that verified it is still the key set's for its
    kid (a refreshed or retired key set re-verifies every token) and only within its own exp and
    nbf/iat, with the leeway; issuer and audience are this gateway's, fixed. Failures are never
    remembered. At most `size` tokens, the oldest forgotten first."""

    def __init__(self, issuer: str, audience: str, leeway_s: int = 0, size: int = 4096,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuer, self.audience, self.leeway_s = issuer, audience, leeway_s
        self.size = size
        self._clock = clock
        # token -> (caller, kid, key, not before, expires), in insertion order
        self._passed: dict[str, tuple[Caller, str, RSAPublicKey, int, int]] = {}

    def kid(self, token: str) -> str | None:
        """The kid of a remembered token without parsing it; else unverified_kid()."""
        known = self._passed.get(token)
        return known[1] if known is not None else unverified_kid(token)

    def verify(self, token: str, keys: Mapping[str, RSAPublicKey]) -> Caller:
        known = self._passed.get(token)
        if known is not None:
            caller, kid, key, not_before, expires = known
            now = self._clock()
            if now - self.leeway_s >= expires:  # PyJWT's words for it
                del self._passed[token]
                raise InvalidToken("invalid token: Signature has expired")
            if keys.get(kid) is key and not_before <= now + self.leeway_s:
                return caller
            del self._passed[token]  # checked again below, and refused or remembered anew
        caller, kid, key, claims = _checked(token, keys, self.issuer, self.audience,
                                            self.leeway_s)
        if len(self._passed) >= self.size:
            del self._passed[next(iter(self._passed))]
        not_before = max(int(claims["iat"]), int(claims.get("nbf", claims["iat"])))
        self._passed[token] = (caller, kid, key, not_before, int(claims["exp"]))
        return caller


def unverified_kid(token: str) -> str | None:
    try:
        return jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None


FetchJwks = Callable[[], Awaitable[dict[str, Any]]]


class KeySet:
    """accounts' public keys by kid, refreshed on an unknown kid at most once per interval."""

    def __init__(self, fetch: FetchJwks, min_refresh_s: float, max_age_s: float,
                 clock: Callable[[], float] = time.monotonic, retry_failed_s: float = 1.0) -> None:
        self._fetch = fetch
        self.retry_failed_s = retry_failed_s
        self.min_refresh_s = min_refresh_s
        self.max_age_s = max_age_s
        self._clock = clock
        self.keys: dict[str, RSAPublicKey] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def ensure(self, kid: str | None) -> None:
        """Make `kid` known if accounts knows it (or the cache is old), within the refresh budget."""
        stale = self._clock() - self._fetched_at > self.max_age_s
        if kid is None or (kid in self.keys and not stale):
            return
        async with self._lock:
            now = self._clock()
            if (kid in self.keys and now - self._fetched_at <= self.max_age_s) \
                    or now - self._attempted_at < self.min_refresh_s:
                return
            self._attempted_at = now
            try:
                document = await self._fetch()
                self.fetches += 1
                self.keys = parse_jwks(document)
                self._fetched_at = now
            except Exception as exc:  # noqa: BLE001 - keep the old keys; accounts may be restarting
                log.warning("fetching accounts' JWKS failed: %s", exc.__class__.__name__)
                # A failed fetch (accounts still starting) may be retried after a short pause,
                # not only after the full interval.
                self._attempted_at = now - self.min_refresh_s + min(self.retry_failed_s,
                                                                    self.min_refresh_s)


def parse_jwks(document: dict[str, Any]) -> dict[str, RSAPublicKey]:
    keys: dict[str, RSAPublicKey] = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") != "RSA" or not jwk.get("kid") or jwk.get("use", "sig") != "sig":
            continue
        key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        if isinstance(key, RSAPublicKey):
            keys[jwk["kid"]] = key
    return keys
