"""A large JSON request body validated in one pass from its bytes by pydantic-core.

FastAPI decodes a declared body with json.loads and then validates the Python objects it made: for
a transit operator's 10,000-trip feed, the objects cost as much as the checks. `JsonBody(Model)` is
a dependency that validates the raw bytes instead. Whatever it refuses is taken again through
FastAPI's own steps (json.loads, then the model), so a 422 (or 400) reads exactly as before: a
lone surrogate, for one, is invalid JSON to pydantic-core but a field's value_error to FastAPI.
The route declares no body parameter, so `openapi_extra` documents it and `document_bodies` puts
the model's schema in the components.
"""
from __future__ import annotations

import email.message
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema

Model = TypeVar("Model", bound=BaseModel)
REF = "#/components/schemas/{model}"


class JsonBody(Generic[Model]):
    """Depends(JsonBody(Model)): the request's JSON body as a Model, or FastAPI's 422 for it."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self._adapter = TypeAdapter(model)
        self.openapi_extra = {"requestBody": {"content": {"application/json": {"schema": {
            "$ref": REF.format(model=model.__name__)}}}, "required": True}}

    async def __call__(self, request: Request) -> Model:
        raw = await request.body()
        if raw and is_json(request.headers.get("content-type")):
            try:
                return self._adapter.validate_json(raw)
            except ValidationError:
                pass  # worded by FastAPI's steps below
        return self._as_fastapi_would(raw, await _decoded(request, raw))

    def _as_fastapi_would(self, raw: bytes, body: Any) -> Model:
        # fastapi.routing's body handling (strict content type, its default) and ModelField.validate
        if not raw:
            raise RequestValidationError([{"type": "missing", "loc": ("body",),
                                           "msg": "Field required", "input": None}])
        try:
            return self._adapter.validate_python(body, from_attributes=True)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)],
                body=body) from None


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI would decode a body of this content type as JSON."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


async def _decoded(request: Request, raw: bytes) -> Any:
    """The body as FastAPI hands it to validation: JSON decoded, other content types as bytes."""
    if not raw or not is_json(request.headers.get("content-type")):
        return raw
    try:
        return await request.json()
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos),
                                       "msg": "JSON decode error", "input": {},
                                       "ctx": {"error": exc.msg}}], body=exc.doc) from exc
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def document_bodies(app: FastAPI, *bodies: JsonBody[Any]) -> None:
    """Adds the bodies' models (and the models they name) to the app's OpenAPI components."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for body in bodies:
                schema = body.model.model_json_schema(ref_template=REF,
                                                      schema_generator=GenerateJsonSchema)
                for name, definition in {**schema.pop("$defs", {}),
                                         body.model.__name__: schema}.items():
                    schemas.setdefault(name, definition)
            document["components"]["schemas"] = dict(sorted(schemas.items()))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
