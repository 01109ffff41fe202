"""Large events (大型活动碳中和): estimate, listings, and offsets bought and retired in one go."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser, Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.quantities import WholeQuantity

from ..domain.event_estimate import Estimate, EventActivity, estimate
from ..store.market import buy_and_retire, create_listing, open_listings, retired_for_event
from ..store.market_tables import LargeEvent, Listing
from ..store.retirements import certificate_view
from .errors import insufficient
from .holdings import require_account

router = APIRouter(prefix="/api/v1", tags=["large events"])
# a billion of any unit is beyond any event; it also keeps the total inside NUMERIC(18, 6)
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1e9"), allow_inf_nan=False)]
Organizer = Annotated[Principal, Depends(require_role("organizer"))]


class Fuels(BaseModel):
    diesel_t: Amount = Decimal(0)
    gasoline_t: Amount = Decimal(0)
    natural_gas_nm3: Amount = Decimal(0)


class Travel(BaseModel):
    mode: Literal["air", "rail", "car", "bus", "metro"]
    person_km: Amount


class EventCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    start_date: date
    end_date: date
    venue: str = Field(min_length=1, max_length=200)
    attendees: int = Field(ge=0, le=10_000_000)
    electricity_kwh: Amount = Decimal(0)
    grid_region: Literal["national", "sichuan"] = "national"
    grid_year: Literal[2022, 2023] = 2023
    fuels: Fuels = Fuels()
    travel: list[Travel] = Field(default_factory=list, max_length=50)
    accommodation_nights: Amount = Decimal(0)
    meals: Amount = Decimal(0)
    printed_materials_kg: Amount = Decimal(0)
    built_materials_kg: Amount = Decimal(0)
    waste_kg: Amount = Decimal(0)

    @model_validator(mode="after")
    def _dates_in_order(self) -> "EventCreate":
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self

    def activity(self) -> EventActivity:
        return EventActivity(
            electricity_kwh=self.electricity_kwh, grid_region=self.grid_region,
            grid_year=self.grid_year, diesel_t=self.fuels.diesel_t,
            gasoline_t=self.fuels.gasoline_t, natural_gas_nm3=self.fuels.natural_gas_nm3,
            travel=tuple((t.mode, t.person_km) for t in self.travel),
            accommodation_nights=self.accommodation_nights, meals=self.meals,
            printed_materials_kg=self.printed_materials_kg,
            built_materials_kg=self.built_materials_kg, waste_kg=self.waste_kg)


class ListingCreate(BaseModel):
    quantity: WholeQuantity
    price_per_tonne: Annotated[Decimal, Field(gt=0, le=Decimal("1e7"), max_digits=11,
                                              decimal_places=2, allow_inf_nan=False)]
    project_id: str | None = None
    vintage: int | None = Field(default=None, ge=1000, le=9999)


class OffsetRequest(BaseModel):
    quantity: WholeQuantity | None = None  # default: the estimate rounded up


def estimate_view(result: Estimate) -> dict[str, Any]:
    return {
        "total_tco2e": str(result.total_tco2e),
        "by_category": {k: str(v) for k, v in result.by_category.items()},
        "credits_to_neutralise": result.credits_to_neutralise(),
        "lines": [{"activity": line.activity, "quantity": str(line.quantity),
                   "tco2e": str(line.tco2e),
                   "factor": {"code": line.factor.code, "value": str(line.factor.value),
                              "unit": line.factor.unit, "source": line.factor.source,
                              "version": line.factor.version}}
                  for line in result.lines],
    }


def event_view(session, event: LargeEvent) -> dict[str, Any]:  # noqa: ANN001
    retired = retired_for_event(session, event.id)
    needed = json.loads(event.estimate)["credits_to_neutralise"]
    return {"id": event.id, "name": event.name, "start_date": event.start_date,
            "end_date": event.end_date, "venue": event.venue, "attendees": event.attendees,
            "organizer_user_id": event.organizer_user_id, "estimate": json.loads(event.estimate),
            "retired_credits": retired, "neutral": retired >= needed}


def listing_view(listing: Listing) -> dict[str, Any]:
    return {"id": listing.id, "seller_user_id": listing.seller_user_id,
            "project_id": listing.project_id, "vintage": listing.vintage,
            "quantity": listing.quantity, "remaining": listing.remaining,
            "price_per_tonne": str(listing.price_per_tonne), "status": listing.status}


@router.post("/events", status_code=201)
def register_event(body: EventCreate, principal: Organizer, session: SessionDep,
                   idem: Idempotency):
    result = estimate(body.activity())

    def do_it() -> dict[str, Any]:
        event = LargeEvent(organizer_user_id=principal.user_id, name=body.name,
                           start_date=body.start_date, end_date=body.end_date, venue=body.venue,
                           attendees=body.attendees, activity=body.model_dump_json(),
                           estimate=json.dumps(estimate_view(result)),
                           total_tco2e=result.total_tco2e)
        session.add(event)
        session.flush()
        return event_view(session, event)

    return idem.execute(session, principal.user_id, do_it, status_code=201)


@router.get("/events/{event_id}")
def get_event(event_id: str, session: SessionDep) -> dict[str, Any]:
    event = session.get(LargeEvent, event_id)
    if event is None:
        raise Problem(404, f"no event {event_id}")
    return event_view(session, event)


@router.post("/events/{event_id}/offsets", status_code=201)
def offset_event(event_id: str, body: OffsetRequest, principal: Organizer, session: SessionDep,
                 idem: Idempotency, request: Request):
    def do_it() -> dict[str, Any]:
        event = session.get(LargeEvent, event_id)
        if event is None:
            raise Problem(404, f"no event {event_id}")
        if event.organizer_user_id != principal.user_id:
            raise Problem(403, "only the event's organizer can offset it")
        account = require_account(session, principal.user_id)
        quantity = body.quantity or json.loads(event.estimate)["credits_to_neutralise"]
        if quantity <= 0:
            raise Problem(422, "the estimate is zero: give a quantity", field="quantity")
        with insufficient():
            certificate, payments = buy_and_retire(session, event, account.id, quantity)
        return {"quantity": quantity,
                "certificate": certificate_view(certificate,
                                                request.app.state.settings.public_base_url),
                "payments": [{"listing_id": p.listing_id, "seller_user_id": p.seller_user_id,
                              "quantity": p.quantity, "price_per_tonne": str(p.price_per_tonne),
                              "amount": str(p.amount)} for p in payments],
                "event": event_view(session, event)}

    return idem.execute(session, principal.user_id, do_it, status_code=201)


@router.post("/listings", status_code=201, tags=["listings"])
def list_credits(body: ListingCreate, principal: CurrentUser, session: SessionDep,
                 idem: Idempotency):
    def do_it() -> dict[str, Any]:
        account = require_account(session, principal.user_id)
        with insufficient():
            listing = create_listing(session, account.id, principal.user_id, body.quantity,
                                     body.price_per_tonne, body.project_id, body.vintage)
        return listing_view(listing)

    return idem.execute(session, principal.user_id, do_it, status_code=201)


@router.get("/listings", tags=["listings"])
def listings(session: SessionDep) -> list[dict[str, Any]]:
    """Open listings, cheapest first."""
    return [listing_view(listing) for listing in open_listings(session)]
