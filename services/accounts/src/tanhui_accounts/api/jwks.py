from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["identity"])


@router.get("/.well-known/jwks.json")
def jwks(request: Request, response: Response) -> dict:
    response.headers["Cache-Control"] = "public, max-age=300"
    return {"keys": request.app.state.published_keys}
