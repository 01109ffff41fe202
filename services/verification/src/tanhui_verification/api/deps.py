"""Who is asking: required roles for actions, an optional caller for public reads."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tanhui_shared.web.auth import Principal, require_role, verified

from ..domain.plausibility import PlausibilityBounds

# Ids and filters reach SQL as text: a NUL character (which PostgreSQL cannot take, even in a
# comparison) is a 422 naming the parameter. Any other text that is no id is simply not found.
_NO_NUL = r"^[^\x00]*$"
ProjectId = Annotated[str, Path(pattern=_NO_NUL)]
ReportId = Annotated[str, Path(pattern=_NO_NUL)]
LossId = Annotated[str, Path(pattern=_NO_NUL)]
TextFilter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=_NO_NUL)]

Developer = Annotated[Principal, Depends(require_role("project_developer"))]
Verifier = Annotated[Principal, Depends(require_role("verifier"))]

_bearer = HTTPBearer(auto_error=False)


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """No token: an anonymous reader of the public registry. A bad token is still a 401."""
    if credentials is None:  # async: no worker-thread hop for an anonymous reader either
        return None
    return await verified(request, credentials.credentials)


Viewer = Annotated[Principal | None, Depends(optional_principal)]


# async, as the two below: a read of the settings needs no worker-thread hop
async def strict_conflicts(request: Request) -> bool:
    return request.app.state.settings.conflict_of_interest_strict


async def plausibility(request: Request) -> PlausibilityBounds:
    return request.app.state.settings.plausibility()


Bounds = Annotated[PlausibilityBounds, Depends(plausibility)]
