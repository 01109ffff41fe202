from __future__ import annotations

from pydantic import BaseModel

from fastapi import APIRouter

from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.problems import Problem

from ..store.accounts import account_of

router = APIRouter(prefix="/api/v1", tags=["registry"])


class SerialBlockView(BaseModel):
    serial: str
    quantity: int


class Holdings(BaseModel):
    account_id: str
    total: int
    blocks: list[SerialBlockView]


@router.get("/holdings", response_model=Holdings)
def my_holdings(principal: CurrentUser, session: SessionDep) -> Holdings:
    account = account_of(session, principal.user_id)
    if account is None:
        # Accounts open asynchronously from UserRegistered; right after registration this is normal.
        raise Problem(404, "no holding account yet: it opens shortly after registration; retry")
    return Holdings(account_id=account.id, total=0, blocks=[])
