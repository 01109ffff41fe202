"""One citizen's trip in two round trips: the lock and the history in one pipeline, then one
statement that writes the trip, the day's cap rows, the account and the ledger entry.

A batch's path (store/trips.py) spent ~14 round trips and ~5 ms of Python on one trip (query
construction, COPY set-up, one statement per table). The rules are the same: the history read
here feeds the same `decide_trips`, and `daily_earnings` says what the cap rows get.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from ..domain.points import EntryKind
from ..domain.travel import MAX_TRIP_DURATION, TravelRules
from ..domain.trip_batch import (CitizenHistory, TripClaim, TripDecision, daily_earnings,
                                 decide_trips, within_claim_window)
from .tables import new_ids

# Sent together in one pipeline: PostgreSQL runs them in order, each under its own snapshot (READ
# COMMITTED), so the reads after the lock see whatever a writer that held it committed.
_LOCK = "SELECT user_id FROM points_account WHERE user_id = %s FOR UPDATE"
# the trips the claim overlaps (the batch path reads a window around them, to the same effect);
# the last bound follows from the one before, no trip lasting longer than MAX_TRIP_DURATION
_OVERLAPPING = ("SELECT started_at, ended_at FROM green_trip WHERE user_id = %s "
                "AND started_at < %s AND ended_at > %s AND started_at >= %s")
_FIRST = ("SELECT id, mode, distance_km, reduction_g, points, capped_by FROM green_trip "
          "WHERE user_id = %s AND external_id = %s")
_EARNED = "SELECT cap_group, earned FROM daily_points WHERE user_id = %s AND local_day = %s"

# One statement for everything an accepted trip writes (the rollup trigger on green_trip fires
# once for it as for any INSERT). Cap rows in group order, as the batch path takes them.
_WRITE = """
WITH trip AS (
    INSERT INTO green_trip (id, user_id, mode, distance_km, started_at, ended_at, local_day,
                            external_id, recorded_by, reduction_g, points, capped_by, created_at)
    VALUES (%(id)s, %(user)s, %(mode)s, %(distance)s, %(started)s, %(ended)s, %(day)s,
            %(external_id)s, %(recorded_by)s, %(reduction)s, %(points)s, %(capped_by)s, %(now)s)
), days AS (
    INSERT INTO daily_points (user_id, local_day, cap_group, earned, cap)
    SELECT %(user)s, %(day)s, d.cap_group, d.earned, d.cap
    FROM unnest(%(groups)s::text[], %(earned)s::integer[], %(caps)s::integer[])
         AS d (cap_group, earned, cap)
    ORDER BY d.cap_group
    ON CONFLICT (user_id, local_day, cap_group)
    DO UPDATE SET earned = daily_points.earned + excluded.earned, cap = excluded.cap
), account AS (
    UPDATE points_account
    SET balance = balance + %(points)s::bigint,
        reduction_g = reduction_g + %(reduction)s::numeric
    WHERE user_id = %(user)s
    RETURNING balance, held
)
INSERT INTO points_entry (user_id, kind, points, balance_after, held_after, trip_id, created_at)
SELECT %(user)s, %(kind)s, %(points)s::bigint, balance, held, %(id)s, %(now)s
FROM account WHERE %(points)s::bigint > 0
"""


class FirstTrip:
    """The trip already recorded under the claim's external id (a duplicate is answered with it)."""

    def __init__(self, row: tuple) -> None:
        self.id, self.mode, self.distance_km, self.reduction_g, self.points, self.capped_by = row


def _as_sqlalchemy(exc: psycopg.Error, sql: str) -> DBAPIError:
    # Past SQLAlchemy, so wrap it as SQLAlchemy would: the unit of work then answers a violated
    # constraint with a 409 naming it, and retries a deadlock or serialization failure.
    if isinstance(exc, psycopg.IntegrityError):
        return IntegrityError(sql, None, exc)
    return DBAPIError(sql, None, exc)


def record_one(session: Session, claim: TripClaim, recorded_by: str, rules: TravelRules,
               now: datetime) -> tuple[TripDecision | None, str | FirstTrip | None]:
    """Lock the citizen's account, read its history around the claim and decide; write it if
    accepted. Returns (None, None) without an account; else the decision and the new trip's id
    (accepted) or the first trip under its external id (duplicate)."""
    # Asked first: a claim outside the window reads no history (its times may not even bound one).
    inside, outside = within_claim_window([claim], rules, now)
    raw = session.connection().connection.driver_connection
    sql = _LOCK
    try:
        with raw.pipeline(), raw.cursor() as lock, raw.cursor() as overlapping, \
                raw.cursor() as first, raw.cursor() as earned:
            lock.execute(_LOCK, (claim.user_id,))
            if inside:
                overlapping.execute(_OVERLAPPING, (claim.user_id, claim.ended_at,
                                                   claim.started_at,
                                                   claim.started_at - MAX_TRIP_DURATION))
                first.execute(_FIRST, (claim.user_id, claim.external_id))
                earned.execute(_EARNED, (claim.user_id, claim.local_day))
            if lock.fetchone() is None:
                return None, None
            if outside:
                return outside[0], None
            history = CitizenHistory(intervals=sorted(overlapping.fetchall()))
            first_row = first.fetchone()
            if first_row is not None:
                history.external_ids.add(claim.external_id)
            for group, points in earned.fetchall():
                history.already_earned(claim.local_day, group, points)
        decision, = decide_trips(inside, {claim.user_id: history}, rules)
        if decision.status == "duplicate":
            return decision, FirstTrip(first_row)
        if decision.status != "accepted":
            return decision, None
        trip_id, = new_ids(1)
        added = daily_earnings([decision], rules)
        groups = sorted(added)
        sql = _WRITE
        with raw.cursor() as cursor:
            cursor.execute(_WRITE, {
                "id": trip_id, "user": claim.user_id, "mode": claim.mode.value,
                "distance": claim.distance_km, "started": claim.started_at,
                "ended": claim.ended_at, "day": claim.local_day, "external_id": claim.external_id,
                "recorded_by": recorded_by, "reduction": Decimal(decision.reduction_g),
                "points": decision.points, "capped_by": decision.reason, "now": now,
                "groups": [g for _, _, g in groups], "earned": [added[k][0] for k in groups],
                "caps": [added[k][1] for k in groups], "kind": EntryKind.EARN.value})
        return decision, trip_id
    except psycopg.Error as exc:
        raise _as_sqlalchemy(exc, sql) from exc
