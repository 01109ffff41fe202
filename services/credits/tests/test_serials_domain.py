"""Serial blocks and splitting on plain values (no I/O); the registry invariant is checked on
PostgreSQL by test_registry_state_machine.py, driving the real use cases."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui_credits.domain.serials import (LANE_MIN, LANES, InsufficientCredits, SerialBlock,
                                           choose_blocks, lanes,
                                           format_range, format_serial, issuance_split,
                                           overlapping, parse_range, split)


def test_split_vector_holder_keeps_the_lower_range():
    block = SerialBlock(4, 2025, 1, 3000)
    kept, moved = split(block, 1000)
    assert (kept, moved) == (SerialBlock(4, 2025, 1, 2000), SerialBlock(4, 2025, 2001, 3000))
    assert kept.quantity + moved.quantity == block.quantity


def test_moving_a_whole_block_keeps_nothing():
    block = SerialBlock(4, 2025, 7, 9)
    assert split(block, 3) == (None, block)
    for bad in (0, 4, -1):
        with pytest.raises(ValueError):
            split(block, bad)


def test_serial_format_and_parse_round_trip():
    block = SerialBlock(4, 2025, 1, 3000)
    assert format_range(block) == "NC-FS-0004-2025-000000001-000003000"
    assert parse_range(format_range(block)) == block
    assert format_serial(4, 2025, 1234) == "NC-FS-0004-2025-000001234"
    assert parse_range("NC-FS-0004-2025-000001234") == SerialBlock(4, 2025, 1234, 1234)
    for bad in ("NC-FS-4-2025-1-2", "XX-FS-0004-2025-000000001-000000002",
                "NC-FS-0004-2025-000000009-000000001", ""):
        with pytest.raises(ValueError):
            parse_range(bad)


@given(st.integers(0, 9999), st.integers(1000, 9999), st.integers(1, 10**9 - 1),
       st.integers(0, 10**6))
def test_every_range_round_trips(project, vintage, first, extra):
    block = SerialBlock(project, vintage, first, min(first + extra, 999_999_999))
    assert parse_range(format_range(block)) == block


def test_issuance_split_floors_the_owner_part_and_buffers_the_rest():
    assert issuance_split(Decimal("3333.7"), Decimal("10")) == (3000, 333)
    assert issuance_split(Decimal("1000"), Decimal("0")) == (1000, 0)
    assert issuance_split(Decimal("0.9"), Decimal("5")) == (0, 0)
    assert issuance_split(Decimal("101"), Decimal("12.5")) == (88, 13)  # floor(88.375)


def test_choose_blocks_takes_oldest_vintage_then_lowest_serial():
    holdings = [("c", SerialBlock(1, 2024, 500, 599)), ("a", SerialBlock(2, 2023, 10, 19)),
                ("b", SerialBlock(1, 2024, 1, 100))]
    picks = choose_blocks(holdings, 115)
    assert [(h, n) for h, _, n in picks] == [("a", 10), ("b", 100), ("c", 5)]
    with pytest.raises(InsufficientCredits) as short:
        choose_blocks(holdings, 211)
    assert (short.value.wanted, short.value.available) == (211, 210)


def test_overlap_detection():
    assert overlapping([SerialBlock(1, 2025, 1, 10), SerialBlock(1, 2025, 11, 20)]) == []
    assert overlapping([SerialBlock(1, 2025, 1, 10), SerialBlock(1, 2025, 10, 20)])
    assert overlapping([SerialBlock(1, 2025, 1, 10), SerialBlock(2, 2025, 1, 10)]) == []



@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=5))
def test_a_listings_lanes_are_exactly_its_blocks_cut_in_order(sizes):
    blocks, first = [], 1
    for size in sizes:
        blocks.append(SerialBlock(7, 2025, first, first + size - 1))
        first += size + 3
    cut = lanes(blocks)
    assert [(p[0].first, p[-1].last) for p in cut] == [(b.first, b.last) for b in blocks]
    for parts in cut:
        assert all(a.last + 1 == b.first for a, b in zip(parts, parts[1:]))
    total = sum(sizes)
    parts = [p for c in cut for p in c]
    if total < 2 * LANE_MIN:  # a small listing keeps its blocks
        assert parts == blocks
    else:  # about LANES lanes, each whole block's parts but its last at least LANE_MIN
        assert len(parts) <= LANES + len(blocks) - 1
        assert all(p.quantity >= LANE_MIN for c in cut for p in c[:-1])
