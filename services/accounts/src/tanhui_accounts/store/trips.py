"""Recording trips and their points in bulk: one lock, one history read, one write per table.

Single trips go through the same path as a batch of one, so both obey the same rules.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, update
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
    nearby = session.exec(
        select(GreenTrip.user_id, GreenTrip.started_at, GreenTrip.ended_at, GreenTrip.local_day,
               GreenTrip.mode, GreenTrip.points)
        .where(col(GreenTrip.user_id).in_(user_ids))
        .where(col(GreenTrip.started_at) < latest).where(col(GreenTrip.ended_at) > earliest)
    ).all()
    for user_id, started, ended, day, mode, points in nearby:
        past = history[user_id]
        past.intervals.append((as_utc(started), as_utc(ended)))
        past.points_by_day_mode[(day, Mode(mode))] += points
    for past in history.values():
        past.intervals.sort()
    external_ids = sorted({c.external_id for c in claims})
    for user_id, external_id in session.exec(
        select(GreenTrip.user_id, GreenTrip.external_id)
        .where(col(GreenTrip.user_id).in_(user_ids))
        .where(col(GreenTrip.external_id).in_(external_ids))
    ).all():
        history[user_id].external_ids.add(external_id)
    return history


def record_trips(session: Session, claims: list[TripClaim], recorded_by: str,
                 rules: TravelRules) -> list[tuple[TripDecision, str | None]]:
    """Decide and write; returns each decision with its new trip id (None unless accepted).

    The caller owns the transaction. Claims for users without a points account must have been
    filtered out before (the accounts are locked here and must exist).
    """
    accounts = lock_points_accounts(session, [c.user_id for c in claims])
    decisions = decide_trips(claims, _history(session, claims), rules)
    now = utcnow()
    trips, entries = [], []
    results: list[tuple[TripDecision, str | None]] = []
    for decision in decisions:
        if decision.status != "accepted":
            results.append((decision, None))
            continue
        c = decision.claim
        trip_id = new_id()
        trips.append({"id": trip_id, "user_id": c.user_id, "mode": c.mode.value,
                      "distance_km": c.distance_km, "started_at": c.started_at,
                      "ended_at": c.ended_at, "local_day": c.local_day, "external_id": c.external_id,
                      "recorded_by": recorded_by, "reduction_g": decision.reduction_g,
                      "points": decision.points, "capped_by": decision.reason, "created_at": now})
        account = accounts[c.user_id]
        account.reduction_g += decision.reduction_g
        if decision.points:
            account.balance += decision.points
            entries.append({"user_id": c.user_id, "kind": EntryKind.EARN.value,
                            "points": decision.points, "balance_after": account.balance,
                            "held_after": account.held, "trip_id": trip_id,
                            "redemption_id": None, "created_at": now})
        results.append((decision, trip_id))
    _bulk_insert(session, GreenTrip, trips)
    _bulk_insert(session, PointsEntry, entries)
    touched = [a for a in accounts.values() if a in session.dirty]
    if touched:
        accounts_table = PointsAccount.__table__
        session.execute(
            update(accounts_table).where(accounts_table.c.user_id == bindparam("uid"))
            .values(balance=bindparam("new_balance"), reduction_g=bindparam("new_reduction")),
            [{"uid": a.user_id, "new_balance": a.balance, "new_reduction": a.reduction_g}
             for a in touched],
        )
        for account in touched:
            session.expunge(account)  # written above in one statement; don't flush them again
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
