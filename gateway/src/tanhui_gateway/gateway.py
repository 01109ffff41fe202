"""The proxy path, as a plain ASGI app: route -> token -> role -> size -> rate limit -> service.

Each refusal is an application/problem+json answer carrying the request id; only requests that
pass every check reach a service.
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from opentelemetry.trace import StatusCode
from starlette.types import Receive, Scope, Send

from tanhui_shared.tracing import traceparent_of
from tanhui_shared.web.problems import problem_response

from .login import UnreadableLogin, bucket, login_names
from .observability import SCOPE_KEY, Metrics
from .proxy import (BodyTooLarge, ClientGone, client_address, current_request_id, forward,
                    read_body, upstream_headers)
from .ratelimit import LimiterUnavailable, RateLimiter, Verdict
from .routes import match
from .settings import GatewaySettings
from .slowclients import BodyTimeout
from .tokens import Caller, InvalidToken, KeySet, VerifiedTokens, bearer_token
from .tracing import call_span
from .upstream import Upstream, UpstreamError

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
log = logging.getLogger(__name__)


def _raw_path(scope: Scope) -> str:
    """The path exactly as the client encoded it: decoding it could smuggle CR/LF or `/`."""
    raw = scope.get("raw_path")
    return raw.decode("ascii", "replace") if raw else quote(scope["path"])


def _request_headers(raw: list[tuple[bytes, bytes]]
                     ) -> tuple[str | None, str | None, list[str], bool]:
    """(Authorization, Content-Length: each the first sent, X-Forwarded-For values, whether a
    Transfer-Encoding was sent), in one pass: what starlette's Headers answered with a scan of
    the list per question (names arrive lower-cased; values are latin-1, as there)."""
    authorization = length = None
    forwarded_for: list[str] = []
    chunked = False
    for name, value in raw:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"content-length":
            if length is None:
                length = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"x-forwarded-for":
            forwarded_for.append(value.decode("latin-1"))
    return authorization, length, forwarded_for, chunked


class Refusal(Exception):
    """A refusal of the gateway's own; without a `code`, its status's (problem_types.BY_STATUS)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, *,
                 code: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.code = code


def _unauthorized(detail: str, error: str | None = "invalid_token") -> Refusal:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return Refusal(401, detail, {"WWW-Authenticate": challenge},
                   code="invalid-token" if error else "token-required")


class Gateway:
    def __init__(self, settings: GatewaySettings, upstreams: dict[str, Upstream], keys: KeySet,
                 limiter: RateLimiter, metrics: Metrics) -> None:
        self.settings = settings
        self.upstreams = upstreams
        self.keys = keys
        self.limiter = limiter
        self.metrics = metrics
        self.trusted = settings.trusted_networks()
        self.tokens = VerifiedTokens(settings.jwt_issuer, settings.jwt_audience,
                                     settings.jwt_leeway_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._handle(scope, receive)
        except Refusal as refusal:
            response = problem_response(refusal.status, refusal.detail, headers=refusal.headers,
                                        code=refusal.code, instance=scope["path"])
        except ClientGone:
            return
        except Exception:  # a gateway bug: still a problem document with the request id
            log.exception("unhandled error on the proxy path")
            response = problem_response(500, "Internal error; quote the request id when reporting it.",
                                        instance=scope["path"])
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive):
        facts = scope.setdefault(SCOPE_KEY, {})
        method, path = scope["method"], scope["path"]
        found = match(method, path)
        if found is None:
            raise Refusal(404, f"no route for {path}")
        if found.route is None:
            raise Refusal(405, f"{path} does not answer {method}", {"Allow": ", ".join(found.allowed)})
        route = found.route
        facts["route"] = route.label
        authorization, declared, forwarded_for, chunked = _request_headers(scope["headers"])
        client_ip = client_address(scope["client"][0] if scope.get("client") else None,
                                   forwarded_for, self.trusted)
        facts["client"] = client_ip

        caller = await self._caller(route.access, authorization)
        if caller is not None:
            facts["sub"] = caller.sub
        if route.roles and (caller is None or caller.role not in route.roles):
            raise Refusal(403, f"this action needs one of the roles: {', '.join(route.roles)}")

        limit = route.body_limit or self.settings.default_body_limit
        if declared is not None:
            if not declared.isdigit():
                raise Refusal(400, "Content-Length must be a non-negative integer",
                              code="bad-content-length")
            if int(declared) > limit:
                raise Refusal(413, f"the request body is over this route's limit of {limit} bytes")

        method_class = "read" if method in _READ_METHODS else "write"
        identity = f"user:{caller.sub}" if caller else f"ip:{client_ip}"
        verdict = await self._count(route.limit_class(method), identity, method_class)

        has_body = declared is not None or chunked
        try:
            body = await read_body(receive, limit) if has_body else None
        except BodyTooLarge:
            raise Refusal(413, f"the request body is over this route's limit of {limit} bytes",
                          verdict.headers()) from None
        except BodyTimeout as slow:  # BodyDeadline closes the connection after this answer
            raise Refusal(408, str(slow)) from None
        if route.login:
            # Guesses spread over many addresses still meet in the name they guess for.
            try:
                names = await login_names(scope["headers"], body or b"")
            except UnreadableLogin as exc:
                raise Refusal(400, str(exc), code="unreadable-login") from None
            for name in sorted(names):
                await self._count("login", bucket(name), method_class, "for this user name")
        upstream = self.upstreams[route.service]
        # The call to the service: a client span, child of the request's, whose context the
        # service continues (`traceparent`).
        span = call_span(method, route.label, upstream.host, upstream.port)
        forwarded = upstream_headers(scope["headers"], client_ip, current_request_id(),
                                     body is not None, len(body or b""), traceparent_of(span))
        query = scope.get("query_string", b"")
        target = _raw_path(scope) + ("?" + query.decode("latin-1") if query else "")
        try:
            response = await forward(upstream, method, target, forwarded, body, verdict.headers())
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response
        except UpstreamError as failure:
            span.set_attribute("error.type", failure.kind)
            span.set_status(StatusCode.ERROR)
            self.metrics.upstream_errors.labels(route.service, failure.kind).inc()
            if failure.status == 504:
                raise Refusal(504, f"the {route.service} service did not answer in time") from None
            raise Refusal(503, f"the {route.service} service is unavailable; retry shortly",
                          {"Retry-After": "2"}) from None
        finally:
            span.end()

    async def _count(self, rate_class: str, identity: str, method_class: str,
                     whose: str = "") -> Verdict:
        """One request counted in `rate_class` for `identity`; a Refusal when over the limit or
        when Redis cannot be asked and this method class fails closed."""
        try:
            verdict = await self.limiter.hit(rate_class, identity, method_class)
        except LimiterUnavailable:
            self.metrics.limiter_unavailable.labels("closed").inc()
            raise Refusal(503, "rate limiting is unavailable, so writes are refused; retry shortly",
                          {"Retry-After": "2"}, code="rate-limit-unavailable") from None
        if not verdict.counted:
            self.metrics.limiter_unavailable.labels("open").inc()
        if not verdict.allowed:
            self.metrics.rate_limited.labels(rate_class).inc()
            window = self.limiter.window_s(rate_class)
            raise Refusal(429, f"rate limit of {verdict.limit} {rate_class} requests per "
                               f"{window}s reached" + (f" {whose}" if whose else ""),
                          verdict.headers())
        return verdict

    async def _caller(self, access: str, authorization: str | None) -> Caller | None:
        if access == "public":
            return None  # the service answers anyone; a token sent along is passed untouched
        try:
            token = bearer_token(authorization)
        except InvalidToken as exc:
            raise _unauthorized(str(exc)) from None
        if token is None:
            if access == "token":
                raise _unauthorized("a bearer token is required", error=None)
            return None
        await self.keys.ensure(self.tokens.kid(token))
        try:
            return self.tokens.verify(token, self.keys.keys)
        except InvalidToken as exc:
            raise _unauthorized(str(exc)) from None
