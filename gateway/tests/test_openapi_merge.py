"""Merging the services' OpenAPI documents into one."""
from __future__ import annotations

from tanhui_gateway.openapi import PROBLEM, merge
from tanhui_shared.web.problem_types import PROBLEM_TYPES
from tanhui_gateway.routes import Route

ROUTES = (Route("/api/v1/things", "one", ("GET",), access="public"),
          Route("/api/v1/things/{id}", "one", ("POST",), roles=("admin",)),
          Route("/api/v1/other", "two"))


def doc(paths: dict, schemas: dict) -> dict:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}}


def op(ref: str, **responses) -> dict:
    return {"operationId": "op", "responses": {
        "200": {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}},
        **responses}}


def test_paths_are_kept_and_colliding_components_get_the_service_prefix():
    one = doc({"/api/v1/things": {"get": op("Thing")}, "/healthz": {"get": op("Thing")},
               "/api/v1/things/{id}": {"post": op("Shared", **{"422": {"description": "x"}})}},
              {"Thing": {"type": "object", "title": "one"}, "Shared": {"type": "string"}})
    two = doc({"/api/v1/other": {"get": op("Thing")}},
              {"Thing": {"type": "object", "title": "two"}, "Shared": {"type": "string"}})
    merged = merge({"one": one, "two": two}, ROUTES)

    assert set(merged["paths"]) == {"/api/v1/things", "/api/v1/things/{id}", "/api/v1/other",
                                    "/problems", "/problems/{code}"}  # the gateway's own
    schemas = merged["components"]["schemas"]
    assert schemas["Thing"]["title"] == "one" and schemas["two_Thing"]["title"] == "two"
    assert "two_Shared" not in schemas                   # identical definitions are shared
    other = merged["paths"]["/api/v1/other"]["get"]
    assert other["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] \
        == "#/components/schemas/two_Thing"
    assert other["security"] == [{"bearer": []}] and "401" in other["responses"]


def test_operations_describe_the_gateways_own_answers():
    one = doc({"/api/v1/things": {"get": op("T")},
               "/api/v1/things/{id}": {"post": op("T", **{"422": {"description": "x"}})}}, {"T": {}})
    merged = merge({"one": one}, ROUTES)
    public = merged["paths"]["/api/v1/things"]["get"]
    assert public["security"] == [] and "401" not in public["responses"] and "429" in public["responses"]
    guarded = merged["paths"]["/api/v1/things/{id}"]["post"]
    assert guarded["x-required-roles"] == ["admin"]
    assert {"401", "403", "413", "429", "503", "504"} <= set(guarded["responses"])
    problem = guarded["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": f"#/components/schemas/{PROBLEM}"}
    assert guarded["operationId"] == "one_op"


def test_every_error_answer_is_a_problem_whose_code_is_one_of_the_catalogue():
    declared = op("T", **{"404": {"description": "no such thing",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}})
    merged = merge({"one": doc({"/api/v1/things/{id}": {"post": declared}}, {"T": {}})}, ROUTES)
    schema = merged["components"]["schemas"][PROBLEM]
    assert set(schema["properties"]["code"]["enum"]) == set(PROBLEM_TYPES)
    assert {"type", "title", "status", "detail", "instance", "code", "field", "errors"} \
        <= set(schema["properties"])
    assert schema["properties"]["errors"]["items"]["required"] == ["field", "message", "kind"]
    responses = merged["paths"]["/api/v1/things/{id}"]["post"]["responses"]
    errors = {s: r for s, r in responses.items() if s[0] in "45"}
    assert {"404", "401", "403", "413", "429", "500", "503", "504"} <= set(errors)
    for status, response in errors.items():
        assert list(response["content"]) == ["application/problem+json"], status
    assert responses["404"]["description"] == "no such thing"
    catalogue = merged["paths"]["/problems/{code}"]["get"]
    assert catalogue["security"] == [] and "404" in catalogue["responses"]
