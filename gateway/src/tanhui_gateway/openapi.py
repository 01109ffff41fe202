"""One API description for the whole platform: every service's /openapi.json, merged.

Paths are kept as the services publish them, but only operations the route table serves (so the
document never promises what the gateway answers 404). Components are merged; a name two
services define differently is prefixed with the service's name in that service's part. Each
operation also gets what the gateway itself may answer: its security requirement, 401/403, 413,
429, 503/504, and validation errors as the application/problem+json they really are.
"""
from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import httpx

from tanhui_shared.web.problem_types import PROBLEM_TYPES

from .routes import ROUTES, Route, match

PROBLEM = "Problem"
PROBLEM_TYPE = "ProblemType"
_REF = "#/components/schemas/"
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _problem_schema() -> dict[str, Any]:
    codes = sorted(PROBLEM_TYPES)
    return {
        "type": "object",
        "description": "RFC 9457 problem details. `type` is \"/problems/{code}\", relative to the "
                       "gateway, where GET /problems/{code} describes it; `field` names the "
                       "offending input when there is one.",
        "properties": {
            "type": {"type": "string", "format": "uri-reference", "example": "/problems/" + codes[0]},
            "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "instance": {"type": "string"},
            "code": {"type": "string", "enum": codes,
                     "description": "GET /problems lists each with its titles in zh and en"},
            "field": {"type": "string"}, "request_id": {"type": "string"},
            "errors": {"type": "array", "description": "invalid-request only: each refused input",
                       "items": {"type": "object", "required": ["field", "message", "kind"],
                                 "properties": {
                                     "field": {"type": "string"}, "message": {"type": "string"},
                                     "kind": {"type": "string", "description":
                                              "pydantic's error type: missing, greater_than, ..."},
                                     "ctx": {"type": "object", "description":
                                             "the rule's limits, e.g. {\"gt\": 0}"}}}},
        },
        "required": ["type", "title", "status", "code"],
        "additionalProperties": True,
    }


_PROBLEM_TYPE_SCHEMA = {
    "type": "object", "required": ["code", "type", "status", "title_en", "title_zh"],
    "properties": {"code": {"type": "string"}, "type": {"type": "string"},
                   "status": {"type": "integer"}, "title_en": {"type": "string"},
                   "title_zh": {"type": "string"}, "description": {"type": "string"}},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem_paths() -> dict[str, Any]:
    """The gateway's own catalogue of problem types (public, served from tanhui_shared)."""
    one = {"$ref": _REF + PROBLEM_TYPE}
    return {
        "/problems": {"get": {
            "tags": ["problems"], "operationId": "gateway_problem_types", "security": [],
            "summary": "Every problem code, its status and its titles in Chinese and English",
            "responses": {"200": _json({"type": "array", "items": one}, "The catalogue"),
                          "500": _problem("Internal error; quote the request id")}}},
        "/problems/{code}": {"get": {
            "tags": ["problems"], "operationId": "gateway_problem_type", "security": [],
            "summary": "One problem type: what a problem document's `type` resolves to",
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": sorted(PROBLEM_TYPES)}}],
            "responses": {"200": _json(one, "The problem type"),
                          "404": _problem("No such code (unknown-problem-type)"),
                          "500": _problem("Internal error; quote the request id")}}},
    }


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF) \
                    and value[len(_REF):] in renames:
                out[key] = _REF + renames[value[len(_REF):]]
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": _REF + PROBLEM}}}}


def _gateway_responses(route: Route, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, response in list(responses.items()):
        if status[:1] in ("4", "5"):  # whatever a service declared, errors are problem documents
            responses[status] = _problem(response.get("description") or "Refused")
    if "422" in responses:
        responses["422"] = _problem("Invalid request (invalid-request): `errors` lists each "
                                    "field, the kind of error and its limits; or a rule of the "
                                    "domain refused a value (its own code)")
    if route.access != "public":
        responses.setdefault("401", _problem("No token, or one the gateway refuses"))
    if route.roles:
        responses.setdefault("403", _problem(f"Needs one of the roles: {', '.join(route.roles)}"))
        operation["x-required-roles"] = list(route.roles)
    if method != "get":
        responses.setdefault("413", _problem("Request body over this route's limit"))
    responses.setdefault("429", _problem("Rate limit reached; see Retry-After"))
    responses.setdefault("503", _problem("A service (or the rate-limit store) is unavailable"))
    responses.setdefault("504", _problem("The service did not answer in time"))
    responses.setdefault("500", _problem("Internal error; quote the request id"))
    if route.access == "token":
        operation["security"] = [{"bearer": []}]
    elif route.access == "optional":
        operation["security"] = [{}, {"bearer": []}]
    else:
        operation["security"] = []


def merge(documents: dict[str, dict[str, Any]], routes: tuple[Route, ...] = ROUTES) -> dict[str, Any]:
    """Merge the services' documents (service name -> its OpenAPI document)."""
    schemas: dict[str, Any] = {PROBLEM: _problem_schema(), PROBLEM_TYPE: _PROBLEM_TYPE_SCHEMA}
    paths: dict[str, Any] = _problem_paths()
    tags: dict[str, dict[str, Any]] = {"problems": {"name": "problems", "x-service": "gateway"}}
    for service, document in sorted(documents.items()):
        theirs = document.get("components", {}).get("schemas", {})
        renames = {name: f"{service}_{name}" for name, schema in theirs.items()
                   if name in schemas and schemas[name] != schema}
        document = _rename_refs(copy.deepcopy(document), renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method not in _HTTP_METHODS:
                    continue
                found = match(method.upper(), _concrete(path), routes)
                if found is None or found.route is None or found.route.service != service:
                    continue  # not served through the gateway (e.g. the service's own /healthz)
                _gateway_responses(found.route, method, operation)
                operation["operationId"] = f"{service}_{operation.get('operationId', method + path)}"
                paths.setdefault(path, {})[method] = operation
                for tag in operation.get("tags", []):
                    tags.setdefault(tag, {"name": tag, "x-service": service})
    return {
        "openapi": "3.1.0",
        "info": {"title": "tanhui platform API", "version": "1",
                 "description": "Every service's API through the gateway, which checks tokens, "
                                "roles, body sizes and rate limits before a service sees a request."},
        "paths": dict(sorted(paths.items())),
        "tags": list(tags.values()),
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "POST /api/v1/auth/token for one"}}},
    }


def _concrete(path_template: str) -> str:
    # `/api/v1/projects/{project_id}` -> a path the route table can match
    return "/".join("x" if part.startswith("{") else part for part in path_template.split("/"))


class MergedOpenApi:
    """The merged document, fetched from the services and kept `cache_s` seconds."""

    def __init__(self, client: httpx.AsyncClient, services: dict[str, str], cache_s: float) -> None:
        self.client = client
        self.services = services
        self.cache_s = cache_s
        self._document: dict[str, Any] | None = None
        self._built_at = float("-inf")
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            if self._document is None or time.monotonic() - self._built_at > self.cache_s:
                fetched = await asyncio.gather(*(self._fetch(url) for url in self.services.values()))
                documents = {name: doc for name, doc in zip(self.services, fetched, strict=True) if doc}
                merged = merge(documents)
                missing = sorted(set(self.services) - set(documents))
                if missing:
                    merged["info"]["x-missing-services"] = missing
                    return merged  # incomplete: do not keep it
                self._document, self._built_at = merged, time.monotonic()
            return self._document

    async def _fetch(self, base_url: str) -> dict[str, Any] | None:
        try:
            reply = await self.client.get(base_url + "/openapi.json", timeout=5.0)
            reply.raise_for_status()
            return reply.json()
        except (httpx.HTTPError, ValueError):
            return None
