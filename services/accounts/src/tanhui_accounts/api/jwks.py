from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tanhui_shared.service import SessionDep

from ..store.users import retired_kids

router = APIRouter(tags=["identity"])


@router.get("/.well-known/jwks.json")
def jwks(request: Request, response: Response, session: SessionDep) -> dict:
    response.headers["Cache-Control"] = "public, max-age=300"
    keys = request.app.state.published_keys
    retired = retired_kids(session, [key["kid"] for key in keys])  # retired by an operator since start
    return {"keys": [key for key in keys if key["kid"] not in retired]}
