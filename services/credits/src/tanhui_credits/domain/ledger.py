"""The registry's rules on plain values: issue, transfer, retire over serial blocks, no I/O.

The store applies the same `split` and `choose_blocks`; this in-memory model is what the
property-based tests drive with random operation sequences to check the invariant
issued = held + retired + buffer (per project and vintage) and that no serial is in two blocks.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .serials import SerialBlock, choose_blocks, overlapping, split

BUFFER_POOL = "registry-buffer-pool"


@dataclass
class Holding:
    account: str
    block: SerialBlock
    retired: bool = False


@dataclass
class Ledger:
    holdings: list[Holding] = field(default_factory=list)
    issued: Counter = field(default_factory=Counter)  # (project, vintage) -> credits issued
    next_serial: dict[tuple[int, int], int] = field(default_factory=dict)

    def issue(self, project: int, vintage: int, owner: str, owner_qty: int, buffer_qty: int) -> None:
        start = self.next_serial.get((project, vintage), 1)
        if owner_qty:
            self.holdings.append(Holding(owner, SerialBlock(project, vintage, start,
                                                            start + owner_qty - 1)))
        if buffer_qty:
            first = start + owner_qty
            self.holdings.append(Holding(BUFFER_POOL, SerialBlock(project, vintage, first,
                                                                  first + buffer_qty - 1)))
        self.next_serial[(project, vintage)] = start + owner_qty + buffer_qty
        self.issued[(project, vintage)] += owner_qty + buffer_qty

    def transfer(self, sender: str, receiver: str, quantity: int) -> None:
        self._move(sender, quantity, lambda moved: Holding(receiver, moved))

    def retire(self, holder: str, quantity: int) -> None:
        self._move(holder, quantity, lambda moved: Holding(holder, moved, retired=True))

    def _move(self, account: str, quantity: int, make) -> None:  # noqa: ANN001
        live = [(h, h.block) for h in self.holdings if h.account == account and not h.retired]
        for holding, block, take in choose_blocks(live, quantity):  # raises InsufficientCredits
            kept, moved = split(block, take)
            self.holdings.remove(holding)
            if kept is not None:
                self.holdings.append(Holding(account, kept))
            self.holdings.append(make(moved))

    def balance(self, account: str) -> int:
        return sum(h.block.quantity for h in self.holdings
                   if h.account == account and not h.retired)


def totals(holdings: list[Holding]) -> dict[tuple[int, int], dict[str, int]]:
    """held / retired / buffer per (project, vintage)."""
    result: dict[tuple[int, int], dict[str, int]] = {}
    for h in holdings:
        row = result.setdefault((h.block.project_number, h.block.vintage),
                                {"held": 0, "retired": 0, "buffer": 0})
        bucket = "retired" if h.retired else "buffer" if h.account == BUFFER_POOL else "held"
        row[bucket] += h.block.quantity
    return result


def invariant_violations(issued: Counter, holdings: list[Holding]) -> list[str]:
    """Empty when issued = held + retired + buffer everywhere and no serial is in two blocks."""
    problems = []
    sums = totals(holdings)
    for key in set(issued) | set(sums):
        row = sums.get(key, {"held": 0, "retired": 0, "buffer": 0})
        if issued[key] != row["held"] + row["retired"] + row["buffer"]:
            problems.append(f"{key}: issued {issued[key]} != {row}")
    for a, b in overlapping([h.block for h in holdings]):
        problems.append(f"serials in two blocks: {a} and {b}")
    return problems
