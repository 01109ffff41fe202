"""The points ledger's arithmetic: what each kind of entry does to a balance and its holds.

`balance` is every point the citizen owns, held ones included; `available` = balance - held.
No operation may leave balance, held or available below zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EntryKind(StrEnum):
    EARN = "earn"  # a green trip
    HOLD = "hold"  # a redemption was requested: points reserved
    RELEASE = "release"  # the redemption was rejected: reserved points come back
    SETTLE = "settle"  # the redemption completed: reserved points are spent


class InsufficientPoints(ValueError):
    pass


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
        if kind is EntryKind.EARN:
            return PointsPosition(self.balance + points, self.held)
        if kind is EntryKind.HOLD:
            if points > self.available:
                raise InsufficientPoints(f"{points} points asked, {self.available} available")
            return PointsPosition(self.balance, self.held + points)
        if points > self.held:  # release and settle only ever act on what a hold reserved
            raise InsufficientPoints(f"{points} points to {kind.value}, only {self.held} held")
        if kind is EntryKind.RELEASE:
            return PointsPosition(self.balance, self.held - points)
        return PointsPosition(self.balance - points, self.held - points)


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
