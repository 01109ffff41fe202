"""Personal carbon accounts (碳普惠): green trips, the points ledger, redemptions."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from tanhui_shared.errors import NotFound
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.service import SessionDep, in_request_session
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal, require_role
from tanhui_shared.web.idempotency import Idempotency, JsonReady
from tanhui_shared.web.json_body import JsonBody
from tanhui_shared.web.models import ApiModel, storable_text
from tanhui_shared.web.quantities import WholeQuantity

from ..domain.errors import NoPointsAccount
from ..domain.points import EXPIRY_NOTICE, EntryKind, PointsPosition, RedemptionState
from ..domain.travel import RULES, Mode
from ..domain.trip_batch import trip_time_problem
from ..store.points import ledger_page
from ..store.tables import PointsAccount, Redemption
from ..usecases.expiry import upcoming_expiry
from ..usecases.redemptions import request_redemption
from ..usecases import trips
from .collector import collector_paused
from .params import Id
from .trip_feed import QuickFeed, feed_records

router = APIRouter(prefix="/api/v1", tags=["personal carbon accounts"])
Citizen = Annotated[Principal, Depends(require_role("citizen"))]
TransitOperator = Annotated[Principal, Depends(require_role("transit_operator"))]


def _trip_time(moment: datetime) -> datetime:
    if problem := trip_time_problem(moment):
        raise ValueError(problem)
    return moment


# A time the trip rules can work with: converting it to UTC or the city's day cannot overflow.
TripTime = Annotated[AwareDatetime, AfterValidator(_trip_time)]


class TripIn(ApiModel):
    mode: Mode
    distance_km: Decimal = Field(gt=0, le=1000, max_digits=10, decimal_places=3, allow_inf_nan=False)
    started_at: TripTime = Field(description=(
        f"credited only within the platform's claim window (by default at most "
        f"{RULES.claim_window.max_age.days} days ago), and once the trip ended (clock skew "
        f"{RULES.claim_window.clock_skew.seconds // 60} min)"))
    ended_at: TripTime
    external_id: str = Field(min_length=1, max_length=128)

    # ApiModel's check of every field, narrowed to the one text field (the others are a number,
    # times and a mode, which it passes by): four calls fewer in every single trip's validation
    @field_validator("external_id", mode="after")
    @classmethod
    def _text_is_storable(cls, value: str) -> str:
        return storable_text(value)

    @field_validator("ended_at")
    @classmethod
    def _ends_after_it_starts(cls, ended_at: datetime, info: ValidationInfo) -> datetime:
        started_at = info.data.get("started_at")
        if started_at is not None and ended_at <= started_at:
            raise ValueError("ended_at must be after started_at")
        # Whether it may be claimed now (not in the future, not too old) is the trip rules'
        # claim window: a single trip's 422 names the field, a feed rejects just that record.
        return ended_at


class OperatorTripIn(TripIn):
    username: str = Field(min_length=1, max_length=64)

    # ApiModel's check of every field, narrowed to the text ones (the rest are numbers, times and
    # a mode): a feed's 70,000 calls were a sixth of its validation.
    @field_validator("username", "external_id", mode="after")
    @classmethod
    def _text_is_storable(cls, value: str) -> str:
        return storable_text(value)


class TripBatch(ApiModel):
    trips: list[OperatorTripIn] = Field(min_length=1, max_length=10_000)

    # ApiModel's check would walk the 10,000 records only to pass them by (it checks text, and
    # each record checks its own)
    @field_validator("trips", mode="after")
    @classmethod
    def _text_is_storable(cls, trips: list[OperatorTripIn]) -> list[OperatorTripIn]:
        return trips


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
    code: str  # the refusal's machine name, e.g. unknown-citizen, implausible-speed


class RecordResult(BaseModel):
    """One record of the feed: what became of it, in feed order."""

    index: int
    external_id: str
    outcome: Literal["accepted", "duplicate", "rejected"]
    code: str = Field(description="credited or capped (accepted), duplicate-external-id, or "
                      "the refusal's machine name (e.g. unknown-citizen, mode-not-licensed, "
                      "implausible-speed, trip-too-long, overlapping-trip, outside-claim-window)")
    reason: str | None  # in words; None for a fully credited trip
    trip_id: str | None  # the recorded trip (a duplicate: the first one); None if rejected
    points: int


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    points_awarded: int
    results: list[RecordResult]


@router.post("/trips", response_model=TripOut, status_code=201)
async def record_trip(trip: TripIn, citizen: Citizen, idem: Idempotency, request: Request):
    """Record one trip. A repeated external_id is answered with the first trip (nothing added)."""
    rules = request.app.state.travel_rules

    def record(uow: UnitOfWork) -> JsonReady:
        recorded = trips.record_trip(uow, citizen.user_id, mode=trip.mode,
                                     distance_km=trip.distance_km, started_at=trip.started_at,
                                     ended_at=trip.ended_at, external_id=trip.external_id,
                                     rules=rules)
        # TripOut's JSON form, as jsonable_encoder made it from the model (its model_dump in
        # JSON mode, then a walk that changes nothing in it), sent and stored as it is
        return JsonReady(TripOut.model_validate(recorded, from_attributes=True)
                         .model_dump(mode="json"))

    # async, with its database work (session, unit of work) in one hop to a worker thread, the
    # lean one of web/worker_threads.py: not FastAPI's hop for a sync endpoint, nor SessionDep
    return await in_request_session(
        request, lambda session: idem.execute(session, citizen.user_id, record, status_code=201))


# Validated from the body's bytes (FastAPI would json.loads it first): the OpenAPI document still
# says TripBatch, and a refused feed's 422 is worded as before.
TRIP_BATCH = JsonBody(TripBatch)
# Read quickly when it can be (trip_feed), the same records as TripBatch's otherwise
FEED_RECORDS = feed_records(QuickFeed(OperatorTripIn, TripBatch), TRIP_BATCH, lambda batch: [
    trips.CardRecord(username=t.username, mode=t.mode, distance_km=t.distance_km,
                     started_at=t.started_at, ended_at=t.ended_at, external_id=t.external_id)
    for t in batch.trips])


@router.post("/trips/batch", response_model=BatchOut, openapi_extra=TRIP_BATCH.openapi_extra,
             dependencies=[Depends(collector_paused)])
def record_trip_batch(operator: TransitOperator, session: SessionDep, idem: Idempotency,
                      request: Request,
                      records: Annotated[list[trips.CardRecord], Depends(FEED_RECORDS)]):
    """Transit operators' feed: up to 10,000 card records naming their citizens."""
    # `records` last: as with a declared body, who is asking (401/403) and the Idempotency-Key
    # (422) are checked before the body is

    def record(uow: UnitOfWork) -> JsonReady:
        outcome = trips.record_trip_batch(uow, operator.user_id, records,
                                          request.app.state.travel_rules)
        # BatchOut's shape, built as plain JSON: a model per record, then jsonable_encoder over
        # them all, cost more than the feed's writes (the OpenAPI schema still says BatchOut);
        # each record's result is already a dict of RecordResult's fields, in their order
        return JsonReady(
            accepted=outcome.accepted, duplicates=outcome.duplicates,
            rejected=[{"index": i, "reason": str(r), "code": getattr(r, "code", "trip-refused")}
                      for i, r in outcome.rejected],
            points_awarded=outcome.points_awarded, results=outcome.results)

    return idem.execute(session, operator.user_id, record)


class LedgerEntryOut(BaseModel):
    id: int
    kind: EntryKind
    points: int
    balance_after: int
    held_after: int
    trip_id: str | None
    redemption_id: str | None
    created_at: datetime


class ExpiringOut(BaseModel):
    expires_at: datetime  # already past: due, expired at the next run or redemption
    points: int


class CarbonAccountOut(BaseModel):
    balance: int
    on_hold: int
    available: int
    reduction_kg: Decimal
    points_per_credit: int
    redemption_unit_points: int
    redemption_unit_kg: int
    expiring_within_days: int
    expiring: list[ExpiringOut]  # FIFO by earning date: the oldest available points go first
    entries_total: int
    entries: list[LedgerEntryOut]


@router.get("/me/carbon-account", response_model=CarbonAccountOut)
def my_carbon_account(citizen: Citizen, session: SessionDep,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> CarbonAccountOut:
    account = session.get(PointsAccount, citizen.user_id)
    if account is None:
        raise NoPointsAccount()
    total, entries = ledger_page(session, citizen.user_id, limit, offset)
    upcoming = upcoming_expiry(session, citizen.user_id,
                               PointsPosition(account.balance, account.held), utcnow())
    return CarbonAccountOut(
        balance=account.balance, on_hold=account.held, available=account.balance - account.held,
        reduction_kg=(Decimal(account.reduction_g) / 1000).quantize(Decimal("0.001")),
        points_per_credit=RULES.points_per_credit,
        redemption_unit_points=RULES.redemption_unit_points,
        redemption_unit_kg=RULES.redemption_unit_kg,
        expiring_within_days=EXPIRY_NOTICE.days,
        expiring=[ExpiringOut(expires_at=at, points=p) for at, p in upcoming],
        entries_total=total,
        entries=[LedgerEntryOut.model_validate(e, from_attributes=True) for e in entries])


class RedemptionIn(ApiModel):
    points: WholeQuantity


class RedemptionOut(BaseModel):
    id: str
    points: int
    kg: int  # CO2e share of a pooled retirement the points buy
    quantity: int | None  # whole credits, for redemptions made before pooling
    state: RedemptionState
    reason: str | None
    certificate_id: str | None
    created_at: datetime
    settled_at: datetime | None


@router.post("/me/redemptions", response_model=RedemptionOut, status_code=202)
def redeem_points(body: RedemptionIn, citizen: Citizen, session: SessionDep, idem: Idempotency):
    """Hold the points (whole units of 1,000 points = 10 kg CO2e) and ask credits for that share
    of a pooled retirement from the city's inclusion pool; completed once all of it is retired."""
    def redeem(uow: UnitOfWork) -> RedemptionOut:
        redemption = request_redemption(uow, citizen.user_id, citizen.username, body.points)
        return RedemptionOut.model_validate(redemption, from_attributes=True)

    return idem.execute(session, citizen.user_id, redeem, status_code=202)


@router.get("/me/redemptions/{redemption_id}", response_model=RedemptionOut)
def my_redemption(redemption_id: Id, citizen: Citizen, session: SessionDep) -> Redemption:
    redemption = session.get(Redemption, redemption_id)
    if redemption is None or redemption.user_id != citizen.user_id:
        raise NotFound("no such redemption", code="redemption-not-found")
    return redemption
