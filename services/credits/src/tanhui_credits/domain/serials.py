"""Serial blocks after the UNDP registry (docs/architecture.md §6): pure values and rules, no I/O.

A block is a consecutive range of serial numbers of one project and vintage; 1 serial = 1 credit =
1 tCO2e. A partial transfer or retirement splits a block: the holder keeps the LOWER range and the
moved part is the UPPER range, so together they are exactly the original.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TypeVar

from tanhui_shared.errors import Conflict

REGISTRY = "NC"  # the national registry's prefix
UNIT_TYPE = "FS"  # forestry sink
MAX_SERIAL = 999_999_999  # 9 digits
_RANGE = re.compile(r"^NC-FS-(\d{4})-(\d{4})-(\d{9})(?:-(\d{9}))?$")


class InsufficientCredits(Conflict):
    """Fewer spendable credits (or listed credits, for a purchase) than the quantity asked for."""

    code = "insufficient-credits"

    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"insufficient credits: quantity {wanted} requested, "
                         f"{available} available", field="quantity", requested=wanted,
                         available=available)
        self.wanted = wanted
        self.available = available


@dataclass(frozen=True, order=True)
class SerialBlock:
    project_number: int
    vintage: int
    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last <= MAX_SERIAL:
            raise ValueError(f"bad serial range {self.first}-{self.last}")
        if not 0 <= self.project_number <= 9999 or not 1000 <= self.vintage <= 9999:
            raise ValueError("project number must have at most 4 digits, vintage exactly 4")

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1

    def contains(self, project_number: int, vintage: int, serial: int) -> bool:
        return (self.project_number, self.vintage) == (project_number, vintage) and \
            self.first <= serial <= self.last

    def __str__(self) -> str:
        return format_range(self)


def format_range(block: SerialBlock) -> str:
    """NC-FS-0004-2025-000000001-000003000 (registry, type, project, vintage, first, last)."""
    return (f"{REGISTRY}-{UNIT_TYPE}-{block.project_number:04d}-{block.vintage}-"
            f"{block.first:09d}-{block.last:09d}")


def format_serial(project_number: int, vintage: int, serial: int) -> str:
    """One credit's serial: NC-FS-0004-2025-000001234."""
    return f"{REGISTRY}-{UNIT_TYPE}-{project_number:04d}-{vintage}-{serial:09d}"


def parse_range(text: str) -> SerialBlock:
    """Parse a range, or a single serial (a range of one). ValueError if it is neither."""
    match = _RANGE.match(text.strip().upper())
    if match is None:
        raise ValueError(f"not a serial: {text!r} (expected NC-FS-pppp-yyyy-nnnnnnnnn[-nnnnnnnnn])")
    project, vintage, first, last = match.groups()
    return SerialBlock(int(project), int(vintage), int(first), int(last or first))


def split(block: SerialBlock, moved: int) -> tuple[SerialBlock | None, SerialBlock]:
    """(kept lower range or None if all of it moves, moved upper range)."""
    if not 1 <= moved <= block.quantity:
        raise ValueError(f"cannot move {moved} of a block of {block.quantity}")
    if moved == block.quantity:
        return None, block
    boundary = block.last - moved  # the holder keeps first..boundary
    return (SerialBlock(block.project_number, block.vintage, block.first, boundary),
            SerialBlock(block.project_number, block.vintage, boundary + 1, block.last))


# A listing's credits are reserved as several blocks, its lanes (issue 15, the hot listing): a
# purchase locks only the lanes it carves (store/hot_listing.py), so purchases from one listing
# run side by side. About LANES of them, none smaller than LANE_MIN credits: a listing of fewer
# than 2 x LANE_MIN credits keeps the blocks it was listed from.
LANES = 8
LANE_MIN = 100


def lanes(blocks: Sequence[SerialBlock], count: int = LANES, least: int = LANE_MIN
          ) -> list[list[SerialBlock]]:
    """Each block cut into consecutive parts of at most ceil(total / lanes) credits, where
    lanes = min(count, total // least) (at least 1): per block, its parts in serial order,
    together exactly the block."""
    total = sum(block.quantity for block in blocks)
    size = -(-total // max(1, min(count, total // least)))
    return [[SerialBlock(block.project_number, block.vintage, first,
                         min(block.last, first + size - 1))
             for first in range(block.first, block.last + 1, size)] for block in blocks]


def issuance_split(verified_tco2e: Decimal, buffer_pct: Decimal) -> tuple[int, int]:
    """(owner's credits, buffer credits): floor(v x (1 - b/100)) and floor(v) - that."""
    if verified_tco2e < 0 or not 0 <= buffer_pct <= 100:
        raise ValueError("verified tonnes must be >= 0 and the buffer 0-100 %")
    whole = int(verified_tco2e.to_integral_value(rounding=ROUND_FLOOR))
    owner = int((verified_tco2e * (1 - buffer_pct / 100)).to_integral_value(rounding=ROUND_FLOOR))
    return owner, whole - owner


H = TypeVar("H")  # whatever carries a block: a store row, or the block itself


def choose_blocks(holdings: Sequence[tuple[H, SerialBlock]], quantity: int
                  ) -> list[tuple[H, SerialBlock, int]]:
    """Pick `quantity` credits: oldest vintage first, then lowest serial (then project number).

    Returns (holder, block, how many to take from it); only the last pick can be partial.
    Raises InsufficientCredits naming what is available.
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    ordered = sorted(holdings, key=lambda h: (h[1].vintage, h[1].first, h[1].project_number))
    picks: list[tuple[H, SerialBlock, int]] = []
    remaining = quantity
    for holder, block in ordered:
        if remaining == 0:
            break
        take = min(remaining, block.quantity)
        picks.append((holder, block, take))
        remaining -= take
    if remaining:
        raise InsufficientCredits(quantity, sum(b.quantity for _, b in holdings))
    return picks


def overlapping(blocks: Sequence[SerialBlock]) -> list[tuple[SerialBlock, SerialBlock]]:
    """Pairs of blocks that share a serial (must be empty for live blocks)."""
    clashes = []
    ordered = sorted(blocks)
    for before, after in zip(ordered, ordered[1:]):
        if (before.project_number, before.vintage) == (after.project_number, after.vintage) \
                and after.first <= before.last:
            clashes.append((before, after))
    return clashes
