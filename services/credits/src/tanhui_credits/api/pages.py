"""The list endpoints' shared shape (issue 14): `limit` (1..200, default 50) and `offset` in,
`{"items", "total", "limit", "offset"}` out; and who "mine" is."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tanhui_shared.errors import Invalid
from tanhui_shared.web.auth import Principal, TokenVerifier

Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]
Mine = Annotated[bool, Query(description="the caller's own records; the only list there is")]

_bearer = HTTPBearer(auto_error=False)


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def only_mine(mine: bool) -> None:
    """These lists are owner-scoped: there is no "everyone's" to ask for."""
    if not mine:
        raise Invalid("only your own records are listed here: mine=true", field="mine",
                      code="mine-only")


def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """No token: an anonymous reader of a public list. A token sent is still checked (401)."""
    if credentials is None:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials)


Viewer = Annotated[Principal | None, Depends(optional_principal)]
