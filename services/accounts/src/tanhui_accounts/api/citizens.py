"""Personal carbon accounts (碳普惠): green trips, the points ledger, redemptions."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from tanhui_shared.contracts import RedemptionRequested
from tanhui_shared.messaging import record_event
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.quantities import WholeQuantity

from ..domain.points import EntryKind, InsufficientPoints, RedemptionState
from ..domain.travel import RULES, Mode
from ..domain.trip_batch import TripClaim
from ..store.points import ledger_page, post_entry
from ..store.tables import GreenTrip, PointsAccount, Redemption, User
from ..store.trips import lock_points_accounts, record_trips

router = APIRouter(prefix="/api/v1", tags=["personal carbon accounts"])
Citizen = Annotated[Principal, Depends(require_role("citizen"))]
TransitOperator = Annotated[Principal, Depends(require_role("transit_operator"))]

CLOCK_SKEW = timedelta(minutes=5)


class TripIn(BaseModel):
    mode: Mode
    distance_km: Decimal = Field(gt=0, le=1000, max_digits=10, decimal_places=3, allow_inf_nan=False)
    started_at: AwareDatetime
    ended_at: AwareDatetime
    external_id: str = Field(min_length=1, max_length=128)

    @field_validator("ended_at")
    @classmethod
    def _ends_after_it_starts(cls, ended_at: datetime, info: ValidationInfo) -> datetime:
        started_at = info.data.get("started_at")
        if started_at is not None and ended_at <= started_at:
            raise ValueError("ended_at must be after started_at")
        if ended_at > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError("ended_at is in the future")
        return ended_at


class OperatorTripIn(TripIn):
    username: str = Field(min_length=1, max_length=64)


class TripBatch(BaseModel):
    trips: list[OperatorTripIn] = Field(min_length=1, max_length=10_000)


class TripOut(BaseModel):
    id: str | None
    status: Literal["accepted", "duplicate"]
    mode: Mode
    distance_km: Decimal
    reduction_g: Decimal
    points: int
    capped_by: str | None = None


class Rejection(BaseModel):
    index: int
    reason: str


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    points_awarded: int


def _claim(index: int, user_id: str, trip: TripIn) -> TripClaim:
    return TripClaim(index, user_id, trip.mode, trip.distance_km, trip.started_at.astimezone(UTC),
                     trip.ended_at.astimezone(UTC), trip.external_id)


@router.post("/trips", response_model=TripOut, status_code=201)
def record_trip(trip: TripIn, citizen: Citizen, session: SessionDep) -> TripOut:
    """Record one trip. A repeated external_id is answered with the first trip (nothing added)."""
    with session.begin():
        (decision, trip_id), = record_trips(session, [_claim(0, citizen.user_id, trip)],
                                            citizen.user_id, RULES)
        if decision.status == "rejected":
            raise Problem(422, decision.reason, title="Trip not credited", field="trip",
                          reason=decision.reason)
        if decision.status == "duplicate":
            first = session.exec(GreenTrip.__table__.select()
                                 .where(GreenTrip.__table__.c.user_id == citizen.user_id)
                                 .where(GreenTrip.__table__.c.external_id == trip.external_id)).one()
            return TripOut(id=first.id, status="duplicate", mode=first.mode,
                           distance_km=first.distance_km, reduction_g=first.reduction_g,
                           points=first.points, capped_by=first.capped_by)
    return TripOut(id=trip_id, status="accepted", mode=trip.mode, distance_km=trip.distance_km,
                   reduction_g=decision.reduction_g, points=decision.points,
                   capped_by=decision.reason)


@router.post("/trips/batch", response_model=BatchOut)
def record_trip_batch(batch: TripBatch, operator: TransitOperator, session: SessionDep) -> BatchOut:
    """Transit operators' feed: up to 10,000 card records naming their citizens."""
    with session.begin():
        names = sorted({t.username for t in batch.trips})
        ids = dict(session.exec(User.__table__.select().with_only_columns(
            User.__table__.c.username, User.__table__.c.id)
            .where(User.__table__.c.username.in_(names))).all())
        rejected = [Rejection(index=i, reason=f"unknown citizen {t.username!r}")
                    for i, t in enumerate(batch.trips) if t.username not in ids]
        claims = [_claim(i, ids[t.username], t) for i, t in enumerate(batch.trips) if t.username in ids]
        results = record_trips(session, claims, operator.user_id, RULES) if claims else []
    rejected += [Rejection(index=d.claim.index, reason=d.reason) for d, _ in results
                 if d.status == "rejected"]
    return BatchOut(accepted=sum(d.status == "accepted" for d, _ in results),
                    duplicates=sum(d.status == "duplicate" for d, _ in results),
                    rejected=sorted(rejected, key=lambda r: r.index),
                    points_awarded=sum(d.points for d, _ in results))


class LedgerEntryOut(BaseModel):
    id: int
    kind: EntryKind
    points: int
    balance_after: int
    held_after: int
    trip_id: str | None
    redemption_id: str | None
    created_at: datetime


class CarbonAccountOut(BaseModel):
    balance: int
    on_hold: int
    available: int
    reduction_kg: Decimal
    points_per_credit: int
    entries_total: int
    entries: list[LedgerEntryOut]


@router.get("/me/carbon-account", response_model=CarbonAccountOut)
def my_carbon_account(citizen: Citizen, session: SessionDep,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> CarbonAccountOut:
    account = session.get(PointsAccount, citizen.user_id)
    if account is None:
        raise Problem(404, "no personal carbon account for this user")
    total, entries = ledger_page(session, citizen.user_id, limit, offset)
    return CarbonAccountOut(
        balance=account.balance, on_hold=account.held, available=account.balance - account.held,
        reduction_kg=(Decimal(account.reduction_g) / 1000).quantize(Decimal("0.001")),
        points_per_credit=RULES.points_per_credit, entries_total=total,
        entries=[LedgerEntryOut.model_validate(e, from_attributes=True) for e in entries])


class RedemptionIn(BaseModel):
    points: WholeQuantity


class RedemptionOut(BaseModel):
    id: str
    points: int
    quantity: int
    state: RedemptionState
    reason: str | None
    certificate_id: str | None
    created_at: datetime
    settled_at: datetime | None


@router.post("/me/redemptions", response_model=RedemptionOut, status_code=202)
def redeem_points(body: RedemptionIn, citizen: Citizen, session: SessionDep, idem: Idempotency):
    """Hold the points and ask credits to retire sink credits in the citizen's name."""
    if body.points % RULES.points_per_credit:
        raise Problem(422, f"points must be a whole number of credits "
                      f"({RULES.points_per_credit} points each)", field="points")

    def hold() -> RedemptionOut:
        accounts = lock_points_accounts(session, [citizen.user_id])
        if not accounts:
            raise Problem(404, "no personal carbon account for this user")
        redemption = Redemption(user_id=citizen.user_id, points=body.points,
                                quantity=body.points // RULES.points_per_credit,
                                state=RedemptionState.PENDING.value)
        try:
            post_entry(session, accounts[citizen.user_id], EntryKind.HOLD, body.points, redemption.id)
        except InsufficientPoints as exc:
            raise Problem(409, str(exc), title="Not enough points", field="points") from None
        session.add(redemption)
        record_event(session, RedemptionRequested(
            redemption_id=redemption.id, user_id=citizen.user_id, username=citizen.username,
            points=redemption.points, quantity=redemption.quantity))
        session.flush()
        return RedemptionOut.model_validate(redemption, from_attributes=True)

    return idem.execute(session, citizen.user_id, hold, status_code=202)


@router.get("/me/redemptions/{redemption_id}", response_model=RedemptionOut)
def my_redemption(redemption_id: str, citizen: Citizen, session: SessionDep) -> Redemption:
    redemption = session.get(Redemption, redemption_id)
    if redemption is None or redemption.user_id != citizen.user_id:
        raise Problem(404, "no such redemption")
    return redemption
