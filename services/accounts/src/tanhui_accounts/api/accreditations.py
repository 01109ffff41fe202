"""Accreditations: admins grant, revoke and rotate; anyone reads the public list."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork, run_unit_of_work
from tanhui_shared.web.auth import Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel

from ..client_secrets import digest, new_client_secret
from ..domain.accreditation import GrantStatus, Terms, city_today, grant_status
from ..domain.identity import Role
from ..domain.travel import Mode
from ..store.access_tables import Accreditation
from ..store.accreditations import grant_page, holder_name
from ..usecases.accreditation import (grant_accreditation, new_credentials, revoke_accreditation,
                                      rotate_client_secret)
from .params import Id

router = APIRouter(prefix="/api/v1", tags=["accreditation"])
Admin = Annotated[Principal, Depends(require_role("admin"))]
GrantedRole = Literal["verifier", "transit_operator"]


class GrantIn(ApiModel):
    role: GrantedRole
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$",
                          description="3-64 characters: lower-case letters, digits, _ . -")
    organisation: str = Field(min_length=1, max_length=200)
    number: str = Field(min_length=1, max_length=64,
                        description="the accreditation (verifier) or licence (operator) number")
    valid_from: date
    valid_to: date = Field(description="the last day the grant is valid (inclusive)")
    modes: list[Mode] = Field(default=[], max_length=len(Mode),
                              description="a transit operator's licensed modes; a verifier's none")


class RevokeIn(ApiModel):
    reason: str = Field(min_length=1, max_length=500)


class GrantOut(BaseModel):
    id: str
    role: str
    username: str
    organisation: str
    number: str
    valid_from: date
    valid_to: date
    modes: list[str]
    status: GrantStatus
    granted_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


class GrantedOut(GrantOut):
    """The grant, and a new account's first credentials: shown in this answer only."""

    initial_password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class GrantPage(BaseModel):
    items: list[GrantOut]
    total: int
    limit: int
    offset: int


class SecretOut(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown in this answer only")
    previous_valid_until: datetime = Field(description="the replaced secret works until then")


def grant_view(grant: Accreditation, username: str, today: date) -> dict:
    status = grant_status(grant.valid_from, grant.valid_to, grant.revoked_at is not None, today)
    return {"id": grant.id, "role": grant.role, "username": username,
            "organisation": grant.organisation, "number": grant.number,
            "valid_from": grant.valid_from, "valid_to": grant.valid_to,
            "modes": list(grant.modes), "status": status, "granted_at": grant.granted_at,
            "revoked_at": grant.revoked_at, "revocation_reason": grant.revocation_reason}


# Not behind the Idempotency-Key layer: it would keep the one-time secret in its stored answer.
# A repeated grant meets the existing grant (409) instead of granting twice.
@router.post("/accreditations", status_code=201, response_model=GrantedOut)
def grant(body: GrantIn, admin: Admin, session: SessionDep) -> GrantedOut:
    """Accredit a verification body or license a transit operator (a new username gets an
    account; an existing one of the same role a renewal)."""
    terms = Terms(Role(body.role), body.organisation, body.number, body.valid_from,
                  body.valid_to, tuple(body.modes))
    credentials = new_credentials(terms.role)  # hashing is slow: outside the transaction
    granted = run_unit_of_work(session, lambda uow: grant_accreditation(
        uow, body.username, terms, credentials, granted_by=admin.user_id))
    return GrantedOut(**grant_view(granted.grant, granted.username, city_today()),
                      initial_password=granted.initial_password, client_id=granted.client_id,
                      client_secret=granted.client_secret)


@router.post("/accreditations/{accreditation_id}/revoke", response_model=GrantOut)
def revoke(accreditation_id: Id, body: RevokeIn, admin: Admin, session: SessionDep,
           idem: Idempotency):
    """Revoke a grant: its holder gets no token and creates no value from now on."""
    def run(uow: UnitOfWork) -> GrantOut:
        grant = revoke_accreditation(uow, accreditation_id, body.reason, admin.user_id, utcnow())
        return GrantOut(**grant_view(grant, holder_name(uow.session, grant), city_today()))

    return idem.execute(session, admin.user_id, run)


# Not behind the Idempotency-Key layer either: the answer is the new secret.
@router.post("/accreditations/{accreditation_id}/client-secret", response_model=SecretOut)
def new_secret(accreditation_id: Id, admin: Admin, session: SessionDep,
               request: Request) -> SecretOut:
    """A new client secret for the transit operator holding this grant; the previous one keeps
    working for the configured overlap (TANHUI_CLIENT_SECRET_OVERLAP_S)."""
    secret = new_client_secret()
    overlap = timedelta(seconds=request.app.state.settings.client_secret_overlap_s)
    rotated = run_unit_of_work(session, lambda uow: rotate_client_secret(
        uow, accreditation_id, digest(secret), overlap, utcnow()))
    return SecretOut(client_id=rotated.client_id, client_secret=secret,
                     previous_valid_until=rotated.previous_valid_until)


@router.get("/accreditations", response_model=GrantPage)
def public_list(session: SessionDep, role: GrantedRole | None = None,
                status: GrantStatus | None = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> GrantPage:
    """Public: every grant and revocation with its dates, newest first."""
    today = city_today()
    total, rows = grant_page(session, today, role=role, status=status, limit=limit, offset=offset)
    return GrantPage(items=[GrantOut(**grant_view(g, name, today)) for g, name in rows],
                     total=total, limit=limit, offset=offset)
