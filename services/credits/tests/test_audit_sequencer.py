"""The audit chain extended after commit by the sequencer (store/audit.py), on PostgreSQL.

Movements run concurrently on shared and separate holdings, while other threads run the
sequencer the way the relay does; afterwards the chained entries form one gap-free chain that
verifies, hold every movement exactly once, and never put a movement before one it depended on
(the commit order of dependent movements). Tampering with the chain is found wherever it is."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from sqlmodel import Session

from tanhui_credits.store.audit import chain_pending, verify_chain
from tanhui_credits.store.blocks import lock_spendable_blocks
from tanhui_credits.usecases import retire_credits, transfer_credits
from tanhui_shared.uow import in_unit_of_work

MOVERS = 8  # threads moving credits; two per holder, so each holding's debits queue on its lock
MOVES = 12  # movements per mover
SEQUENCERS = 2  # threads running the sequencer in a loop, as relays do


def _move_concurrently(world, holders) -> list[BaseException]:  # noqa: ANN001
    """Retirements and transfers from MOVERS threads, with SEQUENCERS threads sequencing;
    returns what any sequencer raised."""
    engine, done, failures = world.engine, threading.Event(), []

    def mover(index: int) -> None:
        me, other = holders[index % len(holders)], holders[(index + 1) % len(holders)]
        for move in range(MOVES):
            if move % 3 == 2:  # the receiver's later debits depend on this transfer
                in_unit_of_work(engine, lambda uow: transfer_credits(uow, me.id, other.username, 2))
            else:
                in_unit_of_work(engine, lambda uow: retire_credits(
                    uow, me.id, 1, beneficiary="sequencer test", purpose="concurrency"))

    def sequencer() -> None:
        while not done.is_set():
            try:
                chain_pending(engine, batch=7)  # small batches: several passes per burst
            except Exception as exc:  # noqa: BLE001 - collected: the test fails on any
                failures.append(exc)

    with ThreadPoolExecutor(MOVERS + SEQUENCERS) as pool:
        running = [pool.submit(sequencer) for _ in range(SEQUENCERS)]
        for moved in [pool.submit(mover, i) for i in range(MOVERS)]:
            moved.result()
        done.set()
        for each in running:
            each.result()
    return failures


def test_concurrent_movements_form_one_gap_free_chain_in_commit_order(fresh_world, caplog):
    world = fresh_world
    holders = [world.user("enterprise") for _ in range(MOVERS // 2)]
    for holder in holders:
        world.issue(holder, 100)
    with caplog.at_level(logging.WARNING):
        failures = _move_concurrently(world, holders)
    # the movements' own after-commit sequencing logs what it could not do
    assert failures == [] and not [r for r in caplog.records if "after-commit" in r.message]
    chain_pending(world.engine)  # what the relay's next pass does: nothing may stay pending

    with Session(world.engine) as session:
        report = verify_chain(session)
        entries = session.execute(sa.text("SELECT seq, entry_id FROM audit_entry ORDER BY seq")
                                  ).all()
        blocks = session.execute(sa.text(
            "SELECT created_by, closed_by FROM serial_block")).all()
        pending = session.execute(sa.text("SELECT count(*) FROM audit_pending")).scalar_one()
    assert report["intact"] is True and pending == 0 and report["pending"] == 0, report
    assert [seq for seq, _ in entries] == list(range(1, len(entries) + 1))  # gap-free
    assert report["entries"] == len(entries)
    seq_of = {entry_id: seq for seq, entry_id in entries}
    movements = {b.created_by for b in blocks} | {b.closed_by for b in blocks if b.closed_by}
    assert set(seq_of) == movements  # every movement chained once, nothing else
    with Session(world.engine) as session:
        kinds = dict(session.execute(sa.text(
            "SELECT kind, count(*) FROM audit_entry WHERE kind <> 'split' GROUP BY kind")).all())
    assert kinds == {"issue": len(holders), "retire": MOVERS * (MOVES - MOVES // 3),
                     "transfer": MOVERS * (MOVES // 3)}
    # Commit order: a block is closed by a movement that found it, so committed after the one
    # that created it; the chain must say the same of every block.
    out_of_order = [b for b in blocks if b.closed_by and seq_of[b.created_by] >= seq_of[b.closed_by]]
    assert out_of_order == []


def test_account_lock_lets_credits_in(fresh_world):
    """A debit holds its account's lock to its commit; a transfer INTO that account meanwhile
    (its new block's foreign key takes the account's row FOR KEY SHARE) goes through without
    waiting for it. With the lock FOR UPDATE it waited, and transfers in a ring, as
    _move_concurrently's, deadlocked (each holding its sender, waiting for its receiver) and ran
    out of retries now and then."""
    world = fresh_world
    debited, sender = world.user("enterprise"), world.user("enterprise")
    world.issue(debited, 10)
    world.issue(sender, 10)
    locked, release = threading.Event(), threading.Event()

    def debit_in_progress() -> None:
        with Session(world.engine) as session:
            lock_spendable_blocks(session, debited.id)  # what a debit takes first
            locked.set()
            release.wait(30)  # a bound only: the test sets it as soon as the transfer is in

    with ThreadPoolExecutor(2) as pool:
        holder = pool.submit(debit_in_progress)
        assert locked.wait(30)
        transfer = pool.submit(in_unit_of_work, world.engine, lambda uow: transfer_credits(
            uow, sender.id, debited.username, 3))
        try:
            transfer.result(timeout=20)  # never released by the debit: it ends at release
            through_while_locked = not release.is_set()
        finally:
            release.set()
        holder.result()
    assert through_while_locked
    with Session(world.engine) as session:
        received = session.execute(sa.text(
            "SELECT sum(b.\"last\" - b.\"first\" + 1) FROM serial_block b "
            "JOIN holding_account a ON a.id = b.account_id "
            "WHERE a.owner_user_id = :owner AND b.status = 'active'"),
            {"owner": debited.id}).scalar_one()
    assert received == 13


def _verify_tampered(world, *statements: str) -> dict:  # noqa: ANN001
    """verify_chain on the database as the statements leave it, rolled back afterwards."""
    with world.engine.connect() as conn:
        with conn.begin() as tampering:
            for statement in statements:
                conn.execute(sa.text(statement))
            report = verify_chain(Session(bind=conn))
            tampering.rollback()
    return report


def test_modified_deleted_reordered_or_truncated_entries_are_found(fresh_world):
    world = fresh_world
    dev, other = world.user(), world.user()
    world.issue(dev, 50)
    for _ in range(3):
        assert world.http.post("/api/v1/transfers", headers=dev.headers, json={
            "to_username": other.username, "quantity": 5}).status_code == 201
    with Session(world.engine) as session:
        sound = verify_chain(session)
    assert sound == {"intact": True, "entries": 7, "pending": 0, "first_broken": None}

    modified = _verify_tampered(world, "UPDATE audit_entry SET body = "
                                       "replace(body, 'transfer', 'tranzfer') WHERE seq = 3")
    assert modified["first_broken"]["seq"] == 3 and "content" in modified["first_broken"]["reason"]
    deleted = _verify_tampered(world, "DELETE FROM audit_entry WHERE seq = 4")
    assert deleted["first_broken"] == {"seq": 5, "reason": "sequence gap: expected entry 4"}
    reordered = _verify_tampered(  # entries 4 and 5 swap places (seq is the primary key)
        world, "UPDATE audit_entry SET seq = -4 WHERE seq = 4",
        "UPDATE audit_entry SET seq = 4 WHERE seq = 5", "UPDATE audit_entry SET seq = 5 WHERE seq = -4")
    assert reordered["intact"] is False and reordered["first_broken"]["seq"] == 4
    truncated = _verify_tampered(world, "DELETE FROM audit_entry WHERE seq = 7")
    assert truncated["intact"] is False and truncated["first_broken"]["seq"] == 7
    assert "does not end at its head" in truncated["first_broken"]["reason"]
