"""The caller's holdings and transfers between holding accounts."""
from __future__ import annotations

from pydantic import BaseModel, Field

from fastapi import APIRouter

from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.quantities import WholeQuantity

from ..store.accounts import account_by_username, account_of
from ..store.blocks import serial_range
from ..store.tables import HoldingAccount
from ..store.transfers import holdings, transfer
from .errors import insufficient

router = APIRouter(prefix="/api/v1", tags=["registry"])


class SerialBlockView(BaseModel):
    serial: str  # the range, e.g. NC-FS-0004-2025-000000001-000003000
    project_id: str
    vintage: int
    quantity: int
    listing_id: str | None  # reserved for this open listing of yours


class Holdings(BaseModel):
    account_id: str
    total: int
    available: int  # not reserved by a listing
    blocks: list[SerialBlockView]


class TransferRequest(BaseModel):
    to_username: str = Field(min_length=1, max_length=64)
    quantity: WholeQuantity
    project_id: str | None = None
    vintage: int | None = Field(default=None, ge=1000, le=9999)


def require_account(session, user_id: str) -> HoldingAccount:  # noqa: ANN001
    account = account_of(session, user_id)
    if account is None:
        # Accounts open asynchronously from UserRegistered; right after registration this is normal.
        raise Problem(404, "no holding account yet: it opens shortly after registration; retry")
    return account


@router.get("/holdings", response_model=Holdings)
def my_holdings(principal: CurrentUser, session: SessionDep) -> Holdings:
    account = require_account(session, principal.user_id)
    rows = holdings(session, account.id)
    return Holdings(
        account_id=account.id, total=sum(r.quantity for r in rows),
        available=sum(r.quantity for r in rows if r.listing_id is None),
        blocks=[SerialBlockView(serial=serial_range(r), project_id=r.project_id,
                                vintage=r.vintage, quantity=r.quantity, listing_id=r.listing_id)
                for r in rows])


@router.post("/transfers", status_code=201)
def transfer_credits(body: TransferRequest, principal: CurrentUser, session: SessionDep,
                     idem: Idempotency):
    def do_it() -> dict:
        sender = require_account(session, principal.user_id)
        receiver = account_by_username(session, body.to_username)
        if receiver is None:
            raise Problem(404, f"no holding account for to_username {body.to_username!r}",
                          field="to_username")
        if receiver.id == sender.id:
            raise Problem(422, "cannot transfer to yourself", field="to_username")
        with insufficient():
            moved = transfer(session, sender.id, receiver.id, body.quantity,
                             actor_user_id=principal.user_id, project_id=body.project_id,
                             vintage=body.vintage)
        return {**moved, "from_username": sender.owner_username, "to_username": body.to_username}

    return idem.execute(session, principal.user_id, do_it, status_code=201)
