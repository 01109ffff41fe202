"""The caller's holdings and transfers between holding accounts."""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.quantities import WholeQuantity

from ..store.blocks import serial_range
from ..store.holdings import holdings
from ..usecases.common import require_account
from ..usecases.transfers import transfer_credits

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


class TransferRequest(ApiModel):
    to_username: str = Field(min_length=1, max_length=64)
    quantity: WholeQuantity
    project_id: str | None = Field(default=None, max_length=200)
    vintage: int | None = Field(default=None, ge=1000, le=9999)


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
def transfer(body: TransferRequest, principal: CurrentUser, session: SessionDep,
             idem: Idempotency):
    return idem.execute(session, principal.user_id, lambda uow: asdict(transfer_credits(
        uow, principal.user_id, body.to_username, body.quantity, project_id=body.project_id,
        vintage=body.vintage)), status_code=201)
