"""The points ledger's arithmetic: what each kind of entry does to a balance and its holds, and
when earned points expire.

`balance` is every point the citizen owns, held ones included; `available` = balance - held.
No operation may leave balance, held or available below zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .errors import InsufficientPoints


class EntryKind(StrEnum):
    EARN = "earn"  # a green trip
    HOLD = "hold"  # a redemption was requested: points reserved
    RELEASE = "release"  # the redemption was rejected: reserved points come back
    SETTLE = "settle"  # the redemption completed: reserved points are spent
    EXPIRE = "expire"  # points past their validity leave the balance (never held ones)


def moves(kind: EntryKind, points: int) -> tuple[int, int]:
    """What an entry adds to (balance, held). Stores apply these as increments, so the
    database's range checks see every concurrent entry, even one that skipped the lock."""
    return {EntryKind.EARN: (points, 0), EntryKind.HOLD: (0, points),
            EntryKind.RELEASE: (0, -points), EntryKind.SETTLE: (-points, -points),
            EntryKind.EXPIRE: (-points, 0)}[kind]


@dataclass(frozen=True)
class PointsPosition:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held

    def apply(self, kind: EntryKind, points: int) -> "PointsPosition":
        if points <= 0:
            raise ValueError("an entry moves a positive number of points")
        if kind in (EntryKind.HOLD, EntryKind.EXPIRE) and points > self.available:
            raise InsufficientPoints(f"{points} points asked, {self.available} available")
        if kind in (EntryKind.RELEASE, EntryKind.SETTLE) and points > self.held:
            # release and settle only ever act on what a hold reserved
            raise InsufficientPoints(f"{points} points to {kind.value}, only {self.held} held")
        balance, held = moves(kind, points)
        return PointsPosition(self.balance + balance, self.held + held)


class RedemptionState(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    REJECTED = "rejected"


def settle_entry(state: RedemptionState, answer: RedemptionState) -> EntryKind | None:
    """The ledger entry credits' answer causes, or None when the redemption is already final
    (a duplicated or late answer changes nothing)."""
    if state is not RedemptionState.PENDING:
        return None
    return EntryKind.SETTLE if answer is RedemptionState.COMPLETED else EntryKind.RELEASE


# Validity of earned points. Shenzhen's carbon-inclusion rules (深圳市碳普惠管理办法, Shenzhen
# Ecology and Environment Bureau, in force 2022-08-18; transcribed in 深圳特区报 2022-08-26,
# tanpaifang.com/tanguwen/2022/0826/89792_5.html): "个人用户持有的碳积分有效期最长不超过10年".
# We take that bound itself, 10 years from the moment the points were earned.
VALIDITY_YEARS = 10
# Platform assumption: how far ahead a citizen is told which points will expire.
EXPIRY_NOTICE = timedelta(days=30)


def expires_at(earned_at: datetime, years: int = VALIDITY_YEARS) -> datetime:
    """The same calendar moment `years` later (29 February becomes 28 February)."""
    try:
        return earned_at.replace(year=earned_at.year + years)
    except ValueError:
        return earned_at.replace(year=earned_at.year + years, day=28)


def earned_before(now: datetime, years: int = VALIDITY_YEARS) -> datetime:
    """Points earned at or before this moment have expired by `now` (the inverse bound, with a
    day's slack for 29 February: callers still check expires_at per lot)."""
    return expires_at(now, -years) + timedelta(days=1)


@dataclass(frozen=True)
class Lot:
    """Points earned at one moment (one earn entry)."""

    earned_at: datetime
    points: int


def open_lots(lots: list[Lot], consumed: int) -> list[Lot]:
    """What is left of each lot, oldest first, once `consumed` points are taken from the oldest
    lots on (FIFO): spent, expired and held points all count as consumed, so points on hold for
    a pending redemption are never the ones that expire."""
    left: list[Lot] = []
    for lot in sorted(lots, key=lambda lot: lot.earned_at):
        taken = min(consumed, lot.points)
        consumed -= taken
        if lot.points - taken:
            left.append(Lot(lot.earned_at, lot.points - taken))
    return left


def due_for_expiry(lots: list[Lot], consumed: int, now: datetime,
                   years: int = VALIDITY_YEARS) -> int:
    """Points past their validity at `now` and not yet consumed: what an expiry entry removes.
    Applied and recounted, the answer is 0: an expiry counts as consumed."""
    return sum(lot.points for lot in open_lots(lots, consumed)
               if expires_at(lot.earned_at, years) <= now)


def expiring(lots: list[Lot], consumed: int, now: datetime, notice: timedelta = EXPIRY_NOTICE,
             years: int = VALIDITY_YEARS) -> list[tuple[datetime, int]]:
    """(when, points) of the open lots that expire before now + notice, soonest first; a moment
    already past is due and goes at the next expiry run or redemption."""
    return [(expires_at(lot.earned_at, years), lot.points) for lot in open_lots(lots, consumed)
            if expires_at(lot.earned_at, years) <= now + notice]
