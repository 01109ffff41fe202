"""verification: forestry carbon-sink projects, their review, monitoring and verification."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tanhui_shared.service import create_service_app
from tanhui_shared.web.problems import problem_response
from tanhui_shared.web.trusted_keys import TrustedKeyCache

from .api import monitoring, projects
from .domain.lifecycle import IllegalTransition
from .domain.rules import RuleViolation
from .settings import VerificationSettings, get_settings


def create_app(settings: VerificationSettings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        [projects.router, monitoring.router],
        key_lookup=TrustedKeyCache,
        description="Forestry carbon-sink projects: filing, design review, monitoring, verification.",
    )
    install_domain_error_handlers(app)
    return app


def install_domain_error_handlers(app: FastAPI) -> None:
    """The pure domain raises its own errors; here they become problem documents."""

    @app.exception_handler(RuleViolation)
    async def _rule(request: Request, exc: RuleViolation) -> JSONResponse:
        return problem_response(422, exc.detail, title="Invalid request", field=exc.field,
                                instance=request.url.path)

    @app.exception_handler(IllegalTransition)
    async def _transition(request: Request, exc: IllegalTransition) -> JSONResponse:
        return problem_response(409, f"cannot {exc.action.replace('_', ' ')} in state {exc.state}",
                                field="state", state=exc.state, instance=request.url.path)
