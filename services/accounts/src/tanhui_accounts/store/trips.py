"""Recording trips and their points in bulk: one lock, one history read, one write per table.

Single trips go through the same path as a batch of one, so both obey the same rules. The
caller's unit of work owns the transaction.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tanhui_shared.messaging.outbox import utcnow

from ..domain.points import EntryKind
from ..domain.travel import TravelRules, TripRefusal
from ..domain.trip_batch import (CitizenHistory, TripClaim, TripDecision, daily_earnings,
                                 decide_trips, within_claim_window)
from .tables import DailyPoints, GreenTrip, PointsAccount, PointsEntry, new_id

# A trip longer than this is implausible anyway; it bounds the history window we read.
MAX_TRIP = timedelta(days=1)
NO_ACCOUNT = TripRefusal("not a citizen with a personal carbon account", "username",
                         "no-points-account")


def _one_of(column, values: list[str]):
    """`column = ANY(array)`: one parameter however many values (a batch names thousands)."""
    return column == sa.any_(sa.literal(values, type_=postgresql.ARRAY(sa.String)))


@dataclass
class _Earned:
    """What a batch adds to one citizen's account."""

    points: int = 0
    reduction_g: Decimal = Decimal(0)


def _lock_accounts(session: Session, user_ids: list[str]) -> set[str]:
    # In user-id order, so two batches touching the same citizens never deadlock; Core rows, not
    # ORM objects: a 10,000-trip batch may lock thousands of accounts.
    t = PointsAccount.__table__
    return set(session.execute(sa.select(t.c.user_id)
                               .where(_one_of(t.c.user_id, sorted(set(user_ids))))
                               .order_by(t.c.user_id).with_for_update()).scalars())


def _history(session: Session, claims: list[TripClaim]) -> dict[str, CitizenHistory]:
    user_ids = sorted({c.user_id for c in claims})
    earliest = min(c.started_at for c in claims) - MAX_TRIP
    latest = max(c.ended_at for c in claims) + MAX_TRIP
    history: dict[str, CitizenHistory] = defaultdict(CitizenHistory)
    t = GreenTrip.__table__
    for user_id, started, ended in session.execute(
        sa.select(t.c.user_id, t.c.started_at, t.c.ended_at)
        .where(_one_of(t.c.user_id, user_ids))
        .where(t.c.started_at < latest).where(t.c.ended_at > earliest)
    ).all():
        history[user_id].intervals.append((started, ended))
    for past in history.values():
        past.intervals.sort()
    for user_id, external_id in session.execute(
        sa.select(t.c.user_id, t.c.external_id)
        .where(_one_of(t.c.user_id, user_ids))
        .where(_one_of(t.c.external_id, sorted({c.external_id for c in claims})))
    ).all():
        history[user_id].external_ids.add(external_id)
    # The day's cap rows, not a sum of trips: the figure their check holds the new points to.
    d = DailyPoints.__table__
    for user_id, day, group, earned in session.execute(
        sa.select(d.c.user_id, d.c.local_day, d.c.cap_group, d.c.earned)
        .where(_one_of(d.c.user_id, user_ids))
        .where(d.c.local_day.between(min(c.local_day for c in claims),
                                     max(c.local_day for c in claims)))
    ).all():
        history[user_id].already_earned(day, group, earned)
    return history


def record_trips(session: Session, claims: list[TripClaim], recorded_by: str,
                 rules: TravelRules) -> list[tuple[TripDecision, str | None]]:
    """Decide and write; returns each decision with its new trip id (None unless accepted).

    Every citizen's account is locked first (in user-id order), so concurrent batches for the
    same citizens are applied one after the other; the schema refuses what a path without that
    lock would get wrong (a second row for an external id, a day's points above its cap).
    Trips outside the claim window (rules.claim_window, judged at this transaction's clock) are
    rejected before anything else is read for them.
    """
    now = utcnow()
    accounts = _lock_accounts(session, [c.user_id for c in claims])
    inside, outside = within_claim_window([c for c in claims if c.user_id in accounts], rules, now)
    decided = {d.claim.index: d for d in outside}
    if inside:
        decided.update((d.claim.index, d)
                       for d in decide_trips(inside, _history(session, inside), rules))
    trips, entries = [], []
    earned: dict[str, _Earned] = defaultdict(_Earned)
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
        earned[claim.user_id].reduction_g += decision.reduction_g
        if decision.points:
            earned[claim.user_id].points += decision.points
            entries.append({"user_id": claim.user_id, "kind": EntryKind.EARN.value,
                            "points": decision.points, "balance_after": None, "held_after": None,
                            "trip_id": trip_id, "redemption_id": None, "created_at": now})
        results.append((decision, trip_id))
    _copy_rows(session, GreenTrip, trips)
    _add_daily_points(session, daily_earnings([d for d, _ in results], rules))
    _running_figures(entries, _add_to_accounts(session, earned))
    _copy_rows(session, PointsEntry, entries)
    return results


def _add_daily_points(session: Session, added: dict) -> None:
    """Add each (citizen, day, cap group)'s new points to its row; the row's check refuses a
    sum above the cap, which a path that skipped the account lock would otherwise reach."""
    if not added:
        return
    d = DailyPoints.__table__
    upsert = postgresql.insert(d)
    upsert = upsert.on_conflict_do_update(
        index_elements=[d.c.user_id, d.c.local_day, d.c.cap_group],
        set_={"earned": d.c.earned + upsert.excluded.earned, "cap": upsert.excluded.cap})
    session.execute(upsert, [
        {"user_id": user_id, "local_day": day, "cap_group": group, "earned": earned, "cap": cap}
        for (user_id, day, group), (earned, cap) in sorted(added.items())])


# One statement for the whole batch, returning each account's figures as the database has them.
_ADD_TO_ACCOUNTS = sa.text("""
UPDATE points_account AS a
SET balance = a.balance + d.points, reduction_g = a.reduction_g + d.reduction_g
FROM unnest(CAST(:user_ids AS text[]), CAST(:points AS bigint[]), CAST(:reductions AS numeric[]))
     AS d (user_id, points, reduction_g)
WHERE a.user_id = d.user_id
RETURNING a.user_id, a.balance, a.held
""")


def _add_to_accounts(session: Session, earned: dict[str, _Earned]) -> dict[str, tuple[int, int]]:
    """Add the batch to each account as increments (a concurrent writer's points are kept and the
    range checks see the true sum); returns each account's (balance, held) afterwards."""
    if not earned:
        return {}
    user_ids = sorted(earned)
    rows = session.execute(_ADD_TO_ACCOUNTS, {
        "user_ids": user_ids, "points": [earned[u].points for u in user_ids],
        "reductions": [earned[u].reduction_g for u in user_ids]}).all()
    return {user_id: (balance, held) for user_id, balance, held in rows}


def _running_figures(entries: list[dict], after: dict[str, tuple[int, int]]) -> None:
    """Each entry's balance_after, counted back from what the database returned, so the ledger
    agrees with its account even if a concurrent writer slipped in (a path without the lock)."""
    balance = {user_id: figures[0] for user_id, figures in after.items()}
    for entry in reversed(entries):
        user_id = entry["user_id"]
        entry["balance_after"], entry["held_after"] = balance[user_id], after[user_id][1]
        balance[user_id] -= entry["points"]


def _copy_rows(session: Session, model, rows: list[dict]) -> None:
    """COPY is several times faster than a multi-row INSERT for transit operators' batches."""
    if not rows:
        return
    columns = list(rows[0])
    sql = f"COPY {model.__table__.name} ({', '.join(columns)}) FROM STDIN"
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    except psycopg.IntegrityError as exc:
        # Past SQLAlchemy, so wrap it as SQLAlchemy would: the unit of work then answers with
        # the named constraint (a 409), as for any other statement.
        raise IntegrityError(sql, None, exc) from exc


def trip_ids_by_external_id(session: Session,
                            keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(citizen, external id) -> the recorded trip's id, for those of `keys` recorded."""
    if not keys:
        return {}
    t = GreenTrip.__table__
    rows = session.execute(sa.select(t.c.user_id, t.c.external_id, t.c.id)
                           .where(_one_of(t.c.user_id, sorted({u for u, _ in keys})))
                           .where(_one_of(t.c.external_id, sorted({e for _, e in keys})))).all()
    wanted = set(keys)
    return {(u, e): trip_id for u, e, trip_id in rows if (u, e) in wanted}


def first_trip(session: Session, user_id: str, external_id: str) -> GreenTrip:
    """The trip already recorded under a citizen's external id (a duplicate is answered with it)."""
    t = GreenTrip.__table__
    return session.execute(t.select().where(t.c.user_id == user_id)
                           .where(t.c.external_id == external_id)).one()
