"""The gateway: one port in front of every service (security hardening lands in its own issue)."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from tanhui_shared.logs import configure_logging
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.web.problems import install_problem_handlers, problem_response
from tanhui_shared.web.request_id import RequestIdMiddleware

from .proxy import forward
from .routes import match
from .settings import GatewaySettings, get_settings

CONSOLE_DIR = REPO_ROOT / "console"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("gateway", settings.log_level)
    services = settings.service_urls()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=200)) as client:
            app.state.client = client
            yield

    app = FastAPI(title="tanhui gateway", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequestIdMiddleware)
    install_problem_handlers(app)

    async def probe(name: str, path: str) -> tuple[str, str]:
        try:
            reply = await app.state.client.get(services[name] + path, timeout=2.0)
            return name, "ok" if reply.status_code == 200 else f"http {reply.status_code}"
        except httpx.HTTPError as exc:
            return name, f"unreachable ({exc.__class__.__name__})"

    async def probe_all(path: str) -> JSONResponse:
        results = dict(await asyncio.gather(*(probe(name, path) for name in services)))
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "services": results},
                            status_code=200 if ok else 503)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> JSONResponse:
        """The gateway is live; each service's own liveness is reported beside it."""
        response = await probe_all("/healthz")
        response.status_code = 200
        return response

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        return await probe_all("/readyz")

    # The web console: static files from console/ (same origin as the API), served before the
    # catch-all proxy route below.
    if CONSOLE_DIR.is_dir():
        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")

        @app.get("/", include_in_schema=False)
        async def home() -> RedirectResponse:
            return RedirectResponse("/console/")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def route(request: Request, path: str):
        target = match(request.url.path)
        if target is None:
            return problem_response(404, f"no route for {request.url.path}", instance=request.url.path)
        return await forward(app.state.client, services[target.service], target.service, request)

    return app
