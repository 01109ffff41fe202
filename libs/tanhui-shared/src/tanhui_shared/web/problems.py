"""RFC 9457 problem details for every error, naming the offending field where there is one."""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..context import request_id_var
from ..errors import DomainError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from a router or domain adapter to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 type_: str = "about:blank", headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers
        self.extensions = extensions


def problem_response(status: int, detail: str, *, title: str | None = None,
                     type_: str = "about:blank", headers: dict[str, str] | None = None,
                     instance: str | None = None, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if request_id_var.get():
        body["request_id"] = request_id_var.get()
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "activities", 0, "quantity") -> "activities[0].quantity"; drop the "body" prefix.
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or str(loc[0] if loc else "request")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type,
                                headers=exc.headers, instance=request.url.path, **exc.extensions)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        # The one mapping of domain errors to HTTP: the class gives the status, `code` a
        # machine-readable kind, `field` the input it is about.
        extensions = {**exc.extensions, "code": exc.code}
        if exc.field is not None:
            extensions["field"] = exc.field
        return problem_response(exc.status, exc.detail, instance=request.url.path, **extensions)

    @app.exception_handler(IntegrityError)
    async def _constraint(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint refused a write that the code path did not check first (or a race
        # between two requests that both checked): a conflict, never a 500.
        from ..uow import as_conflict

        return await _domain(request, as_conflict(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, detail, title="Invalid request", instance=request.url.path,
                                errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers,
                                instance=request.url.path)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc.__class__.__name__)
        return problem_response(503, "The database is unavailable; retry with the same "
                                "Idempotency-Key shortly.", headers={"Retry-After": "2"},
                                instance=request.url.path)

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _pool_exhausted(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        # every pooled connection is busy: overload, not a fault of the request
        log.warning("database connection pool exhausted")
        return problem_response(503, "The service is busy; retry with the same Idempotency-Key "
                                "shortly.", headers={"Retry-After": "1"}, instance=request.url.path)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await _db_down(request, exc)  # type: ignore[arg-type]
        log.exception("database error")
        return problem_response(500, "Internal error", instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal error; quote the request id when reporting it.",
                                instance=request.url.path)
