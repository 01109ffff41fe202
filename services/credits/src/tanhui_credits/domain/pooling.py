"""Allocating citizens' redemptions (whole 10 kg units) from whole retired serials (1 tCO2e =
1,000 kg each): pure arithmetic, no I/O.

The pool retires ahead: a redemption first takes the unallocated remainder of serials the pool
already retired for redemptions (oldest retired first), then as many newly retired serials as
the rest needs (rounded up). A serial is allocated from its first kg upwards, so its shares add
up to at most 1,000 kg, exactly 1,000 once fully allocated; the remainder is the city's.
"""
from __future__ import annotations

from dataclasses import dataclass

KG_PER_SERIAL = 1000


@dataclass(frozen=True)
class Serial:
    project_id: str
    project_number: int
    vintage: int
    serial: int


@dataclass(frozen=True)
class Source:
    """A serial retired for redemptions, of which `allocated_kg` are already given out."""
    serial: Serial
    retirement_id: str
    allocated_kg: int = 0

    @property
    def unallocated(self) -> int:
        return KG_PER_SERIAL - self.allocated_kg


@dataclass(frozen=True)
class Share:
    redemption_id: str
    serial: Serial
    retirement_id: str
    serial_from_kg: int
    serial_to_kg: int
    own_from_kg: int
    own_to_kg: int

    @property
    def kg(self) -> int:
        return self.serial_to_kg - self.serial_from_kg


def serials_to_retire(kg: int, open_sources: list[Source]) -> int:
    """Whole serials to retire now so that `kg` is covered after the open remainders."""
    shortfall = kg - sum(s.unallocated for s in open_sources)
    return max(0, -(-shortfall // KG_PER_SERIAL))


def allocate(redemption_id: str, kg: int, sources: list[Source]) -> list[Share]:
    """Give the redemption its `kg` from `sources` in order (the open remainders first, oldest
    retired first, then the serials retired for it). Raises ValueError if they fall short."""
    if kg > sum(s.unallocated for s in sources):
        raise ValueError(f"{kg} kg exceed what the sources leave unallocated")
    shares: list[Share] = []
    covered = 0
    for source in sources:
        if covered == kg:
            break
        take = min(kg - covered, source.unallocated)
        if take == 0:
            continue
        start = source.allocated_kg
        shares.append(Share(redemption_id, source.serial, source.retirement_id, start,
                            start + take, covered, covered + take))
        covered += take
    return shares
