"""The route table: how paths match, and that it asks exactly what the services' routers ask."""
from __future__ import annotations

import importlib
import pkgutil

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from tanhui_gateway.routes import ROUTES, Route, match

SERVICES = ("accounts", "verification", "credits")


def test_templates_match_one_segment_per_parameter_and_stars_match_below():
    routes = (Route("/api/v1/a/{id}", "one"), Route("/api/v1/a/{id}/b", "two", ("POST",)),
              Route("/api/v1/r/*", "three"))
    assert match("GET", "/api/v1/a/42", routes).route.service == "one"
    assert match("POST", "/api/v1/a/42/b", routes).route.service == "two"
    assert match("GET", "/api/v1/r/x/y/z", routes).route.service == "three"
    assert match("GET", "/api/v1/r", routes) is None           # a star needs something below
    assert match("GET", "/api/v1/a/42/c", routes) is None
    assert match("GET", "/api/v1/a//b", routes) is None          # no empty segments
    assert match("GET", "/api/v1/a/42/", routes) is None


def test_a_known_path_with_another_method_is_a_405_listing_what_it_allows():
    found = match("DELETE", "/api/v1/listings")
    assert found.route is None and found.allowed == ("GET", "POST")
    assert match("GET", "/api/v1/listings").route.access == "optional"  # ?mine=true: issue 14
    assert match("POST", "/api/v1/listings").route.access == "token"
    assert match("POST", "/api/v1/listings/l-1/cancel").route.access == "token"


def test_a_literal_segment_beats_a_parameter():
    assert match("POST", "/api/v1/trips/batch").route.roles == ("transit_operator",)
    assert match("POST", "/api/v1/trips/batch").route.rate_class == "batch"
    assert match("POST", "/api/v1/trips").route.roles == ("citizen",)


def test_public_routes_are_the_documented_ones():
    public = {(m, r.path) for r in ROUTES if r.access != "token" for m in r.methods}
    assert public == {
        ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/token"),
        ("GET", "/.well-known/jwks.json"), ("GET", "/api/v1/factors"), ("GET", "/api/v1/disclosures"),
        ("GET", "/api/v1/projects"), ("GET", "/api/v1/projects/{id}"),
        ("GET", "/api/v1/monitoring-reports/{id}"), ("GET", "/api/v1/registry/*"),
        ("GET", "/api/v1/loss-events/{id}"),  # issue 13: a loss is public with its project
        ("GET", "/api/v1/methodology"),  # issue 13: green travel and points parameters
        ("GET", "/api/v1/certificates/*"), ("GET", "/api/v1/listings"), ("GET", "/api/v1/events/{id}"),
        ("GET", "/api/v1/accreditations"), ("GET", "/api/v1/event-factors"),
    }
    optional = {r.path for r in ROUTES if r.access == "optional"}
    assert optional == {"/api/v1/projects", "/api/v1/projects/{id}", "/api/v1/monitoring-reports/{id}",
                        "/api/v1/loss-events/{id}", "/api/v1/listings"}


def _service_routes(service: str) -> list[APIRoute]:
    """Every route of every router in the service's api package (new routers are found too)."""
    package = importlib.import_module(f"tanhui_{service}.api")
    routes = []
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routes += [r for r in router.routes if isinstance(r, APIRoute)]
    return routes


def _requirements(route: APIRoute) -> tuple[str, frozenset[str]]:
    """(access, roles) as the service's dependencies state them."""
    access, roles = "public", set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        pending += dependency.dependencies
        call = dependency.call
        name = getattr(call, "__qualname__", "")
        if name == "current_principal":
            access = "token"
        elif name == "optional_principal" and access == "public":
            access = "optional"
        elif name.startswith("require_role"):
            for cell in call.__closure__ or ():
                if isinstance(cell.cell_contents, tuple):
                    roles |= set(cell.cell_contents)
    return access, frozenset(roles)


def _concrete(path: str) -> str:
    return "/".join("x" if part.startswith("{") else part for part in path.split("/"))


@pytest.mark.parametrize("service", SERVICES)
def test_the_table_asks_exactly_what_each_service_asks(service):
    operations = [(m, r) for r in _service_routes(service) for m in r.methods]
    assert operations, f"no routes found for {service}"
    for method, route in operations:
        found = match(method, _concrete(route.path))
        assert found is not None and found.route is not None, f"{method} {route.path} is not routed"
        entry = found.route
        assert entry.service == service, f"{method} {route.path}"
        access, roles = _requirements(route)
        assert frozenset(entry.roles) == roles, f"{method} {route.path}: {entry.roles} vs {roles}"
        assert entry.access == access, f"{method} {route.path}: {entry.access} vs {access}"


def test_every_table_entry_serves_some_service_operation():
    served = {(m, match(m, _concrete(r.path)).route) for s in SERVICES for r in _service_routes(s)
              for m in r.methods}
    for entry in ROUTES:
        for method in entry.methods:
            assert (method, entry) in served, f"{method} {entry.path} routes to nothing"
