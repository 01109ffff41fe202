"""The points ledger's arithmetic: what each kind of entry does to a balance and its holds.

`balance` is every point the citizen owns, held ones included; `available` = balance - held.
No operation may leave balance, held or available below zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import InsufficientPoints


class EntryKind(StrEnum):
    EARN = "earn"  # a green trip
    HOLD = "hold"  # a redemption was requested: points reserved
    RELEASE = "release"  # the redemption was rejected: reserved points come back
    SETTLE = "settle"  # the redemption completed: reserved points are spent


def moves(kind: EntryKind, points: int) -> tuple[int, int]:
    """What an entry adds to (balance, held). Stores apply these as increments, so the
    database's range checks see every concurrent entry, even one that skipped the lock."""
    return {EntryKind.EARN: (points, 0), EntryKind.HOLD: (0, points),
            EntryKind.RELEASE: (0, -points), EntryKind.SETTLE: (-points, -points)}[kind]


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
        if kind is EntryKind.HOLD and points > self.available:
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
