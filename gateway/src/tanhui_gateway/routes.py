"""The declarative route table: which service owns which path prefix.

Longest prefix wins; a prefix matches the path itself or anything below it (`/a` never matches `/ab`).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str


def _owned_by(service: str, *prefixes: str) -> tuple[Route, ...]:
    return tuple(Route(prefix, service) for prefix in prefixes)


ROUTES: tuple[Route, ...] = (
    *_owned_by("accounts", "/.well-known/jwks.json", "/api/v1/auth", "/api/v1/me",
               "/api/v1/enterprises", "/api/v1/factors", "/api/v1/reports", "/api/v1/disclosures",
               "/api/v1/trips", "/api/v1/stats"),
    *_owned_by("verification", "/api/v1/projects", "/api/v1/monitoring-reports",
               "/api/v1/verifiers"),
    *_owned_by("credits", "/api/v1/holdings", "/api/v1/transfers", "/api/v1/registry",
               "/api/v1/events", "/api/v1/listings", "/api/v1/retirements", "/api/v1/certificates"),
)


def match(path: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    best: Route | None = None
    for route in routes:
        if path == route.prefix or path.startswith(route.prefix.rstrip("/") + "/"):
            if best is None or len(route.prefix) > len(best.prefix):
                best = route
    return best
