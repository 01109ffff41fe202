"""Recording trips and their points in bulk: one lock, one history read, one write per table.

Single trips take a shorter path (store/single_trip.py) through the same rules (decide_trips,
daily_earnings). The caller's unit of work owns the transaction.

Statements go to psycopg directly, their arrays as binary parameters: SQLAlchemy's text format
quoted each of a feed's 10,000 external ids and user ids with a regular expression. Rows are
written in (citizen, start) order with time-ordered ids, so each index takes them in runs of
neighbouring keys instead of one random page per row. The trips are COPYed as they are judged,
with each ledger entry's running figures counted from the accounts' as read after the lock; the
entries' COPY follows at once and stays open while the cap rows' and the accounts' statements
are prepared: PostgreSQL writes while Python works. A card tap fed again is found by the unique
key as the trips are written (then the feed is judged again, with every key looked up first).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from tanhui_shared.messaging.outbox import utcnow

from ..collector import collector_paused
from ..domain.points import EntryKind
from ..domain.travel import MAX_TRIP_DURATION, Mode, TravelRules, TripRefusal
from ..domain.trip_batch import (DUPLICATE, JUDGING_ORDER, CitizenHistory, TripClaim,
                                 TripDecision, daily_earnings, judged_in_order,
                                 within_claim_window)
from .copy_values import remember_repeated_values
from .tables import GreenTrip, PointsEntry, new_ordered_ids
from .trip_balances import add_daily_points, add_to_accounts, as_json, check_figures

T = TypeVar("T")
NO_ACCOUNT = TripRefusal("not a citizen with a personal carbon account", "username",
                         "no-points-account")


def _rows(session: Session, sql: str, params: tuple) -> list[tuple]:
    """`sql` with `params` (%b: binary) in the session's transaction; its rows, if any."""
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    except psycopg.Error as exc:
        raise _as_sqlalchemy(exc, sql) from exc


def _as_sqlalchemy(exc: psycopg.Error, sql: str) -> DBAPIError:
    # Past SQLAlchemy, so wrap it as SQLAlchemy would (IntegrityError, OperationalError, ...): the
    # unit of work answers a violated constraint with a 409 naming it, and retries a deadlock.
    return DBAPIError.instance(sql, None, exc, psycopg.Error)


# In user-id order, so two batches touching the same citizens never deadlock.
_LOCK = ("SELECT user_id FROM points_account WHERE user_id = ANY(%b::text[]) "
         "ORDER BY user_id FOR UPDATE")


def _lock_accounts(session: Session, user_ids: list[str]) -> set[str]:
    return {user_id for user_id, in _rows(session, _LOCK, (sorted(set(user_ids)),))}


# A feed names its citizens: their ids, and their accounts locked as _LOCK locks them, in one
# round trip instead of two (a citizen without an account is named by the first, not locked by
# the second).
_CITIZENS = "SELECT username, id FROM user_account WHERE username = ANY(%b::text[]) AND role = %b"
_LOCK_NAMED = ("SELECT a.user_id FROM points_account AS a JOIN user_account AS u "
               "ON u.id = a.user_id WHERE u.username = ANY(%b::text[]) AND u.role = %b "
               "ORDER BY a.user_id FOR UPDATE OF a")


def lock_citizens_by_name(session: Session, usernames: list[str], role: str,
                          ) -> tuple[dict[str, str], frozenset[str]]:
    """username -> id of those of `usernames` that have `role`, and the ids of those of them
    with a points account, locked: record_trips' `locked`."""
    session.flush()  # past the ORM, as record_trips' statements
    named, locked = _pipelined(session, [(_CITIZENS, (usernames, role)),
                                         (_LOCK_NAMED, (usernames, role))])
    return dict(named), frozenset(user_id for user_id, in locked)


# Exactly the recorded trips a claim can overlap: started before the latest claim ends, ended
# after the earliest one starts. (A day's margin each side, as before, added no overlap the rules
# could find, and gave back the whole previous day of a daily feed: 10,000 rows read, sent and
# parsed for nothing.) The third bound follows from the second, since no trip lasts longer than
# MAX_TRIP_DURATION (the table's check): without it, each citizen's whole history up to the
# batch was a range of ix_green_trip_user_time, and the planner scanned all of green_trip.
# The citizens' array as a subquery's value, as in _EARNED below: given as a constant, the
# planner weighed 2,000 index descents against one pass over the table, and took the pass.
_INTERVALS = ("SELECT user_id, started_at, ended_at FROM green_trip "
              "WHERE user_id = ANY((SELECT %b::text[])::text[]) AND started_at < %b "
              "AND ended_at > %b AND started_at >= %b")
# Pairs, not user_id = ANY(...) AND external_id = ANY(...), and each pair probing the unique index
# (LIMIT 1 keeps the subquery a probe per pair): a plain join was planned as a hash of all of
# green_trip (a seq scan, spilling to disk at 120,000 rows: 66 ms of 10,000 probes' 58 ms then,
# and growing with the table, where the probes do not).
# The pairs come as two JSON arrays of text (as_json): psycopg's binary text[] took 4.5 ms of
# CPU for 10,000 pairs, pydantic-core's JSON 0.9 ms (PostgreSQL reads either as fast).
_PROBE = ("FROM ROWS FROM (json_array_elements_text(%b::json), json_array_elements_text(%b::json))"
          " AS k (user_id, external_id) CROSS JOIN LATERAL "
          "(SELECT t.id FROM green_trip AS t WHERE t.user_id = k.user_id "
          "AND t.external_id = k.external_id LIMIT 1) AS t")
_RECORDED = "SELECT k.user_id, k.external_id " + _PROBE
# The day's cap rows, not a sum of trips: the figure their check holds the new points to. The
# citizens' array comes as a subquery's value, which the planner does not look into: given as a
# constant, its 2,000 ids were weighed against daily_points' statistics one by one, 5-20 ms of
# planning for a 2 ms scan (EXPLAIN's Planning Time, 60,000 trips in).
_EARNED = ("SELECT user_id, local_day, cap_group, earned FROM daily_points "
           "WHERE user_id = ANY((SELECT %b::text[])::text[]) AND local_day BETWEEN %b AND %b")
# The accounts' figures as the batch starts: read after the lock, which no other writer's UPDATE
# passes, so each entry's running figures are known as its trip is judged.
_FIGURES = "SELECT user_id, balance, held FROM points_account WHERE user_id = ANY(%b::text[])"


# A feed's trips are written under this savepoint, taken after the history read, until they are
# all in: a claim whose external id was recorded before, outside the read's time window, is
# found by the unique key as its trip is written, and the feed is then judged again after a
# probe of every claim's key (_RECORDED). A feed rarely repeats a card tap, and that probe was
# 10,000 descents of the unique index: a sixth of the feed's server time.
_SAVEPOINT = "record_trips_feed"
_DUPLICATE_KEY = "uq_green_trip_external_id"


def _history(session: Session, claims: list[TripClaim], meanwhile: Callable[[], T],
             probe: bool) -> tuple[dict[str, CitizenHistory], set[tuple], dict[str, list[int]], T]:
    """The claims' citizens' history (the external ids among them already recorded if `probe`,
    else the savepoint is taken), the (citizen, day, cap group) keys of the cap rows that exist
    already, each account's [balance, held], and what `meanwhile` made while the database read
    them."""
    user_ids = sorted({c.user_id for c in claims})
    earliest = min(c.started_at for c in claims)
    latest = max(c.ended_at for c in claims)
    days = [c.local_day for c in claims]
    made: list[T] = []
    last = ((_RECORDED, (as_json([c.user_id for c in claims]),
                         as_json([c.external_id for c in claims]))) if probe
            else (f"SAVEPOINT {_SAVEPOINT}", ()))
    intervals, earned, figures, recorded = _pipelined(session, [
        (_INTERVALS, (user_ids, latest, earliest, earliest - MAX_TRIP_DURATION)),
        (_EARNED, (user_ids, min(days), max(days))),
        (_FIGURES, (user_ids,)), last], lambda: made.append(meanwhile()))
    history: dict[str, CitizenHistory] = defaultdict(CitizenHistory)
    for user_id, started, ended in intervals:
        history[user_id].intervals.append((started, ended))
    for past in history.values():
        past.intervals.sort()
    for user_id, external_id in recorded:
        history[user_id].external_ids.add(external_id)
    for user_id, day, group, points in earned:
        history[user_id].already_earned(day, group, points)
    return (history, {(user_id, day, group) for user_id, day, group, _ in earned},
            {user_id: [balance, held] for user_id, balance, held in figures}, made[0])


def _pipelined(session: Session, statements: list[tuple[str, tuple]],
               meanwhile: Callable[[], object] | None = None) -> list[list[tuple]]:
    """Each statement's rows, the statements sent together (one round trip): PostgreSQL runs
    them in order, each under its own snapshot, as if sent one by one; `meanwhile` is called
    once they are sent, so Python works while the database does."""
    raw = session.connection().connection.driver_connection
    sql = statements[0][0]
    try:
        with raw.pipeline():
            cursors = [raw.cursor() for _ in statements]
            for cursor, (sql, params) in zip(cursors, statements):
                cursor.execute(sql, params)
            if meanwhile is not None:
                meanwhile()
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    except psycopg.Error as exc:
        raise _as_sqlalchemy(exc, sql) from exc


def record_trips(session: Session, claims: list[TripClaim], recorded_by: str,
                 rules: TravelRules, *, locked: frozenset[str] | None = None,
                 ) -> list[tuple[TripDecision, str | None]]:
    """Decide and write; returns each decision with its new trip id (None unless accepted), in
    the claims' order.

    Every citizen's account is locked first (in user-id order), so concurrent batches for the
    same citizens are applied one after the other; the schema refuses what a path without that
    lock would get wrong (a second row for an external id, a day's points above its cap).
    Trips outside the claim window (rules.claim_window, judged at this transaction's clock) are
    rejected before anything else is read for them. `locked`: the accounts the caller locked
    already in this transaction (lock_citizens_by_name), of all the claims' citizens that have one.
    """
    with collector_paused():
        return _record(session, claims, recorded_by, rules, locked)


def _record(session: Session, claims: list[TripClaim], recorded_by: str,
            rules: TravelRules, locked: frozenset[str] | None,
            ) -> list[tuple[TripDecision, str | None]]:
    now = utcnow()
    session.flush()  # the statements below bypass the ORM, and with it the autoflush
    accounts = (_lock_accounts(session, [c.user_id for c in claims]) if locked is None
                else locked)
    inside, outside = within_claim_window([c for c in claims if c.user_id in accounts], rules, now)
    decided: dict[int, tuple[TripDecision, str | None]] = {d.claim.index: (d, None)
                                                           for d in outside}
    if not inside:
        return _answer(claims, decided)
    try:
        return _judge_and_write(session, claims, inside, recorded_by, rules, now, dict(decided),
                                probe=False)
    except DBAPIError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != _DUPLICATE_KEY:
            raise
    _rows(session, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}", ())
    return _judge_and_write(session, claims, inside, recorded_by, rules, now, decided, probe=True)


def _judge_and_write(session: Session, claims: list[TripClaim], inside: list[TripClaim],
                     recorded_by: str, rules: TravelRules, now: datetime,
                     decided: dict[int, tuple[TripDecision, str | None]], probe: bool,
                     ) -> list[tuple[TripDecision, str | None]]:
    # the claims in the order they are judged, and their ids, made while the history is read
    history, cap_rows, figures, (ordered, ids) = _history(session, inside, lambda: (
        sorted(inside, key=JUDGING_ORDER), new_ordered_ids(len(inside))), probe)
    before = set(decided)
    wins, entries = _judge_and_copy(session, ordered, ids, history, figures, recorded_by, rules,
                                    now, decided)
    if not probe:  # a refused claim may be a tap fed again (the rules ask that first)
        _duplicates_among(session, [decided[i][0].claim for i in decided.keys() - before
                                    if decided[i][0].status == "rejected"], decided)
    if not wins:  # nothing written (the savepoint, left open, ends with the transaction)
        return _answer(claims, decided)
    with ExitStack() as opened:
        if entries:
            copy = opened.enter_context(_copy(session, PointsEntry, _ENTRY_COLUMNS))
            for entry in entries:
                copy.write_row(entry)
        # the database is still writing the entries: meanwhile, the statements for the day's cap
        # rows and the accounts (one per table, then sent in one round trip), and the answer
        writes = [(f"RELEASE SAVEPOINT {_SAVEPOINT}", ()),
                  *add_daily_points(daily_earnings(wins, rules), cap_rows),
                  add_to_accounts(wins)]
        answer = _answer(claims, decided)
    check_figures(_pipelined(session, writes)[-1], figures)
    return answer


def _duplicates_among(session: Session, refused: list[TripClaim],
                      decided: dict[int, tuple[TripDecision, str | None]]) -> None:
    """Those of `refused` (judged without the lookup of recorded keys) whose key was recorded
    before, answered as duplicates, as they would have been with it: the rules ask that first,
    and a refused claim writes nothing for the unique key to find (a feed sent again overlaps
    its own trips)."""
    if refused:
        recorded = set(_rows(session, _RECORDED, (as_json([c.user_id for c in refused]),
                                                  as_json([c.external_id for c in refused]))))
        for claim in refused:
            if (claim.user_id, claim.external_id) in recorded:
                decided[claim.index] = (TripDecision(claim, "duplicate", DUPLICATE), None)


def _answer(claims: list[TripClaim], decided: dict[int, tuple[TripDecision, str | None]]
            ) -> list[tuple[TripDecision, str | None]]:
    return [decided.get(c.index) or (TripDecision(c, "rejected", NO_ACCOUNT), None)
            for c in claims]


def _judge_and_copy(session: Session, inside: list[TripClaim], ids: list[str],
                    history: dict[str, CitizenHistory], figures: dict[str, list[int]],
                    recorded_by: str, rules: TravelRules, now: datetime,
                    decided: dict[int, tuple[TripDecision, str | None]],
                    ) -> tuple[list[TripDecision], list[tuple]]:
    """Judge the claims and COPY each accepted trip as it is judged, so that the database writes
    the trips while the next ones are judged (Python's work and the database's had taken turns,
    each ~0.1 s). Ids (`ids`: one per claim, ordered) are given in the order judged: each
    citizen's trips together, by start.
    Fills `decided` (claim index -> decision, trip id); returns the accepted trips in the order
    judged, and their ledger entries' rows, each with its running figures (counted on in
    `figures`, which then holds each account's figures after the batch)."""
    next_id = iter(ids).__next__  # the first len(wins) are used
    wins: list[TripDecision] = []
    entries: list[tuple] = []
    earn = EntryKind.EARN.value
    with ExitStack() as opened:
        copy = None  # opened at the first accepted trip: a feed seen before writes no trips
        for d in judged_in_order(inside, history, rules):
            if d.status != "accepted":
                decided[d.claim.index] = (d, None)
                continue
            if copy is None:
                copy = opened.enter_context(_copy(session, GreenTrip, _TRIP_COLUMNS))
            c, trip_id, points = d.claim, next_id(), d.points
            copy.write_row((trip_id, c.user_id, _MODE_TEXT[c.mode], c.distance_km, c.started_at,
                            c.ended_at, c.local_day, c.external_id, recorded_by, d.reduction_g,
                            points, d.reason, now))
            wins.append(d)
            decided[c.index] = (d, trip_id)
            if points:
                account = figures[c.user_id]
                account[0] += points
                entries.append((c.user_id, earn, points, account[0], account[1], trip_id, now))
    return wins, entries


_MODE_TEXT = {mode: mode.value for mode in Mode}  # an Enum's .value is a Python-level property
_TRIP_COLUMNS = ("id", "user_id", "mode", "distance_km", "started_at", "ended_at", "local_day",
                 "external_id", "recorded_by", "reduction_g", "points", "capped_by", "created_at")
_ENTRY_COLUMNS = ("user_id", "kind", "points", "balance_after", "held_after", "trip_id",
                  "created_at")

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


@contextmanager
def _copy(session: Session, model, columns: tuple[str, ...]) -> Iterator[psycopg.Copy]:
    """A binary COPY into `model`'s table (several times faster than a multi-row INSERT for
    transit operators' batches); it ends, and the database's errors arrive, on leaving."""
    table = model.__table__
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            remember_repeated_values(cursor)
            copy.set_types([_copy_type(table.c[name]) for name in columns])
            yield copy
    except psycopg.Error as exc:
        raise _as_sqlalchemy(exc, sql) from exc


_FIRSTS = "SELECT k.user_id, k.external_id, t.id " + _PROBE


def trip_ids_by_external_id(session: Session,
                            keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(citizen, external id) -> the recorded trip's id, for those of `keys` recorded."""
    if not keys:
        return {}
    rows = _rows(session, _FIRSTS, (as_json([u for u, _ in keys]),
                                    as_json([e for _, e in keys])))
    return {(u, e): trip_id for u, e, trip_id in rows}
