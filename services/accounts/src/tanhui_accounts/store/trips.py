"""Recording trips and their points in bulk: one lock, one history read, one write per table.

Single trips go through the same path as a batch of one, so both obey the same rules.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from tanhui_shared.db import is_postgres
from tanhui_shared.messaging.outbox import utcnow

from ..domain.points import EntryKind
from ..domain.travel import Mode, TravelRules
from ..domain.trip_batch import CitizenHistory, TripClaim, TripDecision, decide_trips
from .tables import GreenTrip, PointsAccount, PointsEntry, new_id

# A trip longer than this is implausible anyway; it bounds the history window we read.
MAX_TRIP = timedelta(days=1)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def lock_points_accounts(session: Session, user_ids: list[str]) -> dict[str, PointsAccount]:
    # Always in user-id order, so two batches touching the same citizens never deadlock.
    rows = session.exec(select(PointsAccount).where(col(PointsAccount.user_id).in_(sorted(user_ids)))
                        .order_by(col(PointsAccount.user_id)).with_for_update()).all()
    return {row.user_id: row for row in rows}


def _history(session: Session, claims: list[TripClaim]) -> dict[str, CitizenHistory]:
    user_ids = sorted({c.user_id for c in claims})
    earliest = min(c.started_at for c in claims) - MAX_TRIP
    latest = max(c.ended_at for c in claims) + MAX_TRIP
    history: dict[str, CitizenHistory] = defaultdict(CitizenHistory)
    t = GreenTrip.__table__
    nearby = session.execute(
        sa.select(t.c.user_id, t.c.started_at, t.c.ended_at, t.c.local_day, t.c.mode, t.c.points)
        .where(_one_of(session, t.c.user_id, user_ids))
        .where(t.c.started_at < latest).where(t.c.ended_at > earliest)
    ).all()
    for user_id, started, ended, day, mode, points in nearby:
        past = history[user_id]
        past.intervals.append((as_utc(started), as_utc(ended)))
        past.add_points(day, Mode(mode), points)
    for past in history.values():
        past.intervals.sort()
    external_ids = sorted({c.external_id for c in claims})
    for user_id, external_id in session.execute(
        sa.select(t.c.user_id, t.c.external_id)
        .where(_one_of(session, t.c.user_id, user_ids))
        .where(_one_of(session, t.c.external_id, external_ids))
    ).all():
        history[user_id].external_ids.add(external_id)
    return history


@dataclass
class _Position:
    """A locked account's figures while a batch is applied to it."""

    balance: int
    held: int
    reduction_g: Decimal
    touched: bool = False


def _one_of(session: Session, column, values: list[str]):
    """`column IN values`; on PostgreSQL as `= ANY(array)`, one parameter however many values."""
    if is_postgres(session.get_bind()):
        return column == sa.any_(sa.literal(values, type_=postgresql.ARRAY(sa.String)))
    return column.in_(values)


def _lock_positions(session: Session, user_ids: list[str]) -> dict[str, _Position]:
    # Core rows, not ORM objects: a 10,000-trip batch may lock thousands of accounts.
    t = PointsAccount.__table__
    rows = session.execute(sa.select(t.c.user_id, t.c.balance, t.c.held, t.c.reduction_g)
                           .where(_one_of(session, t.c.user_id, sorted(set(user_ids))))
                           .order_by(t.c.user_id).with_for_update()).all()
    return {user_id: _Position(balance, held, Decimal(reduction)) for user_id, balance, held, reduction in rows}


NO_ACCOUNT = "not a citizen with a personal carbon account"


def record_trips(session: Session, claims: list[TripClaim], recorded_by: str,
                 rules: TravelRules) -> list[tuple[TripDecision, str | None]]:
    """Decide and write; returns each decision with its new trip id (None unless accepted).

    The caller owns the transaction. Every citizen's account is locked first (in user-id order),
    so concurrent batches for the same citizens are applied one after the other.
    """
    positions = _lock_positions(session, [c.user_id for c in claims])
    known = [c for c in claims if c.user_id in positions]
    decided = {d.claim.index: d for d in decide_trips(known, _history(session, known), rules)} if known else {}
    now = utcnow()
    trips, entries = [], []
    results: list[tuple[TripDecision, str | None]] = []
    for claim in claims:
        decision = decided.get(claim.index) or TripDecision(claim, "rejected", NO_ACCOUNT)
        if decision.status != "accepted":
            results.append((decision, None))
            continue
        trip_id = new_id()
        trips.append({"id": trip_id, "user_id": claim.user_id, "mode": claim.mode.value,
                      "distance_km": claim.distance_km, "started_at": claim.started_at,
                      "ended_at": claim.ended_at, "local_day": claim.local_day,
                      "external_id": claim.external_id, "recorded_by": recorded_by,
                      "reduction_g": decision.reduction_g, "points": decision.points,
                      "capped_by": decision.reason, "created_at": now})
        position = positions[claim.user_id]
        position.touched = True
        position.reduction_g += decision.reduction_g
        if decision.points:
            position.balance += decision.points
            entries.append({"user_id": claim.user_id, "kind": EntryKind.EARN.value,
                            "points": decision.points, "balance_after": position.balance,
                            "held_after": position.held, "trip_id": trip_id,
                            "redemption_id": None, "created_at": now})
        results.append((decision, trip_id))
    _bulk_insert(session, GreenTrip, trips)
    _bulk_insert(session, PointsEntry, entries)
    touched = [(uid, p) for uid, p in positions.items() if p.touched]
    if touched:
        t = PointsAccount.__table__
        session.execute(
            update(t).where(t.c.user_id == bindparam("uid"))
            .values(balance=bindparam("new_balance"), reduction_g=bindparam("new_reduction")),
            [{"uid": uid, "new_balance": p.balance, "new_reduction": p.reduction_g}
             for uid, p in touched],
        )
    return results


def _bulk_insert(session: Session, model, rows: list[dict]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    table = model.__table__.name
    if is_postgres(session.get_bind()):
        # COPY is several times faster than multi-row INSERT for transit operators' batches.
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    else:
        session.execute(model.__table__.insert(), rows)
