"""Citizens' small redemptions allocated from whole serials the city's inclusion pool retires
ahead (issue 13): the allocation arithmetic by hand, the consumer's path on PostgreSQL, races,
and the schema's own refusals."""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from tanhui_credits.domain.hashing import UNHASHED_KEYS, certificate_hash
from tanhui_credits.domain.pooling import Serial, Source, allocate, serials_to_retire
from tanhui_credits.store.pool_tables import PooledRedemption, PoolShare
from tanhui_credits.store.tables import Certificate, Retirement
from tanhui_shared.contracts import (CloudEvent, CreditsRetired, RedemptionCompletedV2,
                                     RedemptionRejected, RedemptionRequestedV2)
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work

S1, S2, S3 = (Serial("p", 4, 2025, n) for n in (1, 2, 3))


def _rows(shares):  # noqa: ANN001
    return [(s.serial.serial, s.retirement_id, s.serial_from_kg, s.serial_to_kg, s.own_from_kg,
             s.own_to_kg) for s in shares]


def test_600_then_600_kg_one_serial_retired_ahead_then_its_remainder_and_a_second():
    # 600 kg, nothing open: ceil(600 / 1,000) = 1 serial retired, 1,000 - 600 = 400 kg left
    assert serials_to_retire(600, []) == 1
    first = allocate("a", 600, [Source(S1, "r1")])
    assert _rows(first) == [(1, "r1", 0, 600, 0, 600)]
    # 600 kg more: serial 1's 400 kg first, the shortfall 600 - 400 = 200 kg needs
    # ceil(200 / 1,000) = 1 new serial, of which 200 kg are allocated and 800 kg stay open
    open_now = [Source(S1, "r1", 600)]
    assert serials_to_retire(600, open_now) == 1
    second = allocate("b", 600, open_now + [Source(S2, "r2")])
    assert _rows(second) == [(1, "r1", 600, 1000, 0, 400), (2, "r2", 0, 200, 400, 600)]
    # serial 1 is now exactly 1,000 kg allocated: 600 + 400
    assert sum(s.kg for s in first + second if s.serial == S1) == 1000


def test_1000_kg_after_500_kg_completes_at_once_from_the_remainder_and_one_new_serial():
    # 500 kg left of serial 1; the shortfall 1,000 - 500 = 500 kg needs 1 new serial
    open_now = [Source(S1, "r1", 500)]
    assert serials_to_retire(1000, open_now) == 1
    assert _rows(allocate("c", 1000, open_now + [Source(S2, "r2")])) == [
        (1, "r1", 500, 1000, 0, 500), (2, "r2", 0, 500, 500, 1000)]


def test_the_remainder_alone_or_several_new_serials():
    # 300 kg open cover 300 kg exactly: nothing retired
    open_now = [Source(S1, "r1", 700)]
    assert serials_to_retire(300, open_now) == 0
    assert _rows(allocate("d", 300, open_now)) == [(1, "r1", 700, 1000, 0, 300)]
    # 2,310 kg after 300 open: shortfall 2,010 kg, ceil(2,010 / 1,000) = 3 serials
    assert serials_to_retire(2310, open_now) == 3
    # 1,300 kg: shortfall exactly 1,000 kg, 1 serial
    assert serials_to_retire(1300, open_now) == 1
    # the oldest retired open serial is used first, even across retirements
    two_open = [Source(S1, "r1", 900), Source(S2, "r2", 200)]
    assert _rows(allocate("e", 500, two_open)) == [(1, "r1", 900, 1000, 0, 100),
                                                   (2, "r2", 200, 600, 100, 500)]
    with pytest.raises(ValueError):
        allocate("f", 310, open_now)  # 300 kg open, no serial retired for the rest


def _fill_pool(world, credits: int):  # noqa: ANN001
    dev = world.user()
    issued = world.issue(dev, credits + 5)
    moved = world.http.post("/api/v1/transfers", headers=dev.headers,
                            json={"to_username": "city-inclusion-pool", "quantity": credits})
    assert moved.status_code == 201, moved.text
    return issued


def _ask(world, citizen, kg: int, redemption_id: str | None = None):  # noqa: ANN001
    return RedemptionRequestedV2(redemption_id=redemption_id or f"red-{uuid.uuid4()}",
                                 user_id=citizen.id, username=citizen.username,
                                 points=kg * 100, kg=kg)


def _serial_totals(engine) -> list[int]:  # noqa: ANN001
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text(
            "SELECT sum(serial_to_kg - serial_from_kg) FROM pool_share "
            "GROUP BY project_id, vintage, serial"))]


def _pool(world) -> dict:  # noqa: ANN001
    reply = world.http.get("/api/v1/registry/inclusion-pool")
    assert reply.status_code == 200, reply.text
    return reply.json()


def _count(engine, table) -> int:  # noqa: ANN001
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_redemptions_complete_at_once_from_serials_retired_ahead_and_never_twice(fresh_world):
    world = fresh_world
    _fill_pool(world, 3)
    a, b, c, d = (world.user("citizen") for _ in range(4))
    first = _ask(world, a, 600)
    assert world.deliver(first) == "applied"
    # 600 kg: one serial retired by the pool, 600 kg allocated, 400 kg the city's
    done = {e["redemption_id"]: e for e in world.outbox(RedemptionCompletedV2.TYPE)}
    assert [s["kg"] for s in done[first.redemption_id]["shares"]] == [600]
    pool = _pool(world)
    assert (pool["serials_retired"], pool["kg_allocated"], pool["kg_unallocated"]) == (1, 600, 400)
    serial_1 = done[first.redemption_id]["shares"][0]["serial"]
    assert [(x["serial"], x["kg_unallocated"]) for x in pool["open_serials"]] == [(serial_1, 400)]
    # the pool's own retirement says whose it is and why
    retired = world.outbox(CreditsRetired.TYPE)
    assert [r["quantity"] for r in retired] == [1]
    own = world.http.get(f"/api/v1/certificates/{retired[0]['certificate_id']}").json()
    assert "retired by the city's carbon-inclusion pool for citizens' redemptions" in own["purpose"]
    assert own["beneficiary"] == pool["beneficiary"]

    # 600 kg more: serial 1's 400 kg, then 200 kg of a second serial retired now
    second = _ask(world, b, 600)
    world.deliver(second)
    assert world.deliver(second) == "applied"  # redelivered under another envelope: absorbed
    done = {e["redemption_id"]: e for e in world.outbox(RedemptionCompletedV2.TYPE)}
    assert len(world.outbox(RedemptionCompletedV2.TYPE)) == 2
    assert [(s["serial"] == serial_1, s["kg"]) for s in done[second.redemption_id]["shares"]] == [
        (True, 400), (False, 200)]
    pool = _pool(world)
    # 2 serials = 2,000 kg retired; 600 + 600 = 1,200 allocated; 800 the city's, all of serial 2
    assert (pool["serials_retired"], pool["kg_allocated"], pool["kg_unallocated"]) == (2, 1200, 800)
    assert [x["kg_unallocated"] for x in pool["open_serials"]] == [800]

    # 500 kg from serial 2's 800 (300 left), then 1,000 kg: 300 + 700 of a third serial, at once
    third, fourth = _ask(world, c, 500), _ask(world, d, 1000)
    world.deliver(third)
    world.deliver(fourth)
    done = {e["redemption_id"]: e for e in world.outbox(RedemptionCompletedV2.TYPE)}
    assert [s["kg"] for s in done[third.redemption_id]["shares"]] == [500]
    assert [s["kg"] for s in done[fourth.redemption_id]["shares"]] == [300, 700]
    cert = world.http.get(f"/api/v1/certificates/{done[fourth.redemption_id]['certificate_id']}")
    cert = cert.json()
    assert (cert["beneficiary"], cert["kg"], cert["quantity"]) == (d.username, 1000, "1")
    assert len(cert["retirement_ids"]) == 2  # its kg come from two of the pool's retirements
    fields = {k: v for k, v in cert.items() if k not in UNHASHED_KEYS}
    assert certificate_hash(fields) == cert["content_hash"]
    # the pool has no credit left; 3,000 kg retired, 600+600+500+1,000 = 2,700 allocated
    pool = _pool(world)
    assert (pool["serials_retired"], pool["kg_allocated"], pool["kg_unallocated"]) == (3, 2700, 300)

    # 300 kg fit the open remainder exactly: completed without retiring anything
    fifth = _ask(world, a, 300)
    world.deliver(fifth)
    assert fifth.redemption_id in {e["redemption_id"]
                                   for e in world.outbox(RedemptionCompletedV2.TYPE)}
    assert _serial_totals(world.engine) == [1000, 1000, 1000]
    assert _pool(world)["open_serials"] == []
    # 10 kg more would need a fourth serial: the empty pool refuses at once
    refused = _ask(world, b, 10)
    world.deliver(refused)
    assert [r["redemption_id"] for r in world.outbox(RedemptionRejected.TYPE)] == [
        refused.redemption_id]
    world.deliver(refused)  # redelivered: refused once
    assert len(world.outbox(RedemptionRejected.TYPE)) == 1
    assert len(world.outbox(RedemptionCompletedV2.TYPE)) == 5
    assert _count(world.engine, Retirement) == 3
    # three pool retirements' own certificates plus five citizens'
    assert _count(world.engine, Certificate) == 8
    assert world.http.get("/api/v1/registry/audit/verify").json()["intact"] is True


def test_an_empty_pool_rejects_at_once_and_retires_nothing(fresh_world):
    world = fresh_world
    citizen = world.user("citizen")
    ask = _ask(world, citizen, 10)
    world.deliver(ask)
    rejected = world.outbox(RedemptionRejected.TYPE)
    assert [r["redemption_id"] for r in rejected] == [ask.redemption_id]
    assert "holds 0 credits" in rejected[0]["reason"]
    assert world.outbox(RedemptionCompletedV2.TYPE) == []
    assert (_count(world.engine, Retirement), _count(world.engine, PoolShare)) == (0, 0)
    assert _pool(world)["serials_retired"] == 0


def test_parallel_small_redemptions_never_over_retire_the_pool(fresh_world):
    world = fresh_world
    issued = _fill_pool(world, 3)
    citizen = world.user("citizen")
    racers = 20  # the connection pool's size: each delivery has a connection of its own
    barrier = threading.Barrier(racers)

    def deliver(_: int) -> str:
        ask = _ask(world, citizen, 250)
        envelope = CloudEvent(type=ask.TYPE, source=ask.SOURCE, data=ask.model_dump(mode="json"))
        barrier.wait(timeout=30)
        return world.runner.apply(SimpleNamespace(topic=ask.TOPIC, value=envelope.to_json()))

    with ThreadPoolExecutor(racers) as pool:
        assert list(pool.map(deliver, range(racers))) == ["applied"] * racers
    # 3 credits = 3,000 kg = 12 x 250 kg: 12 complete, 8 are refused
    completed = world.outbox(RedemptionCompletedV2.TYPE)
    rejected = world.outbox(RedemptionRejected.TYPE)
    assert (len(completed), len(rejected)) == (12, 8)
    assert _serial_totals(world.engine) == [1000] * 3
    projects = {p["project_number"]: p for p in world.http.get("/api/v1/registry/projects").json()}
    assert projects[issued.project_number]["retired"] == 3
    assert _count(world.engine, Retirement) == 3  # one serial at a time, each when needed
    pool = _pool(world)
    assert (pool["kg_allocated"], pool["kg_unallocated"]) == (3000, 0)
    assert world.http.get("/api/v1/registry/audit/verify").json()["intact"] is True


def test_the_schema_refuses_a_serials_kg_given_twice_and_a_redemption_covered_twice(fresh_world):
    world = fresh_world
    _fill_pool(world, 1)
    citizen = world.user("citizen")
    first = _ask(world, citizen, 1000)
    world.deliver(first)
    with Session(world.engine) as session:
        share = session.exec(select(PoolShare)).one()
        retirement_id = share.retirement_id
    other = _ask(world, citizen, 500)
    world.deliver(other)  # rejected (the pool is empty) but received: a share could name it

    def add(**changes):
        def write(uow):
            values = {"redemption_id": first.redemption_id, "redemption_kg": 1000,
                      "retirement_id": retirement_id, "project_id": share.project_id,
                      "project_number": share.project_number, "vintage": share.vintage,
                      "serial": share.serial, "serial_from_kg": 0, "serial_to_kg": 10,
                      "own_from_kg": 0, "own_to_kg": 10, **changes}
            uow.session.add(PoolShare(**values))
            uow.session.flush()
        return write

    # the serial's first 10 kg again, for another redemption
    with pytest.raises(Conflict, match="already given to a redemption"):
        in_unit_of_work(world.engine, add(redemption_id=other.redemption_id, redemption_kg=500,
                                          serial=share.serial))
    # the redemption's first 10 kg again, from another serial
    with pytest.raises(Conflict, match="already covered"):
        in_unit_of_work(world.engine, add(serial=share.serial + 1))
    with pytest.raises(Conflict, match="either completed"):  # no waiting state any more
        in_unit_of_work(world.engine, lambda uow: (uow.session.add(PooledRedemption(
            id=f"red-{uuid.uuid4()}", user_id=citizen.id, username=citizen.username, kg=10,
            status="pending")), uow.session.flush()))
    with pytest.raises(Conflict, match="within its serial"):
        in_unit_of_work(world.engine, add(redemption_id=other.redemption_id, redemption_kg=500,
                                          serial=share.serial + 1, serial_from_kg=995,
                                          serial_to_kg=1005))
    assert json.loads(world.http.get("/api/v1/registry/audit/verify").text)["intact"] is True
