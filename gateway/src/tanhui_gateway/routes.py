"""The declarative route table: which service owns which path prefix.

Longest prefix wins; a prefix matches the path itself or anything below it (`/a` never matches `/ab`).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str


ROUTES: tuple[Route, ...] = (
    Route("/.well-known/jwks.json", "accounts"),
    Route("/api/v1/auth", "accounts"),
    Route("/api/v1/me", "accounts"),
    Route("/api/v1/holdings", "credits"),
)


def match(path: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    best: Route | None = None
    for route in routes:
        if path == route.prefix or path.startswith(route.prefix.rstrip("/") + "/"):
            if best is None or len(route.prefix) > len(best.prefix):
                best = route
    return best
