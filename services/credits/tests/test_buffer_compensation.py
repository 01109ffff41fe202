"""Verified losses compensated from the buffer pool, then the developer's holdings (issue 13):
the split worked by hand, the public registry movement and lineage, idempotency under
redelivery, and concurrent deliveries against the real PostgreSQL."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tanhui_credits.domain.compensation import loss_credits, required_credits, split
from tanhui_credits.store.reconcile import registry_discrepancies
from tanhui_shared.contracts import LossVerified

COMPENSATED = "cn.tanhui.credits.buffer_compensated.v1"


def _loss(issued, tonnes: str, *, loss_id: str | None = None,  # noqa: ANN001
          cause: str = "fire") -> LossVerified:
    return LossVerified(
        loss_id=loss_id or str(uuid.uuid4()), project_id=issued.project_id,
        project_number=issued.project_number, owner_user_id=issued.owner_user_id, cause=cause,
        occurred_on=date(2025, 8, 1), verified_tco2e=Decimal(tonnes),
        verifier_user_id="verifier-1", verified_at=datetime(2025, 9, 1, tzinfo=UTC))


def _totals(world, project_number: int) -> dict:  # noqa: ANN001
    [row] = [r for r in world.http.get("/api/v1/registry/projects").json()
             if r["project_number"] == project_number]
    return row


def _balanced(world) -> None:  # noqa: ANN001
    with Session(world.engine) as session:
        assert registry_discrepancies(session) == []
    assert world.http.get("/api/v1/registry/audit/verify").json()["ok"] is True


# --- worked examples, by hand ------------------------------------------------------------------

def test_a_loss_is_rounded_up_to_whole_credits_and_capped_at_what_was_issued():
    assert loss_credits(Decimal("350.4")) == 351  # 350.4 t -> 351 credits: no lost tonne left out
    assert loss_credits(Decimal("351")) == 351
    # the project was issued 1,000 credits; an earlier loss called for 900: 100 remain to make good
    assert required_credits(351, 1000, 900) == 100
    assert required_credits(351, 1000, 0) == 351
    assert required_credits(351, 1000, 1200) == 0


def test_the_split_draws_on_the_pool_then_the_developer_then_records_the_shortfall():
    # Project A issued 1,000 t at a 20 % buffer: 1000 x (1 - 0.20) = 800 to the developer and
    # 1000 - 800 = 200 to the pool; project B issued 500 t at 10 %: 500 x 0.10 = 50 to the pool.
    # A fire on A: 350.4 t verified -> 351 credits = 200 (A's pool) + 50 (B's pool) + 101 (dev).
    drawn = split(351, pool_own=200, pool_other=50, developer=800)
    assert (drawn.pool_own, drawn.pool_other, drawn.developer, drawn.shortfall) == (200, 50, 101, 0)
    assert drawn.from_pool == 250
    # the developer sold 700 and holds 100: 351 = 200 + 50 + 100 + a shortfall of 1
    drawn = split(351, pool_own=200, pool_other=50, developer=100)
    assert (drawn.from_pool, drawn.developer, drawn.shortfall) == (250, 100, 1)
    # a small loss comes from the project's own buffer contribution alone
    assert split(30, pool_own=200, pool_other=50, developer=800).pool_own == 30


# --- through the consumer and the public registry ----------------------------------------------

def test_a_fire_is_compensated_from_the_pool_then_the_developer(fresh_world):
    world = fresh_world
    dev, other_dev = world.user(), world.user()
    issued = world.issue(dev, 1000, buffer_pct=20)  # 800 to dev, 200 to the pool
    world.issue(other_dev, 500, buffer_pct=10)  # 450 to the other developer, 50 to the pool
    loss = _loss(issued, "350.4")
    assert world.deliver(loss) == "applied"

    [answer] = world.outbox(COMPENSATED)
    assert (answer["required"], answer["from_pool"], answer["from_developer"],
            answer["shortfall"]) == (351, 250, 101, 0)
    assert world.holdings(dev)["total"] == 800 - 101
    assert world.holdings(other_dev)["total"] == 450  # never touched
    # issued = held + retired + buffer + cancelled, per project
    a = _totals(world, issued.project_number)
    assert (a["issued"], a["held"], a["buffer"], a["cancelled"]) == (1000, 699, 0, 301)
    b = _totals(world, issued.project_number + 1)
    assert (b["issued"], b["held"], b["buffer"], b["cancelled"]) == (500, 450, 0, 50)

    public = world.http.get(f"/api/v1/registry/compensations/{loss.loss_id}").json()
    assert public["shortfall"] == 0 and public["loss_credits"] == 351
    assert sum(block["quantity"] for block in public["blocks"]) == 351
    assert {block["status"] for block in public["blocks"]} == {"cancelled"}
    # the lineage of a cancelled serial ends in the loss it made good
    lineage = world.http.get(f"/api/v1/registry/serials/{public['blocks'][0]['serials']}").json()
    assert lineage["compensation"]["loss_id"] == loss.loss_id
    assert lineage["steps"][-1]["closed_by"]["kind"] == "compensate"
    _balanced(world)


def test_a_loss_beyond_pool_and_holdings_records_the_shortfall_never_a_negative(fresh_world):
    world = fresh_world
    dev, buyer = world.user(), world.user("enterprise")
    issued = world.issue(dev, 100, buffer_pct=10)  # 90 to dev, 10 to the pool
    reply = world.http.post("/api/v1/transfers", headers=dev.headers,
                            json={"to_username": buyer.username, "quantity": 85})
    assert reply.status_code in (200, 201), reply.text  # the developer sold 85, holds 5
    loss = _loss(issued, "5000")  # capped at what was issued: 100 credits
    world.deliver(loss)
    [answer] = world.outbox(COMPENSATED)
    # 100 required = 10 (pool) + 5 (developer) + 85 shortfall; the buyer's 85 stay theirs
    assert (answer["required"], answer["from_pool"], answer["from_developer"],
            answer["shortfall"]) == (100, 10, 5, 85)
    assert world.holdings(dev)["total"] == 0 and world.holdings(buyer)["total"] == 85
    listed = world.http.get("/api/v1/registry/compensations").json()["items"]
    assert [(c["loss_id"], c["shortfall"]) for c in listed] == [(loss.loss_id, 85)]
    _balanced(world)


def test_a_redelivered_loss_changes_nothing(fresh_world):
    world = fresh_world
    dev = world.user()
    issued = world.issue(dev, 200, buffer_pct=20)
    loss = _loss(issued, "30")
    assert world.deliver(loss) == "applied"
    assert world.deliver(loss) == "applied"  # the same loss under a new event id
    assert len(world.outbox(COMPENSATED)) == 1
    assert _totals(world, issued.project_number)["cancelled"] == 30
    _balanced(world)


def test_concurrent_deliveries_compensate_each_loss_once(fresh_world):
    world = fresh_world
    dev = world.user()
    issued = world.issue(dev, 1000, buffer_pct=10)  # 900 to dev, 100 to the pool
    fire, pests = _loss(issued, "60"), _loss(issued, "70", cause="pests")
    deliveries = [fire] * 6 + [pests] * 6  # each under its own event id, all at once
    with ThreadPoolExecutor(len(deliveries)) as pool:
        outcomes = list(pool.map(world.deliver, deliveries))
    assert set(outcomes) <= {"applied", "duplicate"}, outcomes
    answers = world.outbox(COMPENSATED)
    assert sorted(a["loss_id"] for a in answers) == sorted([fire.loss_id, pests.loss_id])
    # 60 + 70 = 130 credits: the pool's 100 first, then 30 of the developer's 900
    assert sum(a["from_pool"] for a in answers) == 100
    assert sum(a["from_developer"] for a in answers) == 30
    assert world.holdings(dev)["total"] == 870
    assert _totals(world, issued.project_number)["cancelled"] == 130
    _balanced(world)


def _walk(world, path: str, limit: int, **params) -> list[dict]:  # noqa: ANN001
    """Every page of a registry list, each after the previous one's `next`; a cursor that does
    not advance fails here at once rather than looping until the test's timeout."""
    found, after, seen = [], None, set()
    while True:
        assert after not in seen, f"the cursor {after!r} came back: the pages do not advance"
        seen.add(after)
        reply = world.http.get(path, params={**params, "limit": limit,
                                             **({"after": after} if after else {})})
        assert reply.status_code == 200, reply.text
        page = reply.json()
        assert len(page["items"]) == limit or page["next"] is None
        found += page["items"]
        if not (after := page["next"]):
            return found


def test_the_public_lists_of_losses_and_blocks_are_paged_by_cursor(fresh_world):
    world = fresh_world
    dev = world.user()
    issued = world.issue(dev, 1000, buffer_pct=10)
    for n in range(3):
        world.deliver(_loss(issued, str(10 + n), loss_id=f"loss-{n}"))
    whole = world.http.get("/api/v1/registry/compensations", params={"limit": 200}).json()
    assert whole["total"] == 3 and whole["next"] is None
    assert [c["loss_id"] for c in whole["items"]] == ["loss-0", "loss-1", "loss-2"]
    for limit in (1, 2):
        assert _walk(world, "/api/v1/registry/compensations", limit) == whole["items"]
    # each loss cancelled a block: the project's current blocks, by vintage and first serial
    blocks = world.http.get("/api/v1/registry/blocks",
                            params={"project_id": issued.project_id, "limit": 200}).json()
    assert blocks["total"] == len(blocks["items"]) >= 5 and blocks["next"] is None
    firsts = [int(b["serials"].split("-")[-2]) for b in blocks["items"]]
    assert firsts == sorted(firsts)
    for limit in (1, 2, 3):
        assert _walk(world, "/api/v1/registry/blocks", limit,
                     project_id=issued.project_id) == blocks["items"]
    # a range's blocks page alike
    span = f"{blocks['items'][0]['serials'][:-10]}-000001000"
    whole = world.http.get("/api/v1/registry/blocks", params={"serial": span, "limit": 200}).json()
    assert whole["items"] == blocks["items"] and whole["total"] == blocks["total"]
    assert _walk(world, "/api/v1/registry/blocks", 2, serial=span) == blocks["items"]


@pytest.mark.parametrize("tonnes", ["0", "-1"])
def test_a_loss_is_greater_than_zero(tonnes):
    with pytest.raises(ValueError):
        loss_credits(Decimal(tonnes))


# --- the schema refuses what the code might forget --------------------------------------------

def _violated(world, sql: str, **params) -> str:  # noqa: ANN001
    with pytest.raises(IntegrityError) as refused, world.engine.begin() as conn:
        conn.execute(text(sql), params)
    return refused.value.orig.diag.constraint_name


def test_the_schema_keeps_compensations_whole_and_cancelled_credits_final(fresh_world):
    world = fresh_world
    dev = world.user()
    issued = world.issue(dev, 100, buffer_pct=20)  # 80 to dev, 20 to the pool
    loss = _loss(issued, "20")
    world.deliver(loss)
    # one compensation per loss, whatever path writes it
    assert _violated(world, "INSERT INTO buffer_compensation SELECT * FROM buffer_compensation "
                            "WHERE loss_id = :loss", loss=loss.loss_id) == \
        "buffer_compensation_pkey"
    assert _violated(world, "UPDATE buffer_compensation SET shortfall = shortfall + 1") == \
        "ck_buffer_compensation_split"
    # a cancelled block never comes back to life, and its serials are never live elsewhere
    assert _violated(world, "UPDATE serial_block SET status = 'active', closed_by = NULL "
                            "WHERE status = 'cancelled'") == "ck_block_compensation"
    assert _violated(world, """
        INSERT INTO serial_block (project_id, project_number, vintage, "first", "last",
                                  account_id, status, issuance_id, created_by, created_at)
        SELECT project_id, project_number, vintage, "first", "last", :account, 'active',
               issuance_id, 'forced-by-hand', now()
        FROM serial_block WHERE status = 'cancelled'""",
                     account=world.holdings(dev)["account_id"]) == "ex_block_live_serials"
    _balanced(world)
