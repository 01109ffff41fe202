"""Owner-scoped lists (issue 14): what a user owns or did, so the console never keeps it in the
browser. Every list takes limit (1..200) and offset and answers {items, total, limit, offset}."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from tanhui_shared.errors import Invalid
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import Principal, require_role

from ..domain.accreditation import GrantStatus, city_today, standing
from ..domain.claims import ClaimStatus
from ..domain.identity import Role
from ..domain.points import RedemptionState
from ..domain.travel import Mode
from ..store import journeys
from ..store.accreditations import facts
from .citizens import RedemptionOut
from .enterprises import EnterpriseOut
from .pages import Limit, Offset, Page

router = APIRouter(prefix="/api/v1", tags=["lists"])
Citizen = Annotated[Principal, Depends(require_role("citizen"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
EnterpriseReader = Annotated[Principal, Depends(require_role("enterprise", "regulator"))]


@router.get("/enterprises", response_model=Page[EnterpriseOut])
def list_enterprises(user: EnterpriseReader, session: SessionDep,
                     claim_status: ClaimStatus | None = None, limit: Limit = 50,
                     offset: Offset = 0) -> Page[EnterpriseOut]:
    """An enterprise account's own enterprises (those it registered or belongs to); the
    regulator's view is every enterprise. Newest first."""
    member = None if user.role == Role.REGULATOR.value else user.user_id
    total, rows = journeys.enterprises_page(session, member, claim_status, limit=limit,
                                            offset=offset)
    return Page(items=[EnterpriseOut.model_validate(e, from_attributes=True) for e in rows],
                total=total, limit=limit, offset=offset)


class TripView(BaseModel):
    trip_id: str
    external_id: str
    mode: Mode
    distance_km: Decimal
    started_at: datetime
    ended_at: datetime
    reduction_kg: Decimal
    points: int
    status: Literal["credited", "capped"]  # capped: a daily cap cut its points (capped_by says)
    capped_by: str | None
    source: str  # "app" (the citizen's own), or the transit operator's username that fed it


@router.get("/me/trips", response_model=Page[TripView])
def my_trips(citizen: Citizen, session: SessionDep, mode: Mode | None = None,
             since: Annotated[date | None, Query(
                 description="the first city calendar day (Asia/Shanghai), inclusive")] = None,
             until: Annotated[date | None, Query(
                 description="the last city calendar day, inclusive")] = None,
             limit: Limit = 50, offset: Offset = 0) -> Page[TripView]:
    """The citizen's recorded trips, newest first, each with its mode, distance and points (the
    ledger's earn entries name these trips by trip_id)."""
    if since is not None and until is not None and until < since:
        raise Invalid("until must not be before since", field="until", code="range-reversed")
    total, rows = journeys.trips_page(session, citizen.user_id, mode=mode, since=since,
                                      until=until, limit=limit, offset=offset)
    items = [TripView(trip_id=t.id, external_id=t.external_id, mode=Mode(t.mode),
                      distance_km=t.distance_km, started_at=t.started_at, ended_at=t.ended_at,
                      reduction_kg=(Decimal(t.reduction_g) / 1000).quantize(Decimal("0.001")),
                      points=t.points, status="capped" if t.capped_by else "credited",
                      capped_by=t.capped_by, source=operator or "app")
             for t, operator in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/me/redemptions", response_model=Page[RedemptionOut])
def my_redemptions(citizen: Citizen, session: SessionDep,
                   status: RedemptionState | None = None, limit: Limit = 50,
                   offset: Offset = 0) -> Page[RedemptionOut]:
    """The citizen's redemptions, newest first, with their certificate once settled."""
    total, rows = journeys.redemptions_page(session, citizen.user_id, status, limit=limit,
                                            offset=offset)
    return Page(items=[RedemptionOut.model_validate(r, from_attributes=True) for r in rows],
                total=total, limit=limit, offset=offset)


class UserSummary(BaseModel):
    user_id: str
    username: str
    role: str
    created_at: datetime
    # verifiers and transit operators: their grant's standing today; null without any grant
    accreditation_status: GrantStatus | None


@router.get("/users", response_model=Page[UserSummary])
def list_users(admin: Admin, session: SessionDep, role: Role | None = None,
               q: Annotated[str | None, Query(min_length=1, max_length=64,
                                              pattern=r"^[^\x00]*$",
                                              description="part of the username")] = None,
               limit: Limit = 50, offset: Offset = 0) -> Page[UserSummary]:
    """Every account, newest first (administrators only); never a password hash."""
    total, users = journeys.users_page(session, role, q, limit=limit, offset=offset)
    grants = journeys.grants_by_user(session, [u.id for u in users])
    today = city_today()
    items = [UserSummary(user_id=u.id, username=u.username, role=u.role,
                         created_at=u.created_at,
                         accreditation_status=standing([facts(g) for g in grants[u.id]], today))
             for u in users]
    return Page(items=items, total=total, limit=limit, offset=offset)
