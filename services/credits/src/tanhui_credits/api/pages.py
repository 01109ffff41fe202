"""The list endpoints' shared shape (issue 14): `limit` (1..200, default 50) and `offset` in,
`{"items", "total", "limit", "offset"}` out; and who "mine" is. A public list that grows with the
city (the registry's blocks and compensations) also takes an opaque `after` cursor and answers
`next`, the last item's sort key, as accounts' disclosures do: a page then starts at an index
position instead of skipping `offset` rows."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tanhui_shared.errors import Invalid
from tanhui_shared.web.auth import Principal, verified

Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]
After = Annotated[str | None, Query(
    max_length=500, pattern=r"^[A-Za-z0-9_-]+$",
    description="the `next` of the previous page (an index range whatever the depth; `offset` "
                "skips rows and still works)")]
Mine = Annotated[bool, Query(description="the caller's own records; the only list there is")]

_bearer = HTTPBearer(auto_error=False)


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def keyset_page(items: list[Any], total: int, limit: int, offset: int,
                last: list | None) -> dict[str, Any]:
    """A page with `next`: the cursor of `last` (the page's last item's sort key) when more
    follow, else null."""
    return {**page(items, total, limit, offset), "next": None if last is None else _encode(last)}


def _encode(key: list) -> str:
    raw = json.dumps(key, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_after(after: str | None, offset: int, valid: Callable[[list], bool]) -> list | None:
    """The sort key a cursor holds, or None without one. A cursor arrives from a client: one
    this API never handed out (`valid` refuses its shape), or one sent with an offset, is a 422
    naming the field, never a query built on it."""
    if after is None:
        return None
    if offset:
        _refuse("offset", "`after` continues from a cursor: leave `offset` out", offset)
    try:
        key = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list) or not valid(key):
        _refuse("after", "not a cursor this API handed out (the `next` of a page)", after)
    return key


def _refuse(field: str, message: str, value: object) -> None:
    # answered like any other refused query parameter (errors[] naming it), as accounts'
    # disclosures answer a bad cursor
    raise RequestValidationError([{"type": "value_error", "loc": ("query", field),
                                   "msg": message, "input": value}])


def only_mine(mine: bool) -> None:
    """These lists are owner-scoped: there is no "everyone's" to ask for."""
    if not mine:
        raise Invalid("only your own records are listed here: mine=true", field="mine",
                      code="mine-only")


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """No token: an anonymous reader of a public list. A token sent is still checked (401)."""
    if credentials is None:  # async: no worker-thread hop for an anonymous reader either
        return None
    return await verified(request, credentials.credentials)


Viewer = Annotated[Principal | None, Depends(optional_principal)]
