"""Green trips: one from a citizen's app, or a transit operator's feed of card records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tanhui_shared.errors import Forbidden
from tanhui_shared.uow import UnitOfWork

from ..domain.accreditation import city_today, licence_refusal, why_not_valid
from ..domain.errors import NoPointsAccount, TripNotCredited
from ..domain.identity import Role
from ..domain.travel import RULES, Mode, TravelRules
from ..domain.trip_batch import TripClaim
from ..store.trips import NO_ACCOUNT, first_trip, record_trips
from ..store.accreditations import facts, grants_of, live_grant
from ..store.users import user_ids_by_name


@dataclass(frozen=True)
class RecordedTrip:
    id: str
    status: str  # accepted | duplicate (then this is the first trip with its external id)
    mode: Mode
    distance_km: Decimal
    reduction_g: Decimal
    points: int
    capped_by: str | None


def record_trip(uow: UnitOfWork, citizen_id: str, *, mode: Mode, distance_km: Decimal,
                started_at: datetime, ended_at: datetime, external_id: str,
                rules: TravelRules = RULES) -> RecordedTrip:
    """Record one trip and its points. A repeated external_id is answered with the first trip
    and adds nothing; a trip the rules refuse writes nothing."""
    claim = TripClaim(0, citizen_id, mode, distance_km, started_at.astimezone(UTC),
                      ended_at.astimezone(UTC), external_id)
    (decision, trip_id), = record_trips(uow.session, [claim], citizen_id, rules)
    if decision.status == "rejected":
        if decision.reason == NO_ACCOUNT:
            raise NoPointsAccount()
        raise TripNotCredited(decision.reason or "the trip was refused")
    if decision.status == "duplicate":
        first = first_trip(uow.session, citizen_id, external_id)
        return RecordedTrip(first.id, "duplicate", Mode(first.mode), first.distance_km,
                            first.reduction_g, first.points, first.capped_by)
    return RecordedTrip(trip_id, "accepted", mode, distance_km, decision.reduction_g,
                        decision.points, decision.reason)


@dataclass(frozen=True)
class CardRecord:
    """One trip of a transit operator's feed, naming its citizen."""

    username: str
    mode: Mode
    distance_km: Decimal
    started_at: datetime
    ended_at: datetime
    external_id: str


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    duplicates: int
    rejected: list[tuple[int, str]]  # (index in the feed, reason), in feed order
    points_awarded: int


def record_trip_batch(uow: UnitOfWork, operator_id: str, records: list[CardRecord],
                      rules: TravelRules = RULES) -> BatchOutcome:
    """Record a feed under the same rules as single trips; each record is accepted, a duplicate
    or rejected with its reason, and the batch as a whole commits or not at all. Only an operator
    whose licence is valid today feeds trips, only by its licensed modes, only for citizens."""
    # Share-locked: a revocation waits for this batch, and the next batch sees the revocation.
    today = city_today()
    licence = live_grant(uow.session, operator_id, today, share_lock=True)
    if licence is None:
        why = why_not_valid([facts(g) for g in grants_of(uow.session, operator_id)], today)
        raise Forbidden(f"{why}; no trips are recorded", field="trips")
    licensed = tuple(Mode(m) for m in licence.modes)
    ids = user_ids_by_name(uow.session, sorted({r.username for r in records}), Role.CITIZEN)
    rejected: list[tuple[int, str]] = []
    claims: list[TripClaim] = []
    for i, r in enumerate(records):
        reason = (f"unknown citizen {r.username!r}" if r.username not in ids
                  else licence_refusal(r.mode, licensed))
        if reason:
            rejected.append((i, reason))
        else:
            claims.append(TripClaim(i, ids[r.username], r.mode, r.distance_km,
                                    r.started_at.astimezone(UTC), r.ended_at.astimezone(UTC),
                                    r.external_id))
    decisions = [d for d, _ in record_trips(uow.session, claims, operator_id, rules)] if claims else []
    rejected += [(d.claim.index, d.reason or "refused") for d in decisions if d.status == "rejected"]
    return BatchOutcome(accepted=sum(d.status == "accepted" for d in decisions),
                        duplicates=sum(d.status == "duplicate" for d in decisions),
                        rejected=sorted(rejected), points_awarded=sum(d.points for d in decisions))
