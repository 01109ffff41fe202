"""The schema refuses what the registry must never hold, whatever code path (or hand) tries it."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from tanhui_credits.store import blocks as block_moves
from tanhui_credits.store.blocks import BlockAlreadyClosed
from tanhui_credits.store.reconcile import registry_discrepancies
from tanhui_credits.store.tables import Block
from tanhui_credits.usecases import issue_credits, retire_credits, transfer_credits
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work, run_unit_of_work

COPY_BLOCK = """
INSERT INTO serial_block (project_id, project_number, vintage, "first", "last", account_id,
                          status, issuance_id, created_by, created_at)
SELECT project_id, project_number, vintage, :first, :last, account_id, 'active', issuance_id,
       'forced-by-hand', now()
FROM serial_block WHERE id = :id
"""


def _violated(world, sql: str, **params) -> str:  # noqa: ANN001
    """Run `sql` past the application; the name of the constraint that refused it."""
    with pytest.raises(IntegrityError) as refused, world.engine.begin() as conn:
        conn.execute(text(sql), params)
    return refused.value.orig.diag.constraint_name


def _active(world, project_id: str) -> list[Block]:  # noqa: ANN001
    with Session(world.engine) as session:
        return list(session.exec(select(Block).where(Block.project_id == project_id,
                                                     Block.status == "active")
                                 .order_by(Block.id)).all())


def test_exclusion_constraint_refuses_a_forced_overlapping_block(world):
    dev = world.user()
    issued = world.issue(dev, 100, project_number=600)
    [block] = _active(world, issued.project_id)
    for first, last in ((50, 150), (1, 1), (100, 100), (1, 100)):
        assert _violated(world, COPY_BLOCK, id=block.id, first=first,
                         last=last) == "ex_block_live_serials"
    # next to it is fine, and a superseded block may overlap (it is history, not a holding);
    # rolled back, so the registry stays balanced
    with world.engine.connect() as conn, conn.begin() as transaction:
        conn.execute(text(COPY_BLOCK), {"id": block.id, "first": 101, "last": 120})
        conn.execute(text("UPDATE serial_block SET status = 'superseded', closed_by = 'x' "
                          "WHERE \"first\" = 101 AND project_id = :p"), {"p": issued.project_id})
        conn.execute(text(COPY_BLOCK), {"id": block.id, "first": 101, "last": 120})
        transaction.rollback()
    # through a unit of work the same refusal is a 409 Conflict that names the constraint
    with Session(world.engine) as session, pytest.raises(Conflict) as conflict:
        run_unit_of_work(session, lambda uow: uow.session.execute(
            text(COPY_BLOCK), {"id": block.id, "first": 7, "last": 8}))
    assert conflict.value.status == 409
    assert conflict.value.extensions["constraint"] == "ex_block_live_serials"
    assert "another live block" in conflict.value.detail


def test_a_retired_block_cannot_be_closed_again(world):
    dev = world.user()
    issued = world.issue(dev, 10, project_number=601)
    [block] = _active(world, issued.project_id)
    in_unit_of_work(world.engine, lambda uow: retire_credits(
        uow, dev.id, 10, beneficiary="x", purpose="y"))
    with Session(world.engine) as session, session.begin():
        stale = session.get(Block, block.id)
        assert stale.status == "retired"
        with pytest.raises(BlockAlreadyClosed):  # the conditional update changed 0 rows
            block_moves.close(session, stale, "superseded", "again")  # staged,
            block_moves.write_moves(session)  # then written with the unit's block moves
        changed = session.execute(text("UPDATE serial_block SET status = 'superseded' "
                                       "WHERE id = :id AND status = 'active'"),
                                  {"id": block.id}).rowcount
        assert changed == 0


def test_a_missed_lock_is_refused_not_applied(world, monkeypatch):
    """A transfer that read its blocks without locking them, while another transaction retired
    them, fails as a Conflict and writes nothing."""
    dev, other = world.user(), world.user()
    issued = world.issue(dev, 10, project_number=602)

    def read_without_lock(session, account_id, project_id=None, vintage=None):  # noqa: ANN001
        rows = list(session.exec(select(Block).where(Block.account_id == account_id,
                                                     Block.status == "active")).all())
        with world.engine.begin() as conn:  # meanwhile, elsewhere, they are retired
            conn.execute(text("UPDATE serial_block SET status = 'retired', closed_by = 'other', "
                              "retirement_id = 'other' WHERE account_id = :a"), {"a": account_id})
        return rows

    monkeypatch.setattr(block_moves, "spendable_blocks", read_without_lock)
    with pytest.raises(BlockAlreadyClosed) as refused:
        in_unit_of_work(world.engine, lambda uow: transfer_credits(uow, dev.id, other.username, 4))
    assert refused.value.status == 409
    with Session(world.engine) as session:  # only the block the other transaction retired
        rows = session.exec(select(Block).where(Block.project_id == issued.project_id)).all()
    assert [(r.status, r.closed_by) for r in rows] == [("retired", "other")]
    assert world.holdings(other)["total"] == 0


def test_checks_refuse_out_of_range_figures(world):
    dev = world.user()
    issued = world.issue(dev, 20, project_number=603)
    listing = world.http.post("/api/v1/listings", headers=dev.headers,
                              json={"quantity": 5, "price_per_tonne": "10.00"}).json()
    retired = world.http.post("/api/v1/retirements", headers=dev.headers,
                              json={"quantity": 1, "beneficiary": "x", "purpose": "y"}).json()
    [block] = [b for b in _active(world, issued.project_id) if b.listing_id is None]
    refusals = {
        "UPDATE listing_stock SET remaining = -1, status = 'sold_out' WHERE listing_id = :l":
            "ck_listing_remaining",
        "UPDATE listing_stock SET remaining = 6 WHERE listing_id = :l": "ck_listing_remaining",
        "UPDATE listing_stock SET remaining = 0 WHERE listing_id = :l": "ck_listing_open",
        "UPDATE listing_stock SET status = 'sold_out' WHERE listing_id = :l": "ck_listing_open",
        "UPDATE listing_stock SET status = 'gone', remaining = 0 WHERE listing_id = :l":
            "ck_listing_status",
        # a stock counts down its own listing's quantity, and a listing has one stock
        "UPDATE listing_stock SET quantity = 6, remaining = 6 WHERE listing_id = :l":
            "fk_listing_stock_listing",
        "UPDATE listing SET quantity = 6 WHERE id = :l": "fk_listing_stock_listing",
        "INSERT INTO listing_stock SELECT listing_id, quantity, remaining, status "
        "FROM listing_stock WHERE listing_id = :l": "listing_stock_pkey",
        "UPDATE serial_block SET \"first\" = 0 WHERE id = :b": "ck_block_range",
        "UPDATE serial_block SET \"last\" = \"first\" - 1 WHERE id = :b": "ck_block_range",
        "UPDATE serial_block SET status = 'retired', closed_by = 'x' WHERE id = :b":
            "ck_block_retirement",
        "UPDATE serial_block SET status = 'superseded' WHERE id = :b": "ck_block_closed",
        "UPDATE retirement SET quantity = 0 WHERE id = :r": "ck_retirement_quantity",
        "UPDATE issuance SET owner_quantity = -1 WHERE id = :i": "ck_issuance_quantities",
        "UPDATE issuance SET serial_last = serial_last + 1 WHERE id = :i": "ck_issuance_serials",
    }
    for sql, constraint in refusals.items():
        assert _violated(world, sql, l=listing["id"], b=block.id, i=issued.issuance_id,
                         r=retired["retirement_id"]) == constraint, sql


def test_a_listing_without_its_stock_is_found_by_the_reconciliation(world):
    """No constraint says a listing has a stock (create_listing writes both): the registry's
    reconciliation (GET /registry/audit/verify, `tanhui_ops audit`) names one that has none."""
    dev = world.user()
    world.issue(dev, 8, project_number=607)
    listing = world.http.post("/api/v1/listings", headers=dev.headers,
                              json={"quantity": 3, "price_per_tonne": "10.00"}).json()["id"]

    def about_it() -> list[dict]:
        with Session(world.engine) as session:
            return [d for d in registry_discrepancies(session) if d.get("listing_id") == listing]

    assert about_it() == []
    with world.engine.begin() as conn:
        stock = conn.execute(text("DELETE FROM listing_stock WHERE listing_id = :l RETURNING *"),
                             {"l": listing}).one()
    try:
        assert about_it() == [{"kind": "listing_remaining", "listing_id": listing,
                               "status": None, "remaining": None, "reserved": 3}]
    finally:  # the file's other tests share this registry
        with world.engine.begin() as conn:
            conn.execute(text("INSERT INTO listing_stock VALUES (:listing_id, :quantity, "
                              ":remaining, :status)"), stock._asdict())
    assert about_it() == []


def test_one_issuance_per_monitoring_report(world):
    dev = world.user()
    first = world.issue(dev, 30, project_number=604)
    again = first.model_copy(update={"issuance_id": "another-issuance-of-the-same-report"})
    with pytest.raises(Conflict) as refused:  # the use case says so first
        in_unit_of_work(world.engine, lambda uow: issue_credits(uow, again, "e"))
    assert refused.value.field == "monitoring_report_id"
    assert _violated(world, """
        INSERT INTO issuance SELECT 'forced', project_id, vintage, monitoring_report_id,
            verification_id, verifier_user_id, period_start, period_end, verified_tco2e,
            buffer_pct, owner_account_id, 0, 0, 1, 0, now(), 'forced'
        FROM issuance WHERE id = :i""", i=first.issuance_id) == "uq_issuance_monitoring_report"
    assert world.holdings(dev)["total"] == 30


def test_block_moves_that_overlap_a_live_block_are_a_409(world):
    """The block moves' own statement (sent by the driver, store/block_writes.driver_rows):
    a new block over serials a live block holds, its parent left open (a close forgotten),
    is refused by the exclusion constraint, as a Conflict naming it, and nothing is written."""
    dev = world.user()
    issued = world.issue(dev, 10, project_number=605)
    [block] = _active(world, issued.project_id)

    def copy_without_closing(uow) -> None:  # noqa: ANN001
        [row] = block_moves.spendable_blocks(uow.session, block.account_id)
        block_moves._child(uow.session, row, block_moves.as_value(row), "forgot-to-close",
                           account_id=row.account_id, listing_id=None)
        block_moves.write_moves(uow.session)

    with pytest.raises(Conflict) as refused:
        in_unit_of_work(world.engine, copy_without_closing)
    assert refused.value.status == 409
    assert refused.value.extensions["constraint"] == "ex_block_live_serials"
    assert [b.id for b in _active(world, issued.project_id)] == [block.id]
