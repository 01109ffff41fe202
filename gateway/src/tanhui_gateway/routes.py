"""The declarative route table: which service owns an operation, who may call it, how big and how
often.

A route's path is a template: `{name}` matches exactly one path segment and a trailing `/*`
matches one or more segments below. The most specific template wins (more literal segments,
then no wildcard). The services stay the authority on identity and ownership: this table is
the first line, kept equal to what their routers require (gateway/tests/test_route_table.py
compares it with the services' own dependencies).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Access = Literal["public", "optional", "token"]
RateClass = Literal["auth", "read", "write", "batch"]

KIB = 1024
MIB = 1024 * KIB
READ = ("GET",)
WRITE = ("POST",)


@dataclass(frozen=True)
class Route:
    path: str                      # template, e.g. /api/v1/projects/{id} or /api/v1/registry/*
    service: str
    methods: tuple[str, ...] = READ
    roles: tuple[str, ...] = ()    # empty: any signed-in user (when access is "token")
    access: Access = "token"       # public: no token looked at; optional: checked when sent
    body_limit: int | None = None  # bytes; None = the settings' default
    rate_class: RateClass | None = None  # None: "read" for GET, "write" otherwise
    login: bool = False            # also counted per user name / client_id named in the form

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/"))

    @property
    def label(self) -> str:
        """The template itself: what logs and metrics name, never the concrete ids."""
        return self.path

    def limit_class(self, method: str) -> RateClass:
        if self.rate_class:
            return self.rate_class
        return "read" if method in ("GET", "HEAD") else "write"


def _r(path: str, service: str, methods: tuple[str, ...] = READ, *roles: str,
       access: Access = "token", body_limit: int | None = None,
       rate_class: RateClass | None = None, login: bool = False) -> Route:
    return Route(path, service, methods, tuple(roles), access, body_limit, rate_class, login)


A, V, C = "accounts", "verification", "credits"

ROUTES: tuple[Route, ...] = (
    # accounts: identity
    _r("/.well-known/jwks.json", A, access="public"),
    _r("/api/v1/auth/register", A, WRITE, access="public", body_limit=8 * KIB, rate_class="auth"),
    _r("/api/v1/auth/token", A, WRITE, access="public", body_limit=8 * KIB, rate_class="auth",
       login=True),
    _r("/api/v1/me", A),
    _r("/api/v1/me/password", A, WRITE, body_limit=8 * KIB, rate_class="auth"),
    # accounts: accreditation of verifiers and transit operators (granted by an admin, public list)
    _r("/api/v1/accreditations", A, WRITE, "admin", body_limit=8 * KIB),
    _r("/api/v1/accreditations", A, access="public"),
    _r("/api/v1/accreditations/{id}/revoke", A, WRITE, "admin"),
    _r("/api/v1/accreditations/{id}/client-secret", A, WRITE, "admin"),
    # accounts: enterprises' claims to a USCC, confirmed by the regulator
    _r("/api/v1/enterprise-claims", A, READ, "regulator"),
    _r("/api/v1/enterprise-claims/{id}/decision", A, WRITE, "regulator"),
    # accounts: personal carbon accounts and green trips
    _r("/api/v1/me/carbon-account", A, READ, "citizen"),
    _r("/api/v1/me/redemptions", A, WRITE, "citizen"),
    _r("/api/v1/me/redemptions/{id}", A, READ, "citizen"),
    _r("/api/v1/trips", A, WRITE, "citizen"),
    _r("/api/v1/trips/batch", A, WRITE, "transit_operator", body_limit=8 * MIB, rate_class="batch"),
    _r("/api/v1/methodology", A, access="public"),  # green travel and points parameters
    # accounts: enterprises, reports, factors, disclosures, city statistics
    _r("/api/v1/enterprises", A, WRITE, "enterprise"),
    _r("/api/v1/enterprises/{id}", A),
    _r("/api/v1/enterprises/{id}/reports", A, WRITE, "enterprise", body_limit=512 * KIB),
    _r("/api/v1/enterprises/{id}/reports", A, READ),
    _r("/api/v1/reports/{id}", A, READ),
    _r("/api/v1/reports/{id}/revisions", A, WRITE, "enterprise", body_limit=512 * KIB),
    _r("/api/v1/factors", A, access="public"),
    _r("/api/v1/disclosures", A, access="public"),
    _r("/api/v1/stats/city", A, READ, "regulator"),
    # accounts, issue 14: owner-scoped lists (the regulator lists every enterprise)
    _r("/api/v1/enterprises", A, READ, "enterprise", "regulator"),
    _r("/api/v1/me/trips", A, READ, "citizen"),
    _r("/api/v1/me/redemptions", A, READ, "citizen"),
    _r("/api/v1/users", A, READ, "admin"),
    # verification: projects, reviews, monitoring and verification
    _r("/api/v1/projects", V, WRITE, "project_developer", body_limit=256 * KIB),
    _r("/api/v1/projects", V, access="optional"),
    _r("/api/v1/projects/{id}", V, access="optional"),
    _r("/api/v1/projects/{id}/submit", V, WRITE, "project_developer"),
    _r("/api/v1/projects/{id}/reviews", V, WRITE, "verifier"),
    _r("/api/v1/projects/{id}/monitoring-reports", V, WRITE, "project_developer",
       body_limit=256 * KIB),
    _r("/api/v1/monitoring-reports/{id}", V, access="optional"),
    _r("/api/v1/monitoring-reports/{id}/verifications", V, WRITE, "verifier"),
    # loss events (issue 13): reported by the developer, decided by an accredited verifier
    _r("/api/v1/projects/{id}/loss-events", V, WRITE, "project_developer"),
    _r("/api/v1/loss-events/{id}", V, access="optional"),
    _r("/api/v1/loss-events/{id}/verifications", V, WRITE, "verifier"),
    _r("/api/v1/verifiers/queue", V, READ, "verifier"),
    # verification, issue 14: edit and withdraw a filing, a verifier's own decisions
    _r("/api/v1/projects/{id}", V, ("PATCH",), "project_developer", body_limit=256 * KIB),
    _r("/api/v1/projects/{id}/withdraw", V, WRITE, "project_developer"),
    _r("/api/v1/verifiers/me/decisions", V, READ, "verifier"),
    # credits: holdings, transfers, retirements, large events, listings, the public registry
    _r("/api/v1/holdings", C),
    _r("/api/v1/transfers", C, WRITE),
    _r("/api/v1/retirements", C, WRITE),
    _r("/api/v1/events", C, WRITE, "organizer"),
    _r("/api/v1/events/{id}", C, access="public"),
    _r("/api/v1/event-factors", C, access="public"),  # issue 13: every version of the library
    _r("/api/v1/events/{id}/offsets", C, WRITE, "organizer"),
    _r("/api/v1/events/{id}/actuals", C, WRITE, "organizer"),  # issue 13: post-event true-up
    _r("/api/v1/listings", C, WRITE),
    _r("/api/v1/listings", C, access="optional"),  # issue 14: ?mine=true needs the token
    _r("/api/v1/listings/{id}/cancel", C, WRITE),
    _r("/api/v1/registry/*", C, access="public"),
    _r("/api/v1/certificates/*", C, access="public"),
    # credits, issue 14: owner-scoped lists and purchases from listings
    _r("/api/v1/events", C, READ, "organizer"),
    _r("/api/v1/listings/{id}/purchases", C, WRITE, "enterprise", "organizer"),
    _r("/api/v1/purchases", C),
    _r("/api/v1/retirements", C),
    _r("/api/v1/certificates", C),
)


def _matches(template: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if template[-1] == "*":
        stem = template[:-1]
        return len(path) > len(stem) and _matches(stem, path[:len(stem)]) if stem else True
    if len(template) != len(path):
        return False
    return all(t == p or (t.startswith("{") and p) for t, p in zip(template, path, strict=True))


def _specificity(route: Route) -> tuple[int, int]:
    segments = route.segments
    literal = sum(1 for s in segments if s != "*" and not s.startswith("{"))
    return literal, 0 if segments[-1] == "*" else 1


@dataclass(frozen=True)
class Match:
    route: Route | None             # None: the path exists but not for this method
    allowed: tuple[str, ...] = ()   # the methods the path answers to (for 405's Allow)


_Entry = tuple[Route, tuple[str, ...], tuple[int, int]]


@lru_cache(maxsize=8)
def _table(routes: tuple[Route, ...]) -> tuple[dict[int, list[_Entry]], list[_Entry]]:
    """The routes with their segments and specificity, worked out once per table rather than on
    every request (it was a tenth of the proxy's CPU per request): templates without a wildcard
    by segment count (a path can only match those of its own length), then the wildcard ones."""
    by_length: dict[int, list[_Entry]] = {}
    wildcards: list[_Entry] = []
    for route in routes:
        entry = (route, route.segments, _specificity(route))
        if entry[1][-1] == "*":
            wildcards.append(entry)
        else:
            by_length.setdefault(len(entry[1]), []).append(entry)
    return by_length, wildcards


_Found = tuple[list[Route], tuple[str, ...]]


@lru_cache(maxsize=8)
def _literal(routes: tuple[Route, ...]) -> dict[str, _Found | None]:
    """Paths that are templates without placeholders, with their owners and allowed methods: no
    other template can beat one of them (every segment literal), so they need no search."""
    table = _table(routes)
    trie = _trie(table)
    return {route.path: _owners(route.path, table, trie) for route in routes
            if "{" not in route.path and not route.path.endswith("*")}


# The tables of a route tuple by its identity: lru_cache hashes its argument on every call, and
# a tuple of frozen dataclasses hashes every route's fields (60-odd hashes a request). An entry
# holds its tuple, so the id cannot be reused while the entry lives.
_BY_ID: dict[int, tuple[tuple[Route, ...], dict[str, _Found | None], tuple]] = {}


def _tables(routes: tuple[Route, ...]) -> tuple[dict[str, _Found | None], tuple]:
    entry = _BY_ID.get(id(routes))
    if entry is None or entry[0] is not routes:
        if len(_BY_ID) >= 8:
            _BY_ID.clear()
        table = _table(routes)
        entry = _BY_ID[id(routes)] = (routes, _literal(routes), (table, _trie(table)))
    return entry[1], entry[2]


class _Node:
    """One segment position of the templates: literal children, a parameter child, the routes
    that end here and the wildcard routes whose stem ends here (each with its order in the table)."""

    __slots__ = ("literal", "param", "ends", "stars")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.ends: list[tuple[int, _Entry]] = []
        self.stars: list[tuple[int, _Entry]] = []


def _trie(table: tuple[dict[int, list[_Entry]], list[_Entry]]) -> _Node:
    """The templates as a tree of segments: a path is matched by walking its own segments (a few
    dictionary lookups) instead of comparing it with every template of its length. Each entry
    keeps its place in `_table`'s order (by length, then wildcards), which breaks ties."""
    by_length, wildcards = table
    root = _Node()
    ordered = [e for entries in by_length.values() for e in entries] + wildcards
    for order, entry in enumerate(ordered):
        segments = entry[1]
        star = segments[-1] == "*"
        node = root
        for segment in segments[:-1] if star else segments:
            if segment.startswith("{"):
                node.param = node = node.param or _Node()
            else:
                node = node.literal.setdefault(segment, _Node())
        (node.stars if star else node.ends).append((order, entry))
    return root


def _walk(node: _Node, parts: tuple[str, ...], depth: int, found: list) -> None:
    if node.stars and len(parts) > depth:
        found += node.stars
    if depth == len(parts):
        found += node.ends
        return
    part = parts[depth]
    child = node.literal.get(part)
    if child is not None:
        _walk(child, parts, depth + 1, found)
    if node.param is not None and part:
        _walk(node.param, parts, depth + 1, found)


def _owners(path: str, table: tuple[dict[int, list[_Entry]], list[_Entry]],
            trie: _Node | None = None) -> _Found | None:
    parts = tuple(path.strip("/").split("/"))
    found: list[tuple[int, _Entry]] = []
    _walk(trie or _trie(table), parts, 0, found)
    if not found:
        return None
    found.sort(key=lambda item: item[0])
    best = max(entry[2] for _, entry in found)
    owners = [entry[0] for _, entry in found if entry[2] == best]
    return owners, tuple(sorted({m for r in owners for m in r.methods}))


def match(method: str, path: str, routes: tuple[Route, ...] = ROUTES) -> Match | None:
    """The route for `method` on `path`; a Match without a route when only the method is wrong;
    None when nothing owns the path."""
    literal, table = _tables(routes)
    found = literal.get(path)
    if found is None:
        if path != "/" and (path.endswith("/") or "//" in path):
            return None  # no empty segments: `/api/v1/projects//x` is nobody's
        found = _owners(path, *table)
        if found is None:
            return None
    owners, allowed = found
    for route in owners:
        if method in route.methods:
            return Match(route, allowed)
    return Match(None, allowed)
