"""A unit of work's block writes, sent as ONE statement (issue 15: per-movement cost).

A movement closes blocks (conditional UPDATEs) and writes their replacements, and a carved part
moved on in the same unit is the parent of another new block (a purchase: the moved part, then
the buyer's copy). Written through the ORM that was an UPDATE per closed block and an INSERT
per generation of new blocks, each a round trip while the movement's locks are held, and most
of a retirement's Python time. Here they are staged (blocks.close, blocks._child) and written
by one statement of data-modifying CTEs:

    closed  UPDATE the staged blocks still active, RETURNING them (found by their ids as an
            array: joined to the JSON rows alone, the planner estimated 100 of them and
            chose a hash join over a sequential scan of serial_block, every movement reading
            the whole table, history included)
    g1      INSERT the new blocks whose parents exist, only if closed counted every staged close
    g2..    INSERT the new blocks whose parents are in the generation before, with their ids

g1 reads the count of `closed` first, so every close is done before any replacement is
inserted (the exclusion constraint ex_block_live_serials sees the parent closed, as with two
statements), and a short count (a block another transaction closed first: a lock forgotten
somewhere) inserts nothing and raises BlockAlreadyClosed, which rolls the unit back.

Staged writes go out before any other statement of the session (a query must see them), and
at the latest when the session commits; the journal writes them before it reads block ids.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession

from tanhui_shared.errors import Conflict
from tanhui_shared.uow import flush_staged

from .tables import Block

_KEY = "credits.block_writes"  # session.info key
# new blocks' columns, in the order of the INSERTs' column lists and unnest arrays
_NEW = (("project_id", "varchar"), ("project_number", "int"), ("vintage", "int"),
        ("first", "int"), ("last", "int"), ("account_id", "varchar"), ("status", "varchar"),
        ("parent_block_id", "int"), ("issuance_id", "varchar"), ("listing_id", "varchar"),
        ("retirement_id", "varchar"), ("compensation_id", "varchar"), ("created_by", "varchar"),
        ("closed_by", "varchar"), ("created_at", "timestamptz"))
_NAMES = tuple(name for name, _ in _NEW)
_CLOSE = (("id", "int"), ("status", "varchar"), ("closed_by", "varchar"),
          ("retirement_id", "varchar"), ("compensation_id", "varchar"))


@dataclass(slots=True)
class BlockRow:
    """A serial block as a value (the columns of serial_block, in its order): what movements
    read and carve. Not an ORM entity: building and tracking entities cost more Python than a
    movement's statements."""

    id: int | None
    project_id: str
    project_number: int
    vintage: int
    first: int
    last: int
    account_id: str
    status: str
    parent_block_id: int | None
    issuance_id: str
    listing_id: str | None
    retirement_id: str | None
    compensation_id: str | None
    created_by: str
    closed_by: str | None
    created_at: datetime

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1


assert tuple(f.name for f in fields(BlockRow)) == tuple(c.name for c in Block.__table__.c)


class BlockAlreadyClosed(Conflict):
    """The block was moved or retired by another transaction after this one read it."""

    code = "block-already-closed"


class Moves:
    """Block writes staged in one session: closes of existing blocks, and new blocks by
    generation (a new block's parent exists, or is a new block of the generation before)."""

    def __init__(self) -> None:
        self.closes: list[tuple[Any, dict[str, Any]]] = []  # a BlockRow, or a loaded Block
        self.generations: list[list[BlockRow]] = []
        self._generation: dict[int, int] = {}  # id(new block) -> its generation's index
        self.parent: dict[int, Any] = {}  # id(new block) -> its parent, id known once written

    def add(self, child: BlockRow, parent: Any) -> None:
        level = self._generation[id(parent)] + 1 if parent.id is None else 0
        if level == len(self.generations):
            self.generations.append([])
        self.generations[level].append(child)
        self._generation[id(child)] = level
        self.parent[id(child)] = parent

    def __bool__(self) -> bool:
        return bool(self.closes or self.generations)


def moves(session: OrmSession) -> Moves:
    found = session.info.get(_KEY)
    if found is None:
        found = session.info[_KEY] = Moves()
    return found


def _key(row: Any) -> tuple[str, int, int]:
    """A new block within its generation: live blocks never share a serial, so neither do the
    parts and copies made of them in one step."""
    return row.project_id, row.vintage, row.first


def write_moves(session: OrmSession) -> None:
    """Write the staged block moves (after what the ORM holds: a new block may reference it),
    and give the new blocks their ids. Raises BlockAlreadyClosed if a staged close found its
    block closed already."""
    staged: Moves | None = session.info.get(_KEY)
    if not staged:
        return
    session.info[_KEY] = Moves()
    session.flush()
    # each list of rows is one JSON parameter (json_to_recordset): far cheaper to adapt than
    # an array per column
    params: dict[str, Any] = {"n_closed": len(staged.closes),
                              "close_ids": [row.id for row, _ in staged.closes],
                              "closes": json.dumps(
        [{"id": row.id, **{name: values[name] for name, _ in _CLOSE[1:]}}
         for row, values in staged.closes])}
    for level, rows in enumerate(staged.generations):
        keys = {_key(row) for row in rows}
        assert len(keys) == len(rows), "two new blocks of one generation start at one serial"
        listed = []
        for row in rows:
            values = {name: getattr(row, name) for name in _NAMES}
            values["created_at"] = values["created_at"].isoformat()
            if level:
                values["pp"], values["pv"], values["pf"] = _key(staged.parent[id(row)])
            listed.append(values)
        params[f"g{level}"] = json.dumps(listed)
    result = driver_rows(session, _statement(len(staged.generations)), params)
    closed = next(id_ for gen, id_, *_ in result if gen == -1)
    if closed != len(staged.closes):
        named = ", ".join(str(row.id) for row, _ in staged.closes)
        raise BlockAlreadyClosed(f"serial block(s) {named} were moved or retired by a "
                                 "concurrent request; nothing was written")
    ids = {(gen, *key): id_ for gen, id_, *key in result if gen >= 0}
    for level, rows in enumerate(staged.generations):
        for row in rows:
            row.parent_block_id = staged.parent[id(row)].id
            row.id = ids[(level, *_key(row))]


@functools.lru_cache(maxsize=8)
def _statement(generations: int) -> str:
    """The driver's SQL (psycopg's %(name)s parameters): sent as it is, with no compiling."""
    def rows(param: str, columns: tuple[tuple[str, str], ...]) -> str:
        typed = ", ".join(f'"{name}" {kind}' for name, kind in columns)
        return f"json_to_recordset(%({param})s::json) AS v({typed})"

    columns = ", ".join(f'"{name}"' for name, _ in _NEW)
    ctes = [f"""closed AS (
    UPDATE serial_block AS b SET status = v.status, closed_by = v.closed_by,
           retirement_id = v.retirement_id, compensation_id = v.compensation_id
    FROM {rows("closes", _CLOSE)}
    WHERE b.id = ANY(%(close_ids)s::int[]) AND b.id = v.id AND b.status = 'active'
    RETURNING b.id)"""]
    results = ["SELECT -1 AS gen, (SELECT count(*) FROM closed)::int AS id, NULL::varchar "
               'AS project_id, NULL::int AS vintage, NULL::int AS "first"']
    for level in range(generations):
        if level == 0:
            source = (f"SELECT {', '.join(f'v.{c}' for c in columns.split(', '))} "
                      f"FROM {rows('g0', _NEW)} WHERE (SELECT count(*) FROM closed) = %(n_closed)s")
        else:
            picked = ", ".join("p.id" if name == "parent_block_id" else f'v."{name}"'
                               for name, _ in _NEW)
            parent = (("pp", "varchar"), ("pv", "int"), ("pf", "int"))
            source = (f"SELECT {picked} FROM {rows(f'g{level}', _NEW + parent)} "
                      f"JOIN g{level - 1} AS p ON p.project_id = v.pp AND p.vintage = v.pv "
                      'AND p."first" = v.pf')
        ctes.append(f"""g{level} AS (
    INSERT INTO serial_block ({columns}) {source}
    RETURNING id, project_id, vintage, "first")""")
        results.append(f'SELECT {level}, id, project_id, vintage, "first" FROM g{level}')
    return "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(results)


def driver_rows(session: OrmSession, statement: str, params: dict[str, Any]) -> list[tuple]:
    """The rows of `statement` (the driver's SQL) run on the session's connection by the driver
    itself: a movement's statements return rows of many columns, and SQLAlchemy's result
    handling cost more Python than the driver's work (issue 15). Errors leave as SQLAlchemy
    would raise them (a constraint's as IntegrityError: a 409; a deadlock retried)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    events = connection._has_events or connection.engine._has_events  # statement counters
    try:
        with driver.cursor() as cursor:
            if events:
                connection.dispatch.before_cursor_execute(connection, cursor, statement, params,
                                                          None, False)
            cursor.execute(statement, params)
            if events:
                connection.dispatch.after_cursor_execute(connection, cursor, statement, params,
                                                         None, False)
            return cursor.fetchall()
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, params, exc, psycopg.Error) from exc


def write_staged(session: OrmSession) -> None:
    """Write what a query through the session would write first (the staged block moves, then
    the unit of work's staged rows): for a statement sent on the session's connection, which
    fires no ORM event."""
    if session.info.get(_KEY):
        write_moves(session)
    flush_staged(session)


@sa.event.listens_for(OrmSession, "do_orm_execute")
def _staged_moves_before_any_statement(state) -> None:  # noqa: ANN001
    """A query of the session sees the block moves it staged: they are written first."""
    if state.session.info.get(_KEY):
        write_moves(state.session)


@sa.event.listens_for(OrmSession, "before_commit")
def _staged_moves_before_commit(session: OrmSession) -> None:
    """Never lost: whatever is still staged is written before the transaction commits."""
    if session.info.get(_KEY):
        write_moves(session)


@sa.event.listens_for(OrmSession, "after_rollback")
def _staged_moves_dropped(session: OrmSession) -> None:
    session.info.pop(_KEY, None)
