"""Moving credits between block rows: split, reassign, retire. Every step is journaled.

Callers lock first (the debited account, or the listings), then the blocks they read here
(FOR UPDATE, by id); the use case's journal is written last (see usecases/common.py).

A block leaves `active` only through `close`: a conditional UPDATE whose row count is checked, so
a block some other transaction already closed (a lock forgotten somewhere) is refused, not
closed twice. Its replacements are inserted after it is closed: the exclusion constraint
`ex_block_live_serials` refuses a live block over serials another live block still holds.
Parts carved by this unit of work and moved on in it are written once, already closed.
Closes and new blocks are staged and written together by one statement (store/block_writes.py).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import instance_state
from sqlmodel import Session, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.serials import SerialBlock, choose_blocks, format_range, lanes, split
from .audit import Journal
from .block_writes import (BlockAlreadyClosed, BlockRow, moves,  # noqa: F401 - re-exported
                           driver_rows, write_moves, write_staged)
from .tables import Block, Project, new_id

PROJECT_NAMES = "credits.project_names"  # session.info key: project id -> name


def as_value(row: BlockRow) -> SerialBlock:
    return SerialBlock(row.project_number, row.vintage, row.first, row.last)


def serial_range(row: BlockRow) -> str:
    return format_range(as_value(row))


def describe(row: BlockRow) -> dict[str, Any]:
    return {"block_id": row.id, "serials": serial_range(row), "project_id": row.project_id,
            "vintage": row.vintage, "quantity": row.quantity, "account_id": row.account_id}


def spendable_blocks(session: Session, account_id: str, project_id: str | None = None,
                     vintage: int | None = None) -> list[BlockRow]:
    """The account's active blocks not reserved by a listing, locked FOR UPDATE in id order."""
    query = (_with_project_names().where(Block.account_id == account_id,
                                         Block.status == "active", Block.listing_id.is_(None)))
    if project_id is not None:
        query = query.where(Block.project_id == project_id)
    if vintage is not None:
        query = query.where(Block.vintage == vintage)
    return _locked(session, query)


# The debiting holder's account locked and its spendable blocks read and locked, in ONE call
# (issue 15: two statements before, the account loaded as an ORM entity): a PL/pgSQL function,
# since each of its statements takes a fresh snapshot. The block query starts after the
# account's lock was granted, so it sees the blocks the debit before it committed; in one SQL
# statement its snapshot would predate the lock and miss them. Rows: (account id, the block's
# columns in BlockRow's order, its project's name); no row: no account; one row with no block:
# the account holds nothing spendable (of that project and vintage, if named).
LOCK_FUNCTION = "lock_spendable_blocks"
_OUT = ", ".join(f"o_{name} {kind}" for name, kind in (
    ("account_id", "varchar"), ("id", "integer"), ("project_id", "varchar"),
    ("project_number", "integer"), ("vintage", "integer"), ("first", "integer"),
    ("last", "integer"), ("block_account_id", "varchar"), ("status", "varchar"),
    ("parent_block_id", "integer"), ("issuance_id", "varchar"), ("listing_id", "varchar"),
    ("retirement_id", "varchar"), ("compensation_id", "varchar"), ("created_by", "varchar"),
    ("closed_by", "varchar"), ("created_at", "timestamptz"), ("project_name", "varchar")))
LOCK_DDL = f"""
CREATE OR REPLACE FUNCTION {LOCK_FUNCTION}(p_owner varchar, p_project varchar,
                                           p_vintage integer) RETURNS TABLE ({_OUT})
LANGUAGE plpgsql AS $$
DECLARE
    v_account varchar;
BEGIN
    SELECT a.id INTO v_account FROM holding_account a WHERE a.owner_user_id = p_owner
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT v_account, {", ".join(f'b."{c.name}"' for c in Block.__table__.c)}, p.name
        FROM serial_block b LEFT JOIN registry_project p ON p.id = b.project_id
        WHERE b.account_id = v_account AND b.status = 'active' AND b.listing_id IS NULL
          AND (p_project IS NULL OR b.project_id = p_project)
          AND (p_vintage IS NULL OR b.vintage = p_vintage)
        ORDER BY b.id FOR UPDATE OF b;
    IF NOT FOUND THEN
        o_account_id := v_account;
        RETURN NEXT;
    END IF;
END $$"""
# sent by the driver on the session's connection: through session.execute, the ORM's handling
# of a text statement cost several times the driver's own work (issue 15)
_LOCK_SPENDABLE = (f"SELECT * FROM {LOCK_FUNCTION}(%(owner)s::varchar, %(project_id)s::varchar, "
                   "%(vintage)s::integer)")


@sa.event.listens_for(Block.metadata, "after_create")
def _create_lock_function(target, connection, **_) -> None:  # noqa: ANN001
    # create_all (a database built from the models) gets the function the migration creates
    if {"holding_account", "serial_block", "registry_project"} <= {
            t.name for t in target.sorted_tables}:
        connection.execute(sa.text(LOCK_DDL))


def lock_spendable_blocks(session: Session, owner_user_id: str, project_id: str | None = None,
                          vintage: int | None = None) -> tuple[str | None, list[BlockRow]]:
    """(the owner's account id, its spendable blocks in id order), both locked (the account FOR
    NO KEY UPDATE, as store/accounts.lock_account; the blocks FOR UPDATE), the account first: what `account_of(..., lock=True)` then `spendable_blocks` do, in one call.
    (None, []) if the owner has no account."""
    write_staged(session)  # what a session query would write first (no ORM event here)
    rows = driver_rows(session, _LOCK_SPENDABLE, {"owner": owner_user_id,
                                                  "project_id": project_id, "vintage": vintage})
    if not rows:
        return None, []
    known = session.info.setdefault(PROJECT_NAMES, {})
    blocks = []
    for row in rows:
        if row[1] is None:  # the account, holding nothing spendable
            continue
        if row[-1] is not None:
            known[row[2]] = row[-1]
        blocks.append(BlockRow(*row[1:-1]))
    return rows[0][0], blocks


def listed_blocks(session: Session, listing_id: str) -> list[BlockRow]:
    query = _with_project_names().where(Block.listing_id == listing_id, Block.status == "active")
    return _locked(session, query)


_COLUMNS = tuple(Block.__table__.c)


def _with_project_names() -> Any:
    # the table's columns, not the entity: rows as BlockRow values, without the ORM's identity
    # map and instrumentation (most of a retirement's Python time when they were entities)
    return (sa.select(*_COLUMNS, Project.name.label("project_name"))
            .join(Project, Project.id == Block.project_id, isouter=True))


def _locked(session: Session, query: Any) -> list[BlockRow]:
    """The blocks, locked (not their projects) in id order; their projects' names are kept in
    the session for the certificate (`project_names`), sparing it a query."""
    rows = session.execute(query.order_by(Block.id).with_for_update(of=Block.__table__)).all()
    known = session.info.setdefault(PROJECT_NAMES, {})
    known.update((row.project_id, row.project_name) for row in rows
                 if row.project_name is not None)
    return [BlockRow(*row[:-1]) for row in rows]


def project_names(session: Session, project_ids: set[str]) -> dict[str, str]:
    """Names of these projects: from the session if its block queries saw them (a project's
    name never changes once the registry knows it: store/issuance.remember_project)."""
    known = session.info.setdefault(PROJECT_NAMES, {})
    missing = project_ids - known.keys()
    if missing:
        known.update(session.exec(select(Project.id, Project.name)
                                  .where(Project.id.in_(missing))).all())
    return {pid: known[pid] for pid in project_ids if pid in known}


def close(session: Session, row: BlockRow, status: str, closed_by: str,
          retirement_id: str | None = None, compensation_id: str | None = None) -> None:
    """Close an active block (superseded or retired), once. The closing UPDATE is staged and
    sent with the unit's other block writes (`write_moves`): conditional on the block still
    being active, its row count checked there; a block someone else closed first refuses the
    whole unit of work.

    A block this unit of work carved and has not written yet (no id) is written closed: no other
    transaction can have seen it, and it saves an UPDATE per movement."""
    values = {"status": status, "closed_by": closed_by, "retirement_id": retirement_id,
              "compensation_id": compensation_id}
    if row.id is not None:
        moves(session).closes.append((row, values))
    orm = isinstance(row, Block) and instance_state(row).has_identity  # loaded as an entity
    for name, value in values.items():
        if orm:
            set_committed_value(row, name, value)  # what the database will say once written
        else:
            setattr(row, name, value)


def _child(session: Session, parent: Any, block: SerialBlock, created_by: str, *,
           account_id: str, listing_id: str | None) -> BlockRow:
    """A new block carved from or copying `parent`, staged for `write_moves`."""
    child = BlockRow(None, parent.project_id, block.project_number, block.vintage, block.first,
                     block.last, account_id, "active", parent.id, parent.issuance_id,
                     listing_id, None, None, created_by, None, utcnow())
    moves(session).add(child, parent)
    return child


def take(session: Session, journal: Journal, rows: list[BlockRow], quantity: int) -> list[BlockRow]:
    """Carve `quantity` credits out of `rows` (oldest vintage, lowest serial first).

    A partially used block is split: it is superseded by a kept LOWER part and a moved UPPER part,
    both where the parent was. Returns the whole blocks to move, the moved parts not written yet
    (the next step writes them closed, see `close`). Raises InsufficientCredits.
    """
    picks = choose_blocks([(row, as_value(row)) for row in rows], quantity)
    moving: list[BlockRow] = []
    for row, block, count in picks:
        if count == row.quantity:
            moving.append(row)
            continue
        kept, moved = split(block, count)
        assert kept is not None  # count < quantity
        entry_id = new_id()
        close(session, row, "superseded", entry_id)  # before its parts exist: they overlap it
        kept_row = _child(session, row, kept, entry_id, account_id=row.account_id,
                          listing_id=row.listing_id)
        moved_row = _child(session, row, moved, entry_id, account_id=row.account_id,
                           listing_id=row.listing_id)
        journal.record("split", lambda p=row, k=kept_row, m=moved_row: {
            "parent": describe(p), "kept": describe(k), "moved": describe(m)}, entry_id)
        moving.append(moved_row)
    return moving


def reassign(session: Session, journal: Journal, rows: list[BlockRow], to_account_id: str, *,
             kind: str, listing_id: str | None = None, in_lanes: bool = False,
             **references: Any) -> list[BlockRow]:
    """Move whole blocks: each is superseded by an identical range in the receiving account
    (or reserved for / released from a listing). `kind` is transfer, reserve or release.
    `in_lanes` (a listing's reservation): each is superseded by its consecutive parts instead,
    the listing's lanes (domain/serials.lanes), all named by the one entry."""
    if not rows:
        return []
    entry_id = new_id()
    for row in rows:
        close(session, row, "superseded", entry_id)
    parts = (lanes([as_value(row) for row in rows]) if in_lanes
             else [[as_value(row)] for row in rows])
    pairs = [(row, _child(session, row, part, entry_id, account_id=to_account_id,
                          listing_id=listing_id))
             for row, cut in zip(rows, parts) for part in cut]
    journal.record(kind, lambda: {
        "from_account_id": rows[0].account_id, "to_account_id": to_account_id,
        "listing_id": listing_id, "quantity": sum(r.quantity for r in rows),
        "blocks": [{"from": describe(old), "to": describe(new)} for old, new in pairs],
        **references}, entry_id)
    # not written yet: a retirement that follows writes them retired
    return [new for _, new in pairs]


def retire(session: Session, journal: Journal, rows: list[BlockRow], retirement_id: str,
           **references: Any) -> None:
    """Close whole blocks as retired: final, they never move again."""
    entry_id = new_id()
    for row in rows:
        close(session, row, "retired", entry_id, retirement_id)
    journal.record("retire", lambda: {
        "retirement_id": retirement_id, "account_id": rows[0].account_id,
        "quantity": sum(r.quantity for r in rows), "blocks": [describe(r) for r in rows],
        **references}, entry_id)


def cancel(session: Session, journal: Journal, rows: list[BlockRow], loss_id: str,
           entry_id: str, **references: Any) -> None:
    """Close whole blocks as cancelled for a loss's compensation: final, like a retirement."""
    for row in rows:
        close(session, row, "cancelled", entry_id, compensation_id=loss_id)
    journal.record("compensate", lambda: {
        "loss_id": loss_id, "quantity": sum(r.quantity for r in rows),
        "blocks": [describe(r) for r in rows], **references}, entry_id)
    write_moves(session)
