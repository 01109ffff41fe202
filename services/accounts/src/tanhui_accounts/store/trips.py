"""Recording trips and their points in bulk: one lock, one history read, one write per table.

Single trips take a shorter path (store/single_trip.py) through the same rules (decide_trips,
daily_earnings). The caller's unit of work owns the transaction.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from .tables import DailyPoints, GreenTrip, PointsAccount, PointsEntry, new_ids

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
    decisions = [decided.get(c.index) or TripDecision(c, "rejected", NO_ACCOUNT) for c in claims]
    wins = [d for d in decisions if d.status == "accepted"]
    accepted = list(zip(wins, new_ids(len(wins))))
    _write_accepted(session, accepted, recorded_by, rules, now)
    ids = {d.claim.index: trip_id for d, trip_id in accepted}
    return [(d, ids.get(d.claim.index)) for d in decisions]


def _write_accepted(session: Session, accepted: list[tuple[TripDecision, str]],
                    recorded_by: str, rules: TravelRules, now: datetime) -> None:
    """The accepted trips (each with its new id), their days' cap rows, their accounts and their
    ledger entries: one statement per table, whatever the batch's size."""
    if not accepted:
        return
    _copy_rows(session, GreenTrip, _TRIP_COLUMNS, [
        (trip_id, d.claim.user_id, d.claim.mode.value, d.claim.distance_km, d.claim.started_at,
         d.claim.ended_at, d.claim.local_day, d.claim.external_id, recorded_by, d.reduction_g,
         d.points, d.reason, now) for d, trip_id in accepted])
    _add_daily_points(session, daily_earnings([d for d, _ in accepted], rules))
    after = _add_to_accounts(session, [d for d, _ in accepted])
    earning = [(d, trip_id) for d, trip_id in accepted if d.points]
    _copy_rows(session, PointsEntry, _ENTRY_COLUMNS, [
        (d.claim.user_id, EntryKind.EARN.value, d.points, balance, held, trip_id, now)
        for (d, trip_id), (balance, held) in zip(earning, _running_figures(earning, after))])


_TRIP_COLUMNS = ("id", "user_id", "mode", "distance_km", "started_at", "ended_at", "local_day",
                 "external_id", "recorded_by", "reduction_g", "points", "capped_by", "created_at")
_ENTRY_COLUMNS = ("user_id", "kind", "points", "balance_after", "held_after", "trip_id",
                  "created_at")

# One statement for the whole batch: its rows arrive in (citizen, day, group) order, so two
# batches never wait on each other's rows in opposite orders.
_ADD_DAILY_POINTS = sa.text("""
INSERT INTO daily_points (user_id, local_day, cap_group, earned, cap)
SELECT * FROM unnest(CAST(:user_ids AS text[]), CAST(:days AS date[]), CAST(:groups AS text[]),
                     CAST(:earned AS integer[]), CAST(:caps AS integer[]))
ON CONFLICT (user_id, local_day, cap_group)
DO UPDATE SET earned = daily_points.earned + excluded.earned, cap = excluded.cap
""")


def _add_daily_points(session: Session, added: dict) -> None:
    """Add each (citizen, day, cap group)'s new points to its row; the row's check refuses a
    sum above the cap, which a path that skipped the account lock would otherwise reach."""
    if not added:
        return
    keys = sorted(added)
    session.execute(_ADD_DAILY_POINTS, {
        "user_ids": [k[0] for k in keys], "days": [k[1] for k in keys],
        "groups": [k[2] for k in keys], "earned": [added[k][0] for k in keys],
        "caps": [added[k][1] for k in keys]})


# One statement for the whole batch, returning each account's figures as the database has them.
_ADD_TO_ACCOUNTS = sa.text("""
UPDATE points_account AS a
SET balance = a.balance + d.points, reduction_g = a.reduction_g + d.reduction_g
FROM unnest(CAST(:user_ids AS text[]), CAST(:points AS bigint[]), CAST(:reductions AS numeric[]))
     AS d (user_id, points, reduction_g)
WHERE a.user_id = d.user_id
RETURNING a.user_id, a.balance, a.held
""")


def _add_to_accounts(session: Session, accepted: list[TripDecision]
                     ) -> dict[str, tuple[int, int]]:
    """Add the accepted trips to each account as increments (a concurrent writer's points are
    kept and the range checks see the true sum); returns each account's (balance, held) after."""
    if not accepted:
        return {}
    earned: dict[str, _Earned] = defaultdict(_Earned)
    for decision in accepted:
        earned[decision.claim.user_id].points += decision.points
        earned[decision.claim.user_id].reduction_g += decision.reduction_g
    user_ids = sorted(earned)
    rows = session.execute(_ADD_TO_ACCOUNTS, {
        "user_ids": user_ids, "points": [earned[u].points for u in user_ids],
        "reductions": [earned[u].reduction_g for u in user_ids]}).all()
    return {user_id: (balance, held) for user_id, balance, held in rows}


def _running_figures(earning: list[tuple[TripDecision, str]],
                     after: dict[str, tuple[int, int]]) -> list[tuple[int, int]]:
    """Each entry's (balance_after, held_after), counted back from what the database returned, so
    the ledger agrees with its account even if a concurrent writer slipped in (a path without
    the lock)."""
    balance = {user_id: figures[0] for user_id, figures in after.items()}
    figures: list[tuple[int, int]] = []
    for decision, _ in reversed(earning):
        user_id = decision.claim.user_id
        figures.append((balance[user_id], after[user_id][1]))
        balance[user_id] -= decision.points
    figures.reverse()
    return figures


def _copy_type(column: sa.Column) -> str:
    """The PostgreSQL type a binary COPY sends for `column` (binary: text COPY's formatting of
    dates and decimals took longer than the database's own work on the rows)."""
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):  # e.g. SQLModel's AutoString, over a VARCHAR
        kind = kind.impl_instance
    for sa_type, name in ((sa.BigInteger, "int8"), (sa.Integer, "int4"), (sa.Numeric, "numeric"),
                          (sa.Date, "date"), (sa.String, "text")):
        if isinstance(kind, sa_type):
            return name
    if isinstance(kind, sa.DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    raise TypeError(f"no COPY type for {column.name} ({kind!r})")


def _copy_rows(session: Session, model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """COPY is several times faster than a multi-row INSERT for transit operators' batches."""
    if not rows:
        return
    table = model.__table__
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types([_copy_type(table.c[name]) for name in columns])
            for row in rows:
                copy.write_row(row)
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

