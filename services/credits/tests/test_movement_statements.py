"""Statements a movement sends in its unit of work (issue 15: fewer statements per movement,
since each one is a round trip while the movement's row locks are held). Counted on the
engine up to the commit (the audit sequencer's pass after it is not the movement's), and every
row the movement must write is then checked, so fewer statements never means less written."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from tanhui_credits.store import block_writes
from tanhui_credits.store.market_tables import LargeEvent, Payment
from tanhui_credits.store.tables import AuditEntry, AuditPending, Certificate, Retirement
from tanhui_credits.usecases import retire_credits
from tanhui_credits.usecases.market import create_listing, offset_event
from tanhui_shared.contracts import CreditsRetired
from tanhui_shared.uow import in_unit_of_work


def statements_of(engine, use_case):  # noqa: ANN001, ANN201
    """(result, first word of each statement the unit of work sent until it committed)."""
    sent, counting = [], [True]

    def seen(conn, cursor, statement, *_) -> None:  # noqa: ANN001
        if counting[0]:
            sent.append(statement.split(None, 1)[0].upper())

    def operation(uow):  # noqa: ANN001, ANN202
        # registered before the use case's journal registers the sequencer: runs before it
        uow.after_commit(lambda: counting.__setitem__(0, False))
        return use_case(uow)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        return in_unit_of_work(engine, operation), sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)


def movement_rows(engine, retirement_id: str, named: str) -> tuple[int, int]:  # noqa: ANN001
    """(audit entries naming `named`, chained or pending; the retirement's certificates)."""
    with Session(engine) as session:
        bodies = [*session.exec(select(AuditEntry.body)).all(),
                  *session.exec(select(AuditPending.body)).all()]
        certificates = session.exec(select(Certificate)
                                    .where(Certificate.retirement_id == retirement_id)).all()
    return sum(named in body for body in bodies), len(certificates)


def test_a_retirement_that_splits_a_block_sends_one_statement(world) -> None:
    holder = world.user("enterprise")
    world.issue(holder, 10)
    certificate, sent = statements_of(world.engine, lambda uow: retire_credits(
        uow, holder.id, 1, beneficiary="statement count", purpose="issue 15"))
    # one query (store/spread_retirement.py): one call in its own transaction (lock the
    # account, then its blocks; the block moves: close the split block, insert its two parts;
    # the retirement, certificate, outbox event, audit entries), then the audit sequencer's pass
    assert sent == ["BEGIN;"], sent
    retirement_id = certificate.retirement_id
    assert movement_rows(world.engine, retirement_id, retirement_id) == (1, 1)
    retired = [e for e in world.outbox(CreditsRetired.TYPE)
               if e["retirement_id"] == certificate.retirement_id]
    assert [e["quantity"] for e in retired] == [1]
    assert world.holdings(holder)["total"] == 9


def test_an_offset_from_one_listing_sends_one_statement(world) -> None:
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 20)
    event = LargeEvent(organizer_user_id=organizer.id, name="statement count", venue="Nanchong",
                       start_date=date(2026, 5, 1), end_date=date(2026, 5, 1), attendees=100,
                       activity="{}", estimate=json.dumps({"credits_to_neutralise": 1}),
                       total_tco2e=Decimal(1))

    def list_and_register(uow) -> None:  # noqa: ANN001
        create_listing(uow, seller.id, 10, Decimal("58.00"))
        uow.session.add(event)

    in_unit_of_work(world.engine, list_and_register)
    # the first offset of an event this process has not read: the event read (its documents
    # name it), which opens the unit's transaction; then the purchase in it, under a savepoint
    # (store/hot_listing.sell_and_retire), committed with the unit
    first, sent = statements_of(world.engine,
                                lambda uow: offset_event(uow, organizer.id, event.id, 1))
    assert sent == ["SELECT", "SAVEPOINT"], sent
    offset, sent = statements_of(world.engine,
                                 lambda uow: offset_event(uow, organizer.id, event.id, 1))
    # then one query (store/hot_listing.py), in its own transaction: lock the event (checked
    # as the documents describe it), find the buyer's account, lock the cheapest listing, its
    # blocks, the block moves (close the split block, insert its two parts, then the buyer's
    # retired block made from the moved part), retirement, payment, certificate, outbox event,
    # audit entries, the listing's remaining; then the audit sequencer's pass
    assert sent == ["BEGIN;"], sent
    # each: the transfer into the buyer's holding and the retirement, each naming the event
    assert movement_rows(world.engine, offset.certificate.retirement_id, event.id) == (4, 1)
    for done in (first, offset):
        retirement_id = done.certificate.retirement_id
        assert movement_rows(world.engine, retirement_id, retirement_id) == (1, 1)
        with Session(world.engine) as session:
            assert session.get(Retirement, retirement_id).event_id == event.id
            paid = session.exec(select(Payment).where(Payment.retirement_id == retirement_id)
                                ).all()
        assert [(p.quantity, p.amount) for p in paid] == [(1, Decimal("58.00"))]


def test_closing_blocks_looks_them_up_by_id_however_long_the_history(world) -> None:
    """The block moves' closing UPDATE reaches its blocks through the primary key: joined to
    its JSON rows alone, the planner took 100 of them and scanned all of serial_block, history
    included, on every movement (issue 15)."""
    holder = world.user("enterprise")
    issued = world.issue(holder, 10)
    with world.engine.begin() as conn:  # a long history: superseded versions (they may overlap)
        conn.execute(sa.text("""
            INSERT INTO serial_block (project_id, project_number, vintage, "first", "last",
                account_id, status, issuance_id, created_by, closed_by, created_at)
            SELECT project_id, project_number, vintage, "first", "last", account_id,
                'superseded', issuance_id, 'history', 'history', created_at
            FROM serial_block, generate_series(1, 5000)
            WHERE project_id = :project AND status = 'active'"""), {"project": issued.project_id})
        conn.execute(sa.text("ANALYZE serial_block"))
        block_id = conn.execute(sa.text("SELECT id FROM serial_block WHERE project_id = :p "
                                        "AND status = 'active'"),
                                {"p": issued.project_id}).scalar_one()
    closes = json.dumps([{"id": block_id, "status": "superseded", "closed_by": "plan",
                          "retirement_id": None, "compensation_id": None}])
    with world.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN " + block_writes._statement(0), {
            "closes": closes, "close_ids": [block_id], "n_closed": 1}).scalars().all()
    assert not [line for line in plan if "Seq Scan on serial_block" in line], plan
    assert [line for line in plan if "serial_block_pkey" in line], plan
