"""The gateway: one port in front of every service.

Layers, outermost first: request id -> trace span -> access log and metrics -> security headers -> body
deadline -> CORS (the console's origin only) -> header-size limit -> either the proxy path
(gateway.py, for /api/ and /.well-known/) or the gateway's own endpoints (health, metrics
behind a token, the merged OpenAPI and its docs, the console). Request heads are timed by the
HTTP protocol class `python -m tanhui_gateway` gives uvicorn (slowclients.py).
"""
from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from importlib.resources import files

import httpx
import redis.asyncio as redis
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tanhui_shared.logs import configure_logging
from tanhui_shared.tracing import NO_FASTAPI_TELEMETRY, configure_tracing
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.web.problem_types import PROBLEM_TYPES, catalogue
from tanhui_shared.web.problems import install_problem_handlers, problem_response
from tanhui_shared.web.request_id import RequestIdMiddleware

from .gateway import Gateway
from .observability import (SCOPE_KEY, UNMATCHED, Exposition, Metrics, ObserveRequests,
                            buffer_access_log)
from .openapi import MergedOpenApi
from .ratelimit import RateLimiter
from .security_headers import SecurityHeaders, docs_csp
from .settings import GatewaySettings, get_settings
from .slowclients import BodyDeadline
from .tokens import KeySet
from .tracing import TraceRequests
from .upstream import Upstream

CONSOLE_DIR = REPO_ROOT / "console"
PROXIED_PREFIXES = ("/api/", "/.well-known/")
EXPOSED_HEADERS = ["X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                   "RateLimit-Reset", "WWW-Authenticate"]
# The gateway's own paths, as metrics labels; any other path is `unmatched` (one series, not one
# per path a client makes up).
OWN_ROUTES = frozenset({"/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs",
                        "/problems"})
# Swagger UI's two files, from the swagger-ui-dist build that the fastapi-offline wheel ships
# (pinned in gateway/pyproject.toml), so /docs works with no internet access.
SWAGGER_DIR = files("fastapi_offline") / "static"
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
               "swagger-ui.css": "text/css; charset=utf-8"}
DOCS_PREFIX = "/docs/assets/"
# Cache lifetimes (platform assumptions, not from a standard): Swagger UI's files change only with
# the pinned wheel, so a day; the catalogue changes only with a deploy, so 5 minutes of staleness.
ASSET_CACHE = "public, max-age=86400"
CATALOGUE_CACHE = "public, max-age=300"


def own_route_label(path: str) -> str:
    if path == "/console" or path.startswith("/console/"):
        return "/console/*"
    if path.startswith("/problems/"):
        return "/problems/*"
    if path.startswith(DOCS_PREFIX):
        return DOCS_PREFIX + "*"
    return path if path in OWN_ROUTES else UNMATCHED


def swagger_page() -> str:
    # every file from this origin: Swagger UI's from DOCS_PREFIX, no favicon from
    # fastapi.tiangolo.com, no validator.swagger.io badge
    return get_swagger_ui_html(openapi_url="/openapi.json", title="tanhui API",
                               swagger_js_url=DOCS_PREFIX + "swagger-ui-bundle.js",
                               swagger_css_url=DOCS_PREFIX + "swagger-ui.css",
                               swagger_favicon_url="data:,",
                               swagger_ui_parameters={"validatorUrl": None}).body.decode()


class Dispatch:
    """API paths go to the proxy; everything else (and lifespan) to the gateway's own app."""

    def __init__(self, own: FastAPI, state: dict) -> None:
        self.own = own
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROXIED_PREFIXES):
            await self.state["gateway"](scope, receive, send)
            return
        if scope["type"] == "http":
            facts = scope.get(SCOPE_KEY, {})
            facts["route"] = own_route_label(scope["path"])
        await self.own(scope, receive, send)


class HeaderLimit:
    """431 when the request's headers together pass `max_bytes` (uvicorn refuses beyond 16 KiB)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
            if size > self.max_bytes:
                response = problem_response(431, f"request headers total {size} bytes; the limit "
                                            f"is {self.max_bytes}", instance=scope["path"])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> ASGIApp:
    settings = settings or get_settings()
    configure_logging("gateway", settings.log_level)
    buffer_access_log()
    configure_tracing("gateway")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    services = settings.service_urls()
    metrics = Metrics()
    exposition = Exposition(metrics.registry, settings.metrics_token)
    docs_html = swagger_page()
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
        limits = httpx.Limits(max_connections=settings.upstream_max_connections,
                              max_keepalive_connections=settings.upstream_max_connections)
        store = redis.Redis.from_url(settings.redis_url, socket_timeout=settings.redis_timeout_s,
                                     socket_connect_timeout=settings.redis_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

            async def fetch_jwks() -> dict:
                reply = await client.get(services["accounts"] + "/.well-known/jwks.json", timeout=3.0)
                reply.raise_for_status()
                return reply.json()

            keys = KeySet(fetch_jwks, settings.jwks_min_refresh_s, settings.jwks_max_age_s)
            limiter = RateLimiter(store, settings.rate_limit_prefix, settings.rate_limit_window_s,
                                  settings.rate_limits(), settings.rate_limit_fail_open_reads,
                                  settings.rate_limit_fail_open_writes,
                                  settings.redis_retry_after_failure_s, settings.rate_windows())
            upstreams = {name: Upstream(url, settings.upstream_connect_timeout_s,
                                        settings.upstream_timeout_s,
                                        max_idle=settings.upstream_max_connections)
                         for name, url in services.items()}
            state.update(client=client, limiter=limiter, keys=keys,
                         gateway=Gateway(settings, upstreams, keys, limiter, metrics),
                         openapi=MergedOpenApi(client, services, settings.openapi_cache_s))
            await keys.ensure("")  # best effort: accounts may still be starting
            # What start-up made lives as long as the process: out of the collector's passes, so
            # a full collection under load walks only what requests made (as accounts does).
            gc.collect()
            gc.freeze()
            scrape = (exposition.serve(settings.gateway_metrics_host, settings.gateway_metrics_port)
                      if settings.gateway_metrics_port is not None else None)
            try:
                yield
            finally:
                if scrape is not None:
                    scrape.shutdown()
                    scrape.server_close()
                await limiter.close()
                await store.aclose()
                for upstream in upstreams.values():
                    await upstream.close()

    own = FastAPI(title="tanhui gateway", version="0.1.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  telemetry=NO_FASTAPI_TELEMETRY)  # TraceRequests spans every path already
    install_problem_handlers(own)

    async def probe(name: str, path: str) -> tuple[str, str]:
        try:
            reply = await state["client"].get(services[name] + path, timeout=2.0)
            return name, "ok" if reply.status_code == 200 else f"http {reply.status_code}"
        except httpx.HTTPError as exc:
            return name, f"unreachable ({exc.__class__.__name__})"

    async def probe_services(path: str) -> dict[str, str]:
        return dict(await asyncio.gather(*(probe(name, path) for name in services)))

    @own.get("/healthz", tags=["health"])
    async def healthz() -> JSONResponse:
        """The gateway is live (always 200); each service's own liveness is reported beside it."""
        return JSONResponse({"status": "ok", "services": await probe_services("/healthz")})

    @own.get("/readyz", tags=["health"])
    async def readyz(deep: bool = False) -> JSONResponse:
        """Ready when this gateway can serve: started, and accounts' signing keys loaded (before
        that every token would get a false 401). Not its dependencies: every gateway shares them,
        so a service or Redis down would pull all gateways out at once, turning a partial outage
        (the other services; reads, which pass while Redis is away) into a total one.
        `?deep=true`: also every service's readiness and Redis, 503 unless all answer (for
        `make up`, tests and operators, not for an orchestrator's probe)."""
        await state["keys"].ensure("")  # loaded once, kept through accounts' later outages
        results = {"jwks": "ok" if state["keys"].keys else "not loaded"}
        if deep:
            results |= await probe_services("/readyz")
            results["redis"] = "ok" if await state["limiter"].ping() else "unreachable"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "checks": results},
                            status_code=200 if ok else 503)

    if settings.metrics_token:
        @own.get("/metrics", include_in_schema=False)
        async def prometheus(request: Request) -> Response:
            if not exposition.authorized(request.headers.get("authorization")):
                return problem_response(401, "/metrics needs the metrics bearer token",
                                        code="metrics-token-required",
                                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                                        instance="/metrics")
            return Response(await exposition.render(), media_type=CONTENT_TYPE_LATEST)

    @own.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(await state["openapi"].document())

    @own.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_html)

    @own.get(DOCS_PREFIX + "{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:  # only the two named files, never a path into the package
            return problem_response(404, f"no docs asset {name}", code="no-route",
                                    instance=DOCS_PREFIX + name)
        return FileResponse(str(SWAGGER_DIR / name), media_type=DOCS_ASSETS[name],
                            headers={"Cache-Control": ASSET_CACHE})

    # The catalogue of problem types: what a problem document's `type` resolves to (public,
    # static: no token, no rate limit, cacheable). Documented in the merged OpenAPI.
    @own.get("/problems", include_in_schema=False)
    async def problem_types() -> JSONResponse:
        return JSONResponse(catalogue(), headers={"Cache-Control": CATALOGUE_CACHE})

    @own.get("/problems/{code}", include_in_schema=False)
    async def problem_type(code: str) -> JSONResponse:
        if code not in PROBLEM_TYPES:
            return problem_response(404, f"no problem type {code!r}; GET /problems lists them",
                                    code="unknown-problem-type", field="code",
                                    instance=f"/problems/{code}")
        return JSONResponse(PROBLEM_TYPES[code].as_json(), headers={"Cache-Control": CATALOGUE_CACHE})

    # The web console: static files from console/ (same origin as the API).
    if CONSOLE_DIR.is_dir():
        own.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")

        @own.get("/", include_in_schema=False)
        async def home() -> RedirectResponse:
            return RedirectResponse("/console/")

    app: ASGIApp = HeaderLimit(Dispatch(own, state), settings.max_header_bytes)
    app = CORSMiddleware(app, allow_origins=[settings.console_origin],
                         allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                         allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                                        "X-Request-ID"],
                         expose_headers=EXPOSED_HEADERS, max_age=600)
    app = BodyDeadline(app, settings.body_timeout_s, settings.body_min_rate)
    app = SecurityHeaders(app, docs_csp(docs_html))
    app = ObserveRequests(app, metrics)
    # the span around the access log, so its line carries the trace id
    app = TraceRequests(app)
    return RequestIdMiddleware(app)
