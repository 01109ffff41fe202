"""Points expiry: an append-only `expire` entry, FIFO by earning date, applied idempotently.

When it runs: by the periodic job (`python -m tanhui_accounts.cli expire-points [--every S]`,
started beside the relay) for every citizen, and for one citizen before each redemption request,
so expired points are never redeemed. Reading the account does not write: the view shows what
is due and what expires within EXPIRY_NOTICE instead (GET stays side-effect free).

Why it is idempotent: the account row is locked and the due amount is recomputed from the
ledger itself (earned lots minus everything consumed, expiries included), so a second run, a
restart or a redelivered job finds 0; and the entry carries the expired total it was computed
from, which is unique per citizen, so two runs that read the same ledger write once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from tanhui_shared.uow import UnitOfWork, in_unit_of_work

from ..domain.points import (EXPIRY_NOTICE, EntryKind, Lot, PointsPosition, due_for_expiry,
                             earned_before, expiring)
from ..store.points import (earned_lots, earned_total, expired_total, lock_position, post_entry,
                            users_with_earnings_before)


def _consumed(session: Session, user_id: str, position: PointsPosition) -> int:
    # Everything earned that is not available: spent, expired or on hold (held points are thus
    # consumed first and never expire under a pending redemption).
    return earned_total(session, user_id) - position.available


def expire_points(uow: UnitOfWork, user_id: str, now: datetime) -> int:
    """Expire the citizen's points past their validity at `now`; returns how many (0 if none)."""
    session = uow.session
    position = lock_position(session, user_id)
    if position is None:
        return 0
    lots = earned_lots(session, user_id, earned_before(now))
    due = due_for_expiry(lots, _consumed(session, user_id, position), now)
    if due == 0:
        return 0
    position.apply(EntryKind.EXPIRE, due)  # never more than is available
    post_entry(session, user_id, EntryKind.EXPIRE, due,
               expired_before=expired_total(session, user_id))
    return due


@dataclass(frozen=True)
class ExpiryRun:
    citizens: int  # citizens with points old enough to be looked at
    expired_points: int
    expired_citizens: int


def expire_all(engine: Engine, now: datetime) -> ExpiryRun:
    """The periodic job: one unit of work per citizen, so one failure stops no one else's."""
    with Session(engine) as session:
        candidates = users_with_earnings_before(session, earned_before(now))
    total = touched = 0
    for user_id in candidates:
        expired = in_unit_of_work(engine, lambda uow, u=user_id: expire_points(uow, u, now))
        total += expired
        touched += expired > 0
    return ExpiryRun(len(candidates), total, touched)


def upcoming_expiry(session: Session, user_id: str, position: PointsPosition,
                    now: datetime) -> list[tuple[datetime, int]]:
    """(when, points) expiring within the notice period, or already due (read only)."""
    lots: list[Lot] = earned_lots(session, user_id, earned_before(now + EXPIRY_NOTICE))
    return expiring(lots, _consumed(session, user_id, position), now)
