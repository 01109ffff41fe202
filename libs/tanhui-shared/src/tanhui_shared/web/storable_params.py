"""Path and query parameters PostgreSQL can store, or a 422 naming the parameter.

`ApiModel` guards request bodies; this guards the URL. A NUL character (`%00`) in an id or a
filter would otherwise reach the database driver and fail there as a 500. It is an app-wide
dependency, so it runs after routing (the path parameters have their names) and before any
other dependency or handler touches the database.
"""
from __future__ import annotations

from fastapi import Request

from .problems import Problem


async def refuse_unstorable_params(request: Request) -> None:
    # async: a scan of a few strings; a sync dependency costs a worker-thread hop per request
    named = list(request.path_params.items())
    if request.scope.get("query_string"):  # no QueryParams parsed from nothing
        named += request.query_params.multi_items()
    for name, value in named:
        if "\x00" in name or "\x00" in str(value):
            field = name.replace("\x00", "") or "query"
            raise Problem(422, f"{field}: must not contain NUL characters",
                          title="Invalid request", field=field,
                          errors=[{"field": field, "message": "must not contain NUL characters",
                                   "kind": "value_error"}],  # pydantic's type for a refused value
                          code="nul-character")
