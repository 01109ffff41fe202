"""A transit operator's batch through the store (PostgreSQL): what its trips, ledger entries and
cap rows hold, entry by entry, for citizens with several trips over several days and fares."""
from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from accounts_support import CITY_DAY, cap_mismatches, grant_points, ledger_mismatches
from tanhui_accounts.domain.travel import MAX_TRIP_DURATION, RULES, Mode
from tanhui_accounts.domain.trip_batch import OVERLAP, TOO_LONG, TripClaim
from tanhui_accounts.store.trips import record_trips, trip_ids_by_external_id
from tanhui_shared.uow import in_unit_of_work

# the same fare written two ways ("3.5", "3.50"), a second fare, and two modes
FARES = [(Mode.METRO, "3.5"), (Mode.METRO, "3.50"), (Mode.BUS, "12.25"), (Mode.METRO, "40")]


def test_a_batchs_entries_count_each_balance_up_trip_by_trip_and_its_trips_keep_their_figures(
        accounts):
    citizens = [accounts.user("citizen")[0]["id"] for _ in range(3)]
    grant_points(accounts.engine, citizens[0], 7)  # a balance before the batch
    claims = []
    for n in range(36):  # each citizen 12 trips over 3 days, fed out of order
        start = CITY_DAY + timedelta(days=n // 3 % 3, minutes=40 * (n // 3))
        mode, km = FARES[n % len(FARES)]
        claims.append(TripClaim(n, citizens[n % 3], mode, Decimal(km), start,
                                start + timedelta(minutes=25), f"feed-{uuid.uuid4().hex}"))
    recorded = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, list(reversed(claims)), "operator", RULES))
    assert {d.status for d, _ in recorded} == {"accepted"}

    with accounts.engine.connect() as conn:
        trips = {row.id: row for row in conn.execute(sa.text(
            "SELECT * FROM green_trip WHERE user_id = ANY(:u)"), {"u": citizens})}
        entries = conn.execute(sa.text(
            "SELECT user_id, points, balance_after, held_after, trip_id FROM points_entry "
            "WHERE user_id = ANY(:u) ORDER BY id"), {"u": citizens}).all()
        balances = dict(conn.execute(sa.text(
            "SELECT user_id, balance FROM points_account WHERE user_id = ANY(:u)"),
            {"u": citizens}).all())
    for decision, trip_id in recorded:
        trip, claim = trips[trip_id], decision.claim
        assert (trip.user_id, trip.mode, trip.distance_km, trip.local_day, trip.reduction_g,
                trip.points, trip.started_at, trip.external_id) == (
            claim.user_id, claim.mode.value, claim.distance_km, claim.local_day,
            decision.reduction_g, decision.points, claim.started_at, claim.external_id)
    # ids and entries in each citizen's order of trips: by start
    assert sorted(trips, key=lambda i: (trips[i].user_id, trips[i].started_at)) == sorted(trips)
    running = {citizens[0]: 7, citizens[1]: 0, citizens[2]: 0}
    for entry in entries:
        if entry.trip_id is None:
            continue  # the grant
        running[entry.user_id] += entry.points
        assert (entry.balance_after, entry.held_after) == (running[entry.user_id], 0)
        assert entry.points == trips[entry.trip_id].points
    assert running == balances
    assert ledger_mismatches(accounts.engine) == [] and cap_mismatches(accounts.engine) == []


# external ids as JSON spells them with escapes, or not at all (the lookup sends them as JSON)
SPELLED = ["", '"quoted"', "back\\slash", "é南\U0001f68c", "\u2028\t", " "]


def test_cards_fed_again_a_day_later_are_duplicates_of_their_first_trips(accounts):
    """A day later: no overlap in time, nor within the first trips' window, to tell them apart;
    only the (citizen, external id) lookup does."""
    citizens = [accounts.user("citizen")[0]["id"] for _ in range(2)]
    claims = [TripClaim(n, citizens[n % 2], Mode.METRO, Decimal("3.5"),
                        CITY_DAY + timedelta(minutes=40 * n),
                        CITY_DAY + timedelta(minutes=40 * n + 25),
                        f"feed-{uuid.uuid4().hex}{SPELLED[n]}")
              for n in range(6)]
    first = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, claims, "operator", RULES))
    ids = {(d.claim.user_id, d.claim.external_id): trip_id for d, trip_id in first}
    assert None not in ids.values()
    later = [c._replace(started_at=c.started_at + timedelta(days=1),
                        ended_at=c.ended_at + timedelta(days=1)) for c in claims]
    again = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, later, "operator", RULES))
    assert [(d.status, trip_id) for d, trip_id in again] == [("duplicate", None)] * 6
    # and sent again as they were: each overlaps its own trip, yet is a duplicate, not refused
    same = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, claims, "operator", RULES))
    assert [(d.status, trip_id) for d, trip_id in same] == [("duplicate", None)] * 6
    assert in_unit_of_work(accounts.engine, lambda uow: trip_ids_by_external_id(
        uow.session, list(ids) + [(citizens[0], "never-fed")])) == ids


def test_a_claim_overlapping_a_recorded_trip_is_refused_and_one_touching_it_is_not(accounts):
    """Against what is recorded (not the same feed): a ride, and a walk of the longest span a
    trip may have (12 hours), started as long before the feed's earliest claim as it may be
    and still overlap it; a walk a microsecond longer is refused."""
    citizen = accounts.user("citizen")[0]["id"]
    hour = timedelta(hours=1)

    def claim(n: int, mode: Mode, km: str, start, end) -> TripClaim:
        return TripClaim(n, citizen, mode, Decimal(km), start, end, f"feed-{uuid.uuid4().hex}")

    minute, tick = timedelta(minutes=1), timedelta(microseconds=1)
    earliest = CITY_DAY + 5 * hour - minute  # the feed's first claim below starts then
    recorded = [claim(0, Mode.METRO, "3.5", CITY_DAY + 8 * hour, CITY_DAY + 8.5 * hour),
                claim(1, Mode.WALK, "2", earliest - MAX_TRIP_DURATION + tick, earliest + tick),
                claim(2, Mode.WALK, "2", CITY_DAY - 30 * hour,
                      CITY_DAY - 30 * hour + MAX_TRIP_DURATION + tick)]
    first = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, recorded, "operator", RULES))
    assert [(d.status, d.reason) for d, _ in first] == [
        ("accepted", None), ("accepted", None), ("rejected", TOO_LONG)]
    feed = [claim(0, Mode.METRO, "3.5", earliest, CITY_DAY + 5.3 * hour),
            claim(1, Mode.METRO, "3.5", CITY_DAY + 8.5 * hour - minute, CITY_DAY + 8.8 * hour),
            claim(2, Mode.METRO, "3.5", CITY_DAY + 8.5 * hour, CITY_DAY + 8.8 * hour),
            claim(3, Mode.METRO, "3.5", CITY_DAY + 5 * hour, CITY_DAY + 5.3 * hour)]
    judged = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, feed, "operator", RULES))
    assert [(d.status, d.reason) for d, _ in judged] == [
        ("rejected", OVERLAP), ("rejected", OVERLAP), ("accepted", None), ("accepted", None)]


def test_a_feed_repeating_one_earlier_tap_among_new_ones_records_the_new_ones_once(accounts):
    """The repeated tap is found as the feed's trips are written, after others of them were:
    what was written is undone and the feed judged again, so each new trip, entry and point is
    recorded once and the repeat is answered as a duplicate. A tap sent again as it was (it
    overlaps its own trip) is a duplicate too, not a refused overlap."""
    citizens = [accounts.user("citizen")[0]["id"] for _ in range(2)]

    def tap(n: int, citizen: str, start, external_id: str | None = None) -> TripClaim:
        return TripClaim(n, citizen, Mode.METRO, Decimal("3.5"), start,
                         start + timedelta(minutes=25), external_id or f"feed-{uuid.uuid4().hex}")

    first = [tap(0, citizens[0], CITY_DAY), tap(1, citizens[1], CITY_DAY)]
    in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, first, "operator", RULES))
    day = CITY_DAY + timedelta(days=1)
    feed = [tap(0, citizens[0], day), tap(1, citizens[1], day),
            tap(2, citizens[0], day + timedelta(hours=2), first[0].external_id),
            tap(3, citizens[0], day + timedelta(hours=3)),
            tap(4, citizens[1], day + timedelta(hours=3)),
            first[1]._replace(index=5)]
    again = in_unit_of_work(accounts.engine, lambda uow: record_trips(
        uow.session, feed, "operator", RULES))
    assert [d.status for d, _ in again] == ["accepted", "accepted", "duplicate", "accepted",
                                            "accepted", "duplicate"]
    with accounts.engine.connect() as conn:
        trips = conn.execute(sa.text("SELECT count(*) FROM green_trip WHERE user_id = ANY(:u)"),
                             {"u": citizens}).scalar()
        entries = conn.execute(sa.text("SELECT count(*) FROM points_entry WHERE user_id = ANY(:u)"),
                               {"u": citizens}).scalar()
    assert (trips, entries) == (6, 6)
    assert ledger_mismatches(accounts.engine) == [] and cap_mismatches(accounts.engine) == []
