"""Path and query parameters PostgreSQL can store, or a 422 naming the parameter.

`ApiModel` guards request bodies; this guards the URL. A NUL character (`%00`) in an id or a
filter would otherwise reach the database driver and fail there as a 500.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import problem_response


class StorableParamsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = _unstorable_param(scope)
            if field is not None:
                response = problem_response(
                    422, f"{field}: must not contain NUL characters", title="Invalid request",
                    instance=scope["path"].replace("\x00", ""), errors=[{"field": field,
                                                      "message": "must not contain NUL characters"}])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _unstorable_param(scope: Scope) -> str | None:
    if "\x00" in scope["path"]:
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return None
