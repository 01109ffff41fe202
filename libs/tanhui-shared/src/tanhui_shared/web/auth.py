"""Bearer-token verification, done again by every service (the gateway's check is not trusted alone)."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel

from .problems import Problem

KeyLookup = Callable[[str], dict[str, Any] | None]  # kid -> public JWK, or None if unknown


class Principal(BaseModel):
    user_id: str
    username: str
    role: str


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                   code="invalid-token")


class TokenVerifier:
    """Checks bearer tokens, remembering those that passed (at most `remember` of them): a caller's
    next requests with the same token skip PyJWT's parsing and the RSA check. A remembered token
    is accepted again only while its kid's lookup still answers the very JWK that verified it
    (a retired or replaced key re-checks, and refuses, every token it signed) and only before its
    `exp`; issuer and audience are fixed per verifier. Refusals are never remembered."""

    def __init__(self, lookup_key: KeyLookup, issuer: str, audience: str, remember: int = 1024,
                 clock: Callable[[], float] = time.time) -> None:
        self.lookup_key = lookup_key
        self.issuer = issuer
        self.audience = audience
        # kid -> (its JWK, the parsed key): parsing a JWK into an RSA key took longer than
        # checking the signature; a key is parsed again only when its lookup answers another JWK
        self._parsed: dict[str, tuple[dict, Any]] = {}
        self.remember = remember
        self._clock = clock
        # token -> (principal, kid, JWK, exp), oldest first; written under the lock (request
        # threads share it), read without
        self._passed: dict[str, tuple[Principal, str, dict, int]] = {}
        self._lock = threading.Lock()
        # the lookup's answer when it has one without loading it (KeyCache.peek), else None
        self._peek: KeyLookup | None = getattr(lookup_key, "peek", None)

    def remembered(self, token: str) -> Principal | None:
        """The principal of a remembered token if that is known without loading anything (its
        key's lookup answers from memory, the same JWK, and it has not expired); else None, and
        `verify` decides. Never blocks: the request's event loop asks it."""
        known = self._passed.get(token)
        if known is None or self._peek is None:
            return None
        principal, kid, jwk, expires = known
        if expires > self._clock() and self._peek(kid) == jwk:
            return principal
        return None

    def verify(self, token: str) -> Principal:
        known = self._passed.get(token)
        if known is not None:
            principal, kid, jwk, expires = known
            if expires > self._clock() and self.lookup_key(kid) == jwk:
                return principal
            with self._lock:
                self._passed.pop(token, None)  # checked again below: refused, or remembered anew
        principal, kid, jwk, expires = self._check(token)
        with self._lock:
            if len(self._passed) >= self.remember:
                self._passed.pop(next(iter(self._passed)))
            self._passed[token] = (principal, kid, jwk, expires)
        return principal

    def _check(self, token: str) -> tuple[Principal, str, dict, int]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"malformed token: {exc}") from exc
        # Only RS256: refuses alg=none and HS256-signed-with-the-public-key confusion outright.
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise _unauthorized("token must be RS256-signed with a kid")
        jwk = self.lookup_key(header["kid"])
        if jwk is None:
            raise _unauthorized("token signed by an unknown key")
        parsed = self._parsed.get(header["kid"])
        if parsed is None or parsed[0] != jwk:
            parsed = self._parsed[header["kid"]] = (jwk, RSAAlgorithm.from_jwk(json.dumps(jwk)))
        try:
            claims = jwt.decode(
                token,
                parsed[1],
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"invalid token: {exc}") from exc
        principal = Principal(user_id=claims["sub"],
                              username=claims.get("preferred_username", ""),
                              role=claims.get("role", ""))
        return principal, header["kid"], jwk, int(claims["exp"])


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"},
                      code="token-required")
    return await verified(request, credentials.credentials)


async def verified(request: Request, token: str) -> Principal:
    """The principal of `token` (a 401 Problem if it fails), for async dependencies: a token
    seen before is answered on the event loop, where a sync dependency cost a worker-thread hop
    per request. A new token (the RSA check) or a key to load (a database query) goes to a
    worker thread."""
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.remembered(token)
    if principal is None:
        # anyio's pool, not web/worker_threads' lean hop: with the lean hop here, single trips
        # through the gateway had a p99 of 58-105 ms at half the max rate (14-21 ms with
        # anyio's; bench/trip_ingestion.py, same run, 6 runs)
        principal = await run_in_threadpool(verifier.verify, token)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    # async: a comparison needs no worker thread (a sync dependency costs a thread hop each)
    async def _check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Problem(403, f"this action needs one of the roles: {', '.join(roles)}",
                          code="role-required")
        return principal

    return _check
