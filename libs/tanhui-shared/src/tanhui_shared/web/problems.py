"""RFC 9457 problem details for every error, naming the offending field where there is one.

Every document carries `code` (a row of the catalogue in `problem_types.py`) and `type`
"/problems/{code}"; an answer raised without a code is filed under its status's code.
"""
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
from .problem_types import code_for_status, type_uri

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from a router or domain adapter to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.code = code or code_for_status(status)
        self.headers = headers
        self.extensions = extensions


def problem_response(status: int, detail: str, *, title: str | None = None,
                     code: str | None = None, headers: dict[str, str] | None = None,
                     instance: str | None = None, **extensions: Any) -> JSONResponse:
    code = code or code_for_status(status)
    body: dict[str, Any] = {
        "type": type_uri(code),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
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


def _json_safe(value: Any) -> Any:
    # pydantic's ctx may hold a Decimal, a date or an exception: the console only shows them
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    """One refused input: `kind` is pydantic's error type ("missing", "greater_than", ...) and
    `ctx` its limits, so a client words the message in its user's language."""
    out: dict[str, Any] = {"field": _field_name(tuple(error.get("loc", ()))),
                           "message": error.get("msg", "invalid"),
                           "kind": error.get("type", "value_error")}
    ctx = {k: _json_safe(v) for k, v in (error.get("ctx") or {}).items() if k != "error"}
    if ctx:
        out["ctx"] = ctx
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, title=exc.title, code=exc.code,
                                headers=exc.headers, instance=request.url.path, **exc.extensions)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        # The one mapping of domain errors to HTTP: the class gives the status, `code` a
        # machine-readable kind, `field` the input it is about.
        extensions = dict(exc.extensions)
        if exc.field is not None:
            extensions["field"] = exc.field
        return problem_response(exc.status, exc.detail, code=exc.code, instance=request.url.path,
                                **extensions)

    @app.exception_handler(IntegrityError)
    async def _constraint(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint refused a write that the code path did not check first (or a race
        # between two requests that both checked): a conflict, never a 500.
        from ..uow import as_conflict

        return await _domain(request, as_conflict(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        first = errors[0]["field"] if len({e["field"] for e in errors}) == 1 else None
        extra = {"field": first} if first else {}
        return problem_response(422, detail, title="Invalid request", code="invalid-request",
                                instance=request.url.path, errors=errors, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers,
                                instance=request.url.path)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        if str(getattr(exc.orig, "sqlstate", "") or "").startswith("54"):
            # program_limit_exceeded (e.g. 54001: a statement past max_stack_depth): the query
            # the code built is at fault and a retry fails alike, so not "unavailable"
            log.exception("statement beyond a PostgreSQL limit")
            return problem_response(500, "Internal error; quote the request id when reporting it.",
                                    instance=request.url.path)
        log.error("database unavailable: %s", exc.__class__.__name__)
        return problem_response(503, "The database is unavailable; retry with the same "
                                "Idempotency-Key shortly.", headers={"Retry-After": "2"},
                                code="database-unavailable",
                                instance=request.url.path)

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _pool_exhausted(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        # every pooled connection is busy: overload, not a fault of the request
        log.warning("database connection pool exhausted")
        return problem_response(503, "The service is busy; retry with the same Idempotency-Key "
                                "shortly.", headers={"Retry-After": "1"}, code="service-busy",
                                instance=request.url.path)

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
