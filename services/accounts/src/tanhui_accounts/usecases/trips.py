"""Green trips: one from a citizen's app, or a transit operator's feed of card records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypedDict

from tanhui_shared.errors import Forbidden
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.accreditation import city_today, licence_refusal, why_not_valid
from ..domain.errors import NoPointsAccount, TripNotCredited
from ..domain.identity import Role
from ..domain.travel import RULES, Mode, TravelRules, TripRefusal
from ..domain.trip_batch import DUPLICATE, TripClaim, TripDecision
from ..store.single_trip import FirstTrip, record_one
from ..store.trips import lock_citizens_by_name, record_trips, trip_ids_by_external_id
from ..store.accreditations import facts, grants_of, live_grant


@dataclass(frozen=True)
class RecordedTrip:
    id: str
    status: str  # accepted | duplicate (then this is the first trip with its external id)
    mode: Mode
    distance_km: Decimal
    reduction_g: Decimal
    points: int
    capped_by: str | None


STORED_KM = Decimal("0.001")  # green_trip.distance_km is numeric(10, 3)


def record_trip(uow: UnitOfWork, citizen_id: str, *, mode: Mode, distance_km: Decimal,
                started_at: datetime, ended_at: datetime, external_id: str,
                rules: TravelRules = RULES) -> RecordedTrip:
    """Record one trip and its points. A repeated external_id is answered with the first trip
    and adds nothing; a trip the rules refuse writes nothing."""
    claim = TripClaim(0, citizen_id, mode, distance_km, started_at.astimezone(UTC),
                      ended_at.astimezone(UTC), external_id)
    decision, recorded = record_one(uow.session, claim, citizen_id, rules, utcnow())
    if decision is None:
        raise NoPointsAccount()
    if decision.status == "rejected":
        raise TripNotCredited(decision.reason or "the trip was refused")
    if isinstance(recorded, FirstTrip):
        return RecordedTrip(recorded.id, "duplicate", Mode(recorded.mode), recorded.distance_km,
                            recorded.reduction_g, recorded.points, recorded.capped_by)
    # as stored (three places, which the input may not have more of): the first answer reads
    # as every later one for the same trip, a duplicate's or the trip list's ("12.500", not "12.5")
    return RecordedTrip(recorded, "accepted", mode, distance_km.quantize(STORED_KM),
                        decision.reduction_g, decision.points, decision.reason)


class CardRecord(TypedDict):
    """One trip of a transit operator's feed, naming its citizen: a dict, as pydantic-core reads
    it from the feed's JSON (a feed has 10,000; api/trip_feed.py)."""

    username: str
    mode: Mode
    distance_km: Decimal
    started_at: datetime
    ended_at: datetime
    external_id: str


class RecordOutcome(TypedDict):
    """What became of one record of a feed, for the operator to show and download: a dict in the
    answer's own shape, sent as it is (a feed has 10,000; a tuple each, then a dict each for the
    answer, cost more than the feed's ledger entries)."""

    index: int  # position in the feed
    external_id: str
    outcome: str  # accepted | duplicate | rejected
    code: str  # credited | capped (accepted); duplicate-external-id; the refusal's code
    reason: str | None  # why, in words (None for a fully credited trip)
    trip_id: str | None  # the recorded trip (a duplicate: the first one); None if rejected
    points: int


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    duplicates: int
    rejected: list[tuple[int, str]]  # (index in the feed, reason), in feed order
    points_awarded: int
    results: list[RecordOutcome]  # one per record, in feed order


def _outcome(record: CardRecord, index: int, decision: TripDecision | None,
             refusal: str | None, trip_id: str | None) -> RecordOutcome:
    if decision is None or decision.status == "rejected":
        reason = refusal if decision is None else decision.reason or "refused"
        return {"index": index, "external_id": record["external_id"], "outcome": "rejected",
                "code": getattr(reason, "code", "trip-refused"), "reason": str(reason),
                "trip_id": None, "points": 0}
    if decision.status == "duplicate":
        return {"index": index, "external_id": record["external_id"], "outcome": "duplicate",
                "code": DUPLICATE.code, "reason": str(decision.reason), "trip_id": trip_id,
                "points": 0}
    return {"index": index, "external_id": record["external_id"], "outcome": "accepted",
            "code": "capped" if decision.reason else "credited",
            "reason": None if decision.reason is None else str(decision.reason),
            "trip_id": trip_id, "points": decision.points}


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
        raise Forbidden(f"{why}; no trips are recorded", field="trips",
                        code="operator-not-licensed")
    licensed = tuple(Mode(m) for m in licence.modes)
    mode_refusals = {mode: licence_refusal(mode, licensed) for mode in Mode}  # not per record
    # the citizens' ids, and their accounts locked (in user-id order) for record_trips
    ids, accounts = lock_citizens_by_name(uow.session, sorted({r["username"] for r in records}),
                                          Role.CITIZEN.value)
    rejected: list[tuple[int, str]] = []
    claims: list[TripClaim] = []
    refused: dict[int, str] = {}
    for i, r in enumerate(records):
        user_id = ids.get(r["username"])
        reason = (TripRefusal(f"unknown citizen {r['username']!r}", "username", "unknown-citizen")
                  if user_id is None else mode_refusals[r["mode"]])
        if reason:
            rejected.append((i, reason))
            refused[i] = reason
        else:
            claims.append(TripClaim(i, user_id, r["mode"], r["distance_km"],
                                    r["started_at"].astimezone(UTC),
                                    r["ended_at"].astimezone(UTC), r["external_id"]))
    recorded = (record_trips(uow.session, claims, operator_id, rules, locked=accounts)
                if claims else [])
    # a duplicate is answered with the trip recorded first under its external id
    firsts = trip_ids_by_external_id(uow.session, [(d.claim.user_id, d.claim.external_id)
                                                  for d, _ in recorded if d.status == "duplicate"])
    # record_trips answers in the claims' order: the feed's, less the records refused above.
    # One pass makes the results and the counts; a trip credited in full (most of a feed) has
    # its result made here, the rest by _outcome.
    answers = iter(recorded)
    results: list[RecordOutcome] = []
    accepted = duplicates = points = 0
    for i, r in enumerate(records):
        if i in refused:
            results.append(_outcome(r, i, None, refused[i], None))
            continue
        decision, trip_id = next(answers)
        points += decision.points
        status = decision.status
        if status == "accepted":
            accepted += 1
            if decision.reason is None:
                results.append({"index": i, "external_id": r["external_id"], "outcome": "accepted",
                                "code": "credited", "reason": None, "trip_id": trip_id,
                                "points": decision.points})
                continue
        elif status == "duplicate":
            duplicates += 1
            trip_id = firsts.get((decision.claim.user_id, decision.claim.external_id))
        else:
            rejected.append((i, decision.reason or "refused"))
        results.append(_outcome(r, i, decision, None, trip_id))
    return BatchOutcome(accepted=accepted, duplicates=duplicates, rejected=sorted(rejected),
                        points_awarded=points, results=results)
