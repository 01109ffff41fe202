"""Large events (大型活动碳中和): estimate, listings, and offsets bought and retired in one go."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, model_validator

from tanhui_shared.errors import NotFound
from tanhui_shared.methodology import FACTORS
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.quantities import WholeQuantity

from ..domain.event_estimate import EventActivity
from ..domain.event_trueup import accounting_deadline, neutrality
from ..store.lists import all_events, page_events
from ..store.market import latest_accounting, retired_for_event
from ..store.market_tables import EventAccounting, LargeEvent
from ..store.retirements import certificate_view
from ..usecases.market import Offset, file_actuals, offset_event, register_event
from .pages import Limit, page
from .pages import Offset as PageOffset

router = APIRouter(prefix="/api/v1", tags=["large events"])
# a billion of any unit is beyond any event; it also keeps the total inside NUMERIC(18, 6)
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1e9"), allow_inf_nan=False)]
Organizer = Annotated[Principal, Depends(require_role("organizer"))]


class Fuels(ApiModel):
    diesel_t: Amount = Decimal(0)
    gasoline_t: Amount = Decimal(0)
    natural_gas_nm3: Amount = Decimal(0)


class Travel(ApiModel):
    mode: Literal["air", "rail", "car", "bus", "metro"]
    person_km: Amount


class ActivityIn(ApiModel):
    """Activity data by the MEE 2019 guide's categories: energy (purchased electricity and
    heat, fuels), travel, accommodation, catering, materials, waste."""
    electricity_kwh: Amount = Decimal(0)
    grid_region: Literal["national", "sichuan"] = "national"
    grid_year: Literal[2022, 2023] = 2023
    heat_gj: Amount = Field(default=Decimal(0), description="purchased heat (steam, hot "
                            "water), GJ")
    fuels: Fuels = Fuels()
    travel: list[Travel] = Field(default_factory=list, max_length=50)
    accommodation_nights: Amount = Decimal(0)
    meals: Amount = Decimal(0)
    printed_materials_kg: Amount = Decimal(0)
    built_materials_kg: Amount = Decimal(0)
    waste_kg: Amount = Decimal(0)

    def activity(self) -> EventActivity:
        return EventActivity(
            electricity_kwh=self.electricity_kwh, grid_region=self.grid_region,
            grid_year=self.grid_year, heat_gj=self.heat_gj, diesel_t=self.fuels.diesel_t,
            gasoline_t=self.fuels.gasoline_t, natural_gas_nm3=self.fuels.natural_gas_nm3,
            travel=tuple((t.mode, t.person_km) for t in self.travel),
            accommodation_nights=self.accommodation_nights, meals=self.meals,
            printed_materials_kg=self.printed_materials_kg,
            built_materials_kg=self.built_materials_kg, waste_kg=self.waste_kg)

    def activity_json(self) -> str:
        return self.model_dump_json(include=set(ActivityIn.model_fields))


class EventCreate(ActivityIn):
    """An event and its plan: the activity data expected."""
    name: str = Field(min_length=1, max_length=200)
    start_date: date
    end_date: date
    venue: str = Field(min_length=1, max_length=200)
    attendees: int = Field(ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _dates_in_order(self) -> "EventCreate":
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class OffsetRequest(ApiModel):
    quantity: WholeQuantity | None = Field(
        default=None, description="default: what is still uncovered (credits needed by the "
        "final figure, or the plan until actuals are filed, minus those already retired); "
        "more than that only when given explicitly")


CITY_TZ = ZoneInfo("Asia/Shanghai")  # event dates are the city's calendar days


def _accounting_view(accounting: EventAccounting) -> dict[str, Any]:
    return {"revision": accounting.revision, "filed_at": accounting.filed_at,
            "activity": json.loads(accounting.activity),
            "estimate": json.loads(accounting.estimate)}


def event_view(session, event: LargeEvent) -> dict[str, Any]:  # noqa: ANN001
    """The plan, the final figure once actual data are filed, and neutrality judged on the
    final figure (on the plan, marked provisional, until then), with the accounting deadline."""
    retired = retired_for_event(session, event.id)
    plan = json.loads(event.estimate)
    accounting = latest_accounting(session, event.id)
    final = _accounting_view(accounting) if accounting else None
    state = neutrality(plan["credits_to_neutralise"],
                       final["estimate"]["credits_to_neutralise"] if final else None, retired)
    deadline = accounting_deadline(event.end_date)
    return {"id": event.id, "name": event.name, "start_date": event.start_date,
            "end_date": event.end_date, "venue": event.venue, "attendees": event.attendees,
            "organizer_user_id": event.organizer_user_id, "estimate": plan,
            "final": final, "provisional": state.provisional,
            "credits_needed": state.needed, "retired_credits": retired,
            "uncovered_credits": state.uncovered, "neutral": state.neutral,
            "accounting_deadline": deadline,
            "accounting_overdue": (state.provisional or not state.neutral)
            and _today() > deadline}


def _today() -> date:
    return datetime.now(CITY_TZ).date()


def offset_view(offset: Offset, session, base_url: str) -> dict[str, Any]:  # noqa: ANN001
    return {"quantity": offset.quantity,
            "certificate": certificate_view(offset.certificate, base_url),
            "payments": [{"listing_id": p.listing_id, "seller_user_id": p.seller_user_id,
                          "quantity": p.quantity, "price_per_tonne": str(p.price_per_tonne),
                          "amount": str(p.amount)} for p in offset.payments],
            "event": event_view(session, offset.event)}


@router.post("/events", status_code=201)
def create_event(body: EventCreate, principal: Organizer, session: SessionDep,
                 idem: Idempotency):
    def register(uow: UnitOfWork) -> dict[str, Any]:
        event = register_event(uow, principal.user_id, name=body.name,
                               start_date=body.start_date, end_date=body.end_date,
                               venue=body.venue, attendees=body.attendees,
                               activity=body.activity(), submitted=body.model_dump_json())
        return event_view(uow.session, event)

    return idem.execute(session, principal.user_id, register, status_code=201)


@router.get("/event-factors", tags=["large events"])
def event_factors(code: str | None = None, valid_on: date | None = None) -> list[dict[str, Any]]:
    """Every version of every factor an event estimate may use (the shared library), with its
    source and validity: `code` picks one factor, `valid_on` the versions valid that day."""
    return [{"code": f.code, "name": f.name, "category": f.category, "scope": f.scope,
             "activity_unit": f.activity_unit, "value": str(f.value), "unit": f.unit,
             "source": f.source, "version": f.version, "valid_from": f.valid_from.isoformat(),
             "valid_to": f.valid_to.isoformat() if f.valid_to else None}
            for f in FACTORS
            if (code is None or f.code == code) and (valid_on is None or f.valid_on(valid_on))]


@router.get("/events")
def my_events(principal: Organizer, session: SessionDep,
              status: Annotated[Literal["neutral", "uncovered"] | None, Query(
                  description="neutral: retired at least what the final figure (or the plan, "
                  "until actuals are filed) needs; uncovered: not yet")] = None,
              limit: Limit = 50, offset: PageOffset = 0) -> dict[str, Any]:
    """The organizer's own events, newest first, each as GET /events/{id} shows it."""
    if status is None:
        rows, total = page_events(session, principal.user_id, limit, offset)
        return page([event_view(session, row) for row in rows], total, limit, offset)
    # neutrality is derived (plan or final figure vs retirements), not stored: judged per event
    wanted = [view for view in (event_view(session, row)
                                for row in all_events(session, principal.user_id))
              if view["neutral"] == (status == "neutral")]
    return page(wanted[offset:offset + limit], len(wanted), limit, offset)


@router.get("/events/{event_id}")
def get_event(event_id: str, session: SessionDep) -> dict[str, Any]:
    event = session.get(LargeEvent, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}", code="event-not-found")
    return event_view(session, event)


@router.post("/events/{event_id}/actuals", status_code=201)
def file_event_actuals(event_id: str, body: ActivityIn, principal: Organizer,
                       session: SessionDep, idem: Idempotency):
    """After the event (from the day after its end date), its organizer files the actual
    activity data; the final figure is recomputed with the factors valid on the event's dates
    and kept beside the plan. Filing again is a revision: the latest counts, each stays on
    record. Neutrality and the default offset then follow the final figure."""
    def file(uow: UnitOfWork) -> dict[str, Any]:
        accounting = file_actuals(uow, principal.user_id, event_id, activity=body.activity(),
                                  submitted=body.activity_json(), today=_today())
        return event_view(uow.session, uow.session.get(LargeEvent, accounting.event_id))

    return idem.execute(session, principal.user_id, file, status_code=201)


@router.post("/events/{event_id}/offsets", status_code=201)
def offset(event_id: str, body: OffsetRequest, principal: Organizer, session: SessionDep,
           idem: Idempotency, request: Request):
    base_url = request.app.state.settings.public_base_url
    # with an Idempotency-Key, the answer is stored in the same transaction after the purchase:
    # the purchase's statement must not carry the COMMIT then
    return idem.execute(session, principal.user_id, lambda uow: offset_view(offset_event(
        uow, principal.user_id, event_id, body.quantity, last=idem.key is None), uow.session,
        base_url), status_code=201)
