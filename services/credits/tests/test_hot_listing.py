"""The one-statement purchase from a listing (store/hot_listing.py) writes what the general path
writes: the same blocks, retirement, certificate (canonical, its hash recomputable), payment,
audit entries and outbox event, up to fresh ids and times. And its refusals are 409s."""
from __future__ import annotations

import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tanhui_credits.domain.hashing import canonical_json, certificate_hash
from tanhui_credits.domain.serials import InsufficientCredits
from tanhui_credits.store.market import offset_context
from tanhui_credits.store.market_tables import LargeEvent
from tanhui_credits.store.tables import Certificate
from tanhui_credits.usecases.market import (cancel_listing, create_listing, offset_event,
                                            offset_from_cheapest)
from tanhui_shared.uow import in_unit_of_work

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WHEN = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _listed_event(world, seller, organizer, quantity: int, price: str = "58.00"):  # noqa: ANN001, ANN202
    # a name a JSON writer must escape, and characters it must not
    event = LargeEvent(organizer_user_id=organizer.id, name='嘉陵江 "half" marathon\\2026 100%',
                       venue="南充", start_date=date(2026, 5, 1), end_date=date(2026, 5, 2),
                       attendees=100, activity="{}",
                       estimate=json.dumps({"credits_to_neutralise": 1}), total_tco2e=Decimal(1))

    def list_and_register(uow):  # noqa: ANN001, ANN202
        listing = create_listing(uow, seller.id, quantity, Decimal(price))
        uow.session.add(event)
        return listing.id

    return in_unit_of_work(world.engine, list_and_register), event.id


def _written(conn, retirement_id: str, before: int, parents: list[int]) -> dict[str, Any]:  # noqa: ANN001
    """Every row a purchase wrote, as plain values, read on `conn` (its own transaction's, for
    a unit that will roll back)."""
    def rows(query: str, **params) -> list[dict]:  # noqa: ANN003
        return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]

    new = rows("SELECT * FROM serial_block WHERE id > :before ORDER BY id", before=before)
    closed = rows("SELECT * FROM serial_block WHERE id = ANY(:ids) ORDER BY id", ids=parents)
    entries = {e for b in new for e in (b["created_by"], b["closed_by"]) if e}
    entries |= {b["closed_by"] for b in closed}
    audit = rows("SELECT kind, body FROM audit_pending WHERE entry_id = ANY(:e) UNION ALL "
                 "SELECT kind, body FROM audit_entry WHERE entry_id = ANY(:e)", e=list(entries))
    for entry in audit:
        assert entry["body"] == canonical_json(json.loads(entry["body"]))
    certificate = rows("SELECT * FROM certificate WHERE retirement_id = :r", r=retirement_id)[0]
    fields = json.loads(certificate["fields"])
    assert certificate["fields"] == canonical_json(fields)
    assert certificate["content_hash"] == certificate_hash(fields)
    envelope = json.loads(rows("SELECT envelope FROM outbox WHERE key = :r",
                               r=retirement_id)[0]["envelope"])
    order = {"split": 0, "transfer": 1, "retire": 2}
    found = {
        "retirement": rows("SELECT * FROM retirement WHERE id = :r", r=retirement_id),
        # its hash checked above: over fresh ids and times, it differs by path
        "certificate": {**certificate, "fields": fields, "content_hash": None},
        "payments": rows("SELECT * FROM payment WHERE retirement_id = :r", r=retirement_id),
        "listing": rows("SELECT remaining, status FROM listing_stock WHERE listing_id = "
                        "(SELECT listing_id FROM payment WHERE retirement_id = :r)",
                        r=retirement_id),
        "new_blocks": new, "closed_blocks": closed,
        "audit": sorted(({"kind": a["kind"], "body": json.loads(a["body"])} for a in audit),
                        key=lambda a: order[a["kind"]]),
        "event": {"type": envelope["type"], "subject": envelope["subject"],
                  "data": envelope["data"]},
    }
    # new blocks named by what they are (their ids are drawn in another order by each path)
    named = sorted(new, key=lambda b: (b["vintage"], b["first"], b["last"], b["status"]))
    found["new_blocks"] = named
    return _normalised(found, {b["id"]: f"new-block-{n}" for n, b in enumerate(named)})


def _normalised(value: Any, blocks: dict[int, str]) -> Any:  # noqa: ANN401
    """Fresh ids by order of first appearance, new block ids by rank, times as T."""
    def walk(item: Any, key: str = "") -> Any:  # noqa: ANN401
        if isinstance(item, dict):
            return {k: walk(v, k) for k, v in sorted(item.items())}
        if isinstance(item, list):
            return [walk(v, key) for v in item]
        if isinstance(item, int) and key in ("id", "block_id", "parent_block_id"):
            return blocks.get(item, item)
        return item

    text = json.dumps(walk(value), sort_keys=True, default=str, ensure_ascii=False)
    text = WHEN.sub("T", text)
    names: dict[str, str] = {}
    return json.loads(UUID.sub(lambda m: names.setdefault(m.group(), f"id-{len(names)}"), text))


class _RolledBack(Exception):
    pass


def _max_block(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT max(id) FROM serial_block")).scalar_one()


def _listing_blocks(engine, listing_id: str) -> list[int]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT id FROM serial_block WHERE listing_id = :l AND status = 'active' "
            "ORDER BY id"), {"l": listing_id}).scalars())


def test_one_statement_purchase_writes_what_the_general_path_writes(world) -> None:
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 3, vintage=2024)  # taken whole
    world.issue(seller, 10, vintage=2025)  # split: 2 of it taken
    # each test's listing the cheapest of the module's database (a purchase takes the cheapest)
    listing_id, event_id = _listed_event(world, seller, organizer, 13, "3.00")
    parents = _listing_blocks(world.engine, listing_id)
    assert len(parents) == 2

    general: dict[str, Any] = {}

    def by_the_general_path(uow):  # noqa: ANN001, ANN202
        before = _max_block(world.engine)
        event, account_id = offset_context(uow.session, event_id, organizer.id, shared=True)
        offset = offset_from_cheapest(uow, event, account_id, 5)
        uow.finish()  # everything written, then read back and rolled back
        general.update(_written(uow.session.connection(), offset.certificate.retirement_id,
                                before, parents))
        raise _RolledBack

    with pytest.raises(_RolledBack):
        in_unit_of_work(world.engine, by_the_general_path)
    before = _max_block(world.engine)
    offset = in_unit_of_work(world.engine, lambda uow: offset_event(uow, organizer.id, event_id, 5))
    with world.engine.connect() as conn:
        fast = _written(conn, offset.certificate.retirement_id, before, parents)
    assert fast == general
    # what the use case answers is what it wrote
    with Session(world.engine) as session:
        stored = session.get(Certificate, offset.certificate.id)
        assert (offset.certificate.fields, offset.certificate.content_hash) == (
            stored.fields, stored.content_hash)
    assert [len(fast["new_blocks"]), len(fast["audit"]), fast["listing"]] == [
        4, 3, [{"remaining": 8, "status": "open"}]]


def test_blocks_short_of_the_listing_are_a_409_with_nothing_written(world) -> None:
    """Blocks that do not cover what the listing says it has left (an operator's mistake):
    InsufficientCredits (409), the listing and its blocks untouched."""
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 5)
    listing_id, event_id = _listed_event(world, seller, organizer, 5, "2.00")
    with world.engine.begin() as conn:
        conn.execute(sa.text("WITH l AS (UPDATE listing SET quantity = 7 WHERE id = :l) "
                             "UPDATE listing_stock SET remaining = 7, quantity = 7 "
                             "WHERE listing_id = :l"),
                     {"l": listing_id})
    blocks = _listing_blocks(world.engine, listing_id)
    with pytest.raises(InsufficientCredits) as short:
        in_unit_of_work(world.engine, lambda uow: offset_event(uow, organizer.id, event_id, 6))
    assert short.value.available == 5
    assert _listing_blocks(world.engine, listing_id) == blocks
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT remaining FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).scalar_one() == 7


def test_a_listing_sold_down_while_the_purchase_waited_is_never_oversold(world) -> None:
    """The purchase read the listing covering it, then waited for its lock while another sale
    took it down: its statement refuses (a lost race), the unit of work runs again, now reads
    too little left there and buys the rest from the next listing. Nothing sold twice."""
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 10)
    listing_id, event_id = _listed_event(world, seller, organizer, 10, "1.00")
    first_bought, release = threading.Event(), threading.Event()

    def first(uow):  # noqa: ANN001, ANN202
        done = offset_event(uow, organizer.id, event_id, 9, last=False)
        first_bought.set()
        assert release.wait(10)  # uncommitted: the listing's lock held
        return done

    with ThreadPoolExecutor(2) as pool:
        ahead = pool.submit(in_unit_of_work, world.engine, first)
        assert first_bought.wait(10)
        buying = pool.submit(in_unit_of_work, world.engine,
                             lambda uow: offset_event(uow, organizer.id, event_id, 3))
        with pytest.raises(TimeoutError):
            buying.result(timeout=1)  # read 10 left, waits at the listing's lock
        release.set()
        assert ahead.result(10).quantity == 9
        offset = buying.result(timeout=10)
    # the 1 left here, the other 2 from the next cheapest listing (the general path)
    assert sorted((p.listing_id == listing_id, p.quantity) for p in offset.payments) == [
        (False, 2), (True, 1)]
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT remaining, status FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).one() == (0, "sold_out")
        assert conn.execute(sa.text("SELECT count(*) FROM serial_block WHERE listing_id = :l "
                                    "AND status = 'active'"), {"l": listing_id}).scalar_one() == 0


def test_an_offset_sent_twice_with_one_idempotency_key_buys_once(world) -> None:
    """With an Idempotency-Key the answer is stored in the purchase's own transaction (so the
    purchase's statement does not carry the COMMIT): the same request again is a replay."""
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 10)
    listing_id, event_id = _listed_event(world, seller, organizer, 10, "0.50")
    headers = {**organizer.headers, "Idempotency-Key": f"offset-{event_id}"}
    first = world.http.post(f"/api/v1/events/{event_id}/offsets", headers=headers,
                            json={"quantity": 2})
    again = world.http.post(f"/api/v1/events/{event_id}/offsets", headers=headers,
                            json={"quantity": 2})
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert first.json()["certificate"]["serials"] == ["NC-FS-%04d-2025-000000009-000000010" % (
        int(first.json()["certificate"]["projects"][0]["project_number"]))]
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT remaining FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).scalar_one() == 8
        assert conn.execute(sa.text("SELECT count(*) FROM retirement WHERE event_id = :e"),
                            {"e": event_id}).scalar_one() == 1


def _lanes(engine, listing_id: str) -> list[tuple[int, int, int]]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            'SELECT id, "first", "last" FROM serial_block WHERE listing_id = :l '
            "AND status = 'active' ORDER BY vintage, \"first\""), {"l": listing_id})]


def test_a_purchase_takes_a_free_lane_while_another_purchase_holds_one(world) -> None:
    """A large listing is reserved as lanes; a purchase holding the first one (here a
    transaction that locked it as a purchase does) holds up neither the listing nor the next
    purchase, which takes the next lane (its upper end, the seller keeping the lower part)."""
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 800)
    listing_id, event_id = _listed_event(world, seller, organizer, 800, "0.40")
    lanes = _lanes(world.engine, listing_id)
    assert [last - first + 1 for _, first, last in lanes] == [100] * 8
    with world.engine.connect() as holder:
        holder.execute(sa.text("SELECT 1 FROM serial_block WHERE id = :b FOR UPDATE"),
                       {"b": lanes[0][0]})
        with ThreadPoolExecutor(1) as pool:
            offset = pool.submit(in_unit_of_work, world.engine, lambda uow: offset_event(
                uow, organizer.id, event_id, 3)).result(timeout=10)
        holder.rollback()
    project = json.loads(offset.certificate.fields)["projects"][0]["project_number"]
    assert json.loads(offset.certificate.fields)["serials"] == [
        "NC-FS-%04d-2025-%09d-%09d" % (project, lanes[1][2] - 2, lanes[1][2])]
    after = _lanes(world.engine, listing_id)
    assert after[0] == lanes[0] and (after[1][1], after[1][2]) == (lanes[1][1], lanes[1][2] - 3)


def test_concurrent_purchases_from_one_listings_lanes_sell_it_exactly(world, caplog) -> None:
    """8 threads buy 2 credits at a time from a 400-credit listing (4 lanes, so half of them
    look for a free one again and again) until it is sold out: every credit sold once, the
    listing's remaining what its blocks hold, the registry balanced, its audit chain intact,
    and no deadlock between purchases broken by PostgreSQL."""
    caplog.set_level(logging.INFO, logger="tanhui_shared.uow")
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 400)
    listing_id, event_id = _listed_event(world, seller, organizer, 400, "0.30")
    assert len(_lanes(world.engine, listing_id)) == 4

    def buy(_: int) -> int:
        return in_unit_of_work(world.engine, lambda uow: offset_event(
            uow, organizer.id, event_id, 2)).quantity

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(buy, range(200))) == 400
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT remaining, status FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).one() == (0, "sold_out")
        sold = conn.execute(sa.text(
            "SELECT count(*), sum(b.\"last\" - b.\"first\" + 1) FROM payment p JOIN serial_block b "
            "ON b.retirement_id = p.retirement_id WHERE p.listing_id = :l"),
            {"l": listing_id}).one()
        assert tuple(sold) == (200, 400)
        assert conn.execute(sa.text(
            "SELECT count(*) FROM serial_block a JOIN serial_block b ON a.id < b.id "
            "AND a.project_id = b.project_id AND a.vintage = b.vintage "
            "AND a.\"first\" <= b.\"last\" AND b.\"first\" <= a.\"last\" "
            "WHERE a.status <> 'superseded' AND b.status <> 'superseded'")).scalar_one() == 0
        # every purchase's entries chained by the passes of this process's threads, one at a
        # time (store/audit.Passes), none left for the relay
        assert conn.execute(sa.text("SELECT count(*) FROM audit_pending")).scalar_one() == 0
    assert _lanes(world.engine, listing_id) == []
    assert world.http.get("/api/v1/registry/audit/verify").json()["intact"] is True
    assert "40P01" not in caplog.text


def test_a_listing_cancelled_while_its_lanes_are_bought_strands_no_credits(world, caplog
                                                                           ) -> None:
    """The seller cancels while 8 threads buy from the listing's lanes: the cancellation waits
    for the purchases in flight (they hold the listing FOR KEY SHARE) and those after it find
    the listing closed, so every credit is either sold or back in the seller's holding. And no
    deadlock (a purchase holding a lane, waiting for the listing the cancellation holds while
    that waits for the lane) had to be broken by PostgreSQL."""
    caplog.set_level(logging.INFO, logger="tanhui_shared.uow")
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 800)
    listing_id, event_id = _listed_event(world, seller, organizer, 800, "0.20")
    bought: list[int] = []
    halfway = threading.Event()

    def buy(_: int) -> None:
        try:
            bought.append(in_unit_of_work(world.engine, lambda uow: offset_event(
                uow, organizer.id, event_id, 1)).quantity)
        except InsufficientCredits:  # nothing open covers it any more
            pass
        if len(bought) >= 40:
            halfway.set()

    with ThreadPoolExecutor(8) as buyers, ThreadPoolExecutor(1) as canceller:
        purchases = buyers.map(buy, range(160))
        assert halfway.wait(30)
        canceller.submit(in_unit_of_work, world.engine,
                         lambda uow: cancel_listing(uow, seller.id, listing_id)).result(30)
        list(purchases)
    total = sum(bought)
    with world.engine.connect() as conn:
        sold = conn.execute(sa.text("SELECT coalesce(sum(quantity), 0) FROM payment "
                                    "WHERE listing_id = :l"), {"l": listing_id}).scalar_one()
        back = conn.execute(sa.text(
            "SELECT coalesce(sum(b.\"last\" - b.\"first\" + 1), 0) FROM serial_block b "
            "JOIN holding_account a ON a.id = b.account_id WHERE a.owner_user_id = :s "
            "AND b.status = 'active' AND b.listing_id IS NULL"), {"s": seller.id}).scalar_one()
        status = conn.execute(sa.text("SELECT remaining, status FROM listing_stock WHERE listing_id = :l"),
                              {"l": listing_id}).one()
    assert _lanes(world.engine, listing_id) == []
    assert tuple(status) == (0, "cancelled")
    assert sold + back == 800 and 40 <= sold <= total
    assert "40P01" not in caplog.text
    assert world.http.get("/api/v1/registry/audit/verify").json()["intact"] is True


def test_an_offset_bigger_than_the_listing_waits_for_the_purchases_in_its_lanes(world, caplog
                                                                                ) -> None:
    """An offset that needs more than the cheapest listing has left takes the general path,
    which locks that listing FOR UPDATE before selling it down: it waits for the purchases
    carving its lanes, instead of holding the listing while they wait for it at their end and
    it waits for their lanes (a deadlock PostgreSQL would have to break)."""
    caplog.set_level(logging.INFO, logger="tanhui_shared.uow")
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 480)
    listing_id, event_id = _listed_event(world, seller, organizer, 400, "0.10")
    _listed_event(world, seller, organizer, 80, "0.11")  # the rest of a big offset comes from here
    bought: list[int] = []

    def small(_: int) -> None:
        bought.append(in_unit_of_work(world.engine, lambda uow: offset_event(
            uow, organizer.id, event_id, 1)).quantity)

    def big(_: int) -> int:
        return in_unit_of_work(world.engine, lambda uow: offset_event(
            uow, organizer.id, event_id, 401)).quantity

    with ThreadPoolExecutor(8) as buyers, ThreadPoolExecutor(1) as bigger:
        smalls = buyers.map(small, range(60))
        while len(bought) < 8:  # the lanes busy
            threading.Event().wait(0.005)
        assert bigger.submit(big, 0).result(timeout=60) == 401
        list(smalls)
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT remaining, status FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).one() == (0, "sold_out")
    assert _lanes(world.engine, listing_id) == []
    assert "40P01" not in caplog.text


def test_the_general_path_selling_a_listing_whose_lanes_are_bought_waits_for_them(world, caplog
                                                                                  ) -> None:
    """The general path selling a listing that covers it (as when an offset read too little
    left there, then found enough) locks the listing FOR UPDATE before its UPDATE: a plain
    UPDATE would pass the purchases' FOR KEY SHARE, then wait for their lanes while they wait
    for it at their end (a deadlock PostgreSQL would have to break)."""
    caplog.set_level(logging.INFO, logger="tanhui_shared.uow")
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 400)
    listing_id, event_id = _listed_event(world, seller, organizer, 400, "0.09")
    bought: list[int] = []

    def small(_: int) -> None:
        bought.append(in_unit_of_work(world.engine, lambda uow: offset_event(
            uow, organizer.id, event_id, 1)).quantity)

    def general(uow):  # noqa: ANN001, ANN202
        event, account_id = offset_context(uow.session, event_id, organizer.id, shared=True)
        return offset_from_cheapest(uow, event, account_id, 50).quantity

    with ThreadPoolExecutor(8) as buyers, ThreadPoolExecutor(1) as other:
        smalls = buyers.map(small, range(60))
        while len(bought) < 8:  # the lanes busy
            threading.Event().wait(0.005)
        assert other.submit(in_unit_of_work, world.engine, general).result(timeout=60) == 50
        list(smalls)
    with world.engine.connect() as conn:
        remaining = conn.execute(sa.text("SELECT remaining FROM listing_stock WHERE listing_id = :l"),
                                 {"l": listing_id}).scalar_one()
    assert remaining == 400 - 60 - 50 == sum(b - a + 1 for _, a, b in _lanes(world.engine,
                                                                            listing_id))
    assert "40P01" not in caplog.text


def test_a_listing_never_sells_more_than_its_remaining_even_if_its_blocks_hold_more(world
                                                                                    ) -> None:
    """The listing says 7 left while its blocks hold 10 (an operator's mistake): concurrent
    purchases carve the blocks, but the last statement, taking remaining down conditionally
    (and ck_listing_remaining), stops them at 7; the rest buy elsewhere or are refused."""
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 10)
    listing_id, event_id = _listed_event(world, seller, organizer, 10, "0.05")
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE listing_stock SET remaining = 7 WHERE listing_id = :l"),
                     {"l": listing_id})

    def buy(_: int) -> None:
        try:
            in_unit_of_work(world.engine, lambda uow: offset_event(uow, organizer.id, event_id, 1))
        except InsufficientCredits:
            pass

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(buy, range(16)))
    with world.engine.connect() as conn:
        sold = conn.execute(sa.text("SELECT coalesce(sum(quantity), 0) FROM payment "
                                    "WHERE listing_id = :l"), {"l": listing_id}).scalar_one()
        assert conn.execute(sa.text("SELECT remaining, status FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).one() == (0, "sold_out")
    assert sold == 7


def test_an_event_changed_after_this_process_read_it_is_certified_as_it_now_is(world) -> None:
    """The one statement's documents name the event as this process read it before (events
    are never changed by the platform). Changed meanwhile anyway (an operator's SQL), the
    statement writes nothing and the offset is certified with the event as its row now says."""
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 10)
    listing_id, event_id = _listed_event(world, seller, organizer, 10, "0.04")
    in_unit_of_work(world.engine, lambda uow: offset_event(uow, organizer.id, event_id, 1))
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE large_event SET name = 'renamed ''run''' WHERE id = :e"),
                     {"e": event_id})
    offset = in_unit_of_work(world.engine, lambda uow: offset_event(uow, organizer.id, event_id,
                                                                    2))
    fields = json.loads(offset.certificate.fields)
    assert fields["beneficiary"] == "renamed 'run'"
    assert "\"renamed 'run'\"" in fields["purpose"]
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT beneficiary, purpose FROM retirement WHERE id = :r"),
                            {"r": offset.certificate.retirement_id}).one() == (
            fields["beneficiary"], fields["purpose"])
        assert conn.execute(sa.text("SELECT remaining FROM listing_stock WHERE listing_id = :l"),
                            {"l": listing_id}).scalar_one() == 7
