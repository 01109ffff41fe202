"""POST /api/v1/trips, the busiest write (every citizen's app), past FastAPI's routing and
dependency solving when the request is an ordinary one.

FastAPI matched the route by trying the app's routes one by one and solved the endpoint's
dependencies with its general machinery (a cache key per dependency, an exit stack, every
parameter looked up by kind): about half of the event loop's CPU in a single trip. The lane, the
first of the app's routes, asks the same questions with the same functions: the bearer token as
HTTPBearer reads it and `auth.verified` checks it, the role, the body as FastAPI reads JSON and
the route's own body field validates it; then it calls the very endpoint FastAPI would. A request
any of whose answers is not the ordinary one (no token, a refused token, another role, a query,
an Idempotency-Key, another content type, a body that does not validate) is handed, with its
body, to FastAPI's router as if the lane were not there: every refusal is FastAPI's own, word for
word. Exceptions the endpoint raises reach the app's exception handlers as from FastAPI's route.
"""
from __future__ import annotations

import json
import typing
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Message, Receive, Scope, Send

from tanhui_shared.web.auth import verified
from tanhui_shared.web.idempotency import Idempotency, IdempotentRequest
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.storable_params import refuse_unstorable_params

from . import citizens

PATH = "/api/v1/trips"
_PASSED = "tanhui.trip_lane.passed"  # scope key: this request goes FastAPI's way
# What the lane answers for: the endpoint's parameters and the app's own dependency, as declared
# when the lane was written. Anything else declared there is a question the lane does not ask,
# so the app does not start (services/accounts/tests/test_trip_lane.py) rather than answer
# without it.
_EXPECTED = {"trip": citizens.TripIn, "citizen": citizens.Citizen, "idem": Idempotency,
             "request": Request}


class TripLane(BaseRoute):
    def __init__(self, app: FastAPI) -> None:
        self.router = app.router
        self.route = _trip_route()
        hints = typing.get_type_hints(self.route.endpoint, include_extras=True)
        hints.pop("return", None)
        app_dependencies = [d.dependency for d in app.router.dependencies]
        if hints != _EXPECTED or self.route.dependencies or \
                app_dependencies != [refuse_unstorable_params]:
            raise RuntimeError(f"POST {PATH} declares other parameters or dependencies than its "
                               "lane checks (api/trip_lane.py): update the lane")
        self.body_field = self.route.body_field
        self.include_in_schema = False  # the route documented is FastAPI's
        self.path = PATH
        self.answered = self.passed = 0  # requests the lane answered, and handed to FastAPI

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST" \
                and not scope.get(_PASSED):
            # as FastAPI's match of the route leaves the scope (metrics and spans read `route`)
            return Match.FULL, {"route": self.route, "endpoint": self.route.endpoint,
                                "path_params": {}}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the route's URL is FastAPI's route's

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        received: list[Message] = []
        response = await self._answer(scope, receive, received)
        if response is not None:
            self.answered += 1
            await response(scope, receive, send)
            return
        self.passed += 1
        scope[_PASSED] = True
        await self.router.app(scope, _replay(received, receive), send)

    async def _answer(self, scope: Scope, receive: Receive, received: list[Message]) -> Any:
        """The endpoint's response, or None: then FastAPI answers (the messages read from
        `receive` are in `received`)."""
        if scope.get("query_string") or scope.get("root_path"):
            return None
        authorization = content_type = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == b"idempotency-key":
                return None
        if content_type != b"application/json":
            return None
        # HTTPBearer's reading of the header, then current_principal's check
        scheme, token = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and token) or scheme.lower() != "bearer":
            return None
        body = await _body(receive, received)
        if not body:
            return None
        request = Request(scope, receive)
        try:
            citizen = await verified(request, token)
        except Problem:
            return None
        if citizen.role != "citizen":  # require_role("citizen")
            return None
        try:  # as FastAPI reads a JSON body (Request.json)
            document = json.loads(body)
        except Exception:  # noqa: BLE001 - FastAPI words each failure (e.g. a RecursionError: 400)
            return None
        trip, errors = self.body_field.validate(document, {}, loc=("body",))
        if errors:
            return None
        # no Idempotency-Key: what idempotent_request makes of that
        idem = IdempotentRequest(None, "POST", "", b"")
        return await self.route.endpoint(trip=trip, citizen=citizen, idem=idem, request=request)


def _trip_route() -> APIRoute:
    for route in citizens.router.routes:
        if isinstance(route, APIRoute) and route.path == PATH and "POST" in route.methods:
            return route
    raise RuntimeError(f"no POST {PATH} route")


async def _body(receive: Receive, received: list[Message]) -> bytes | None:
    """The request's body, every message kept in `received`; None if the client left."""
    chunks = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(received: list[Message], receive: Receive) -> Receive:
    """`receive` as if nothing had been read from it yet."""
    pending = list(received)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def install_trip_lane(app: FastAPI) -> None:
    """The lane first among the app's routes: asked before any of FastAPI's."""
    app.router.routes.insert(0, TripLane(app))
