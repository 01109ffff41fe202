"""The unit of work: the one way any write happens, from the API and from event handlers alike.

    result = run_unit_of_work(session, lambda uow: retire_credits(uow, ...))

opens the transaction, runs the use case, lets it stage outbox events (`uow.emit`) and writes
that must come last (`uow.before_commit`, e.g. credits' audit journal, which reads the ids the
use case's rows were given), flushes so every constraint is checked while the
transaction is still ours, and commits. Rows nothing in the transaction reads back or
references (outbox events, and what a use case stages with `uow.insert_last`) are written
together by one INSERT statement at the end, not one statement each: fewer round trips while
the use case's row locks are held. Any exception rolls everything back: a state change and
its events are written together or not at all. Work staged with `uow.after_commit` (e.g.
credits' audit sequencer) runs once the commit succeeded; it cannot undo the commit, so its
failure is logged, not raised.

A violated unique, check or exclusion constraint leaves as `errors.Conflict` (409), named by
its constraint. A serialization failure or deadlock (PostgreSQL's own refusal of a race) is
retried a few times from the start, since the use case then runs again on fresh state.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel

from .contracts import CloudEvent, EventContract
from .errors import Conflict, constraint_conflict
from .messaging.outbox import OutboxMessage, outbox_row

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATEs: 40001 serialization_failure, 40P01 deadlock_detected
_RETRYABLE = {"40001", "40P01"}
MAX_ATTEMPTS = 4
_UNIT = "tanhui.unit_of_work"  # session.info key: the unit of work running on the session


class UnitOfWork:
    """What a use case gets: the session of the open transaction, and the places to stage what
    is written with it. Extensions (a service's journal) hang off `extras`, one per unit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list[CloudEvent] = []
        self.extras: dict[str, Any] = {}
        self._before_commit: list[Callable[[Session], None]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._last: dict[tuple[sa.Table, tuple[str, ...]], list[dict[str, Any]]] = {}

    def emit(self, contract: EventContract) -> CloudEvent:
        """Stage an event in the outbox of this transaction (published after commit)."""
        envelope, row = outbox_row(contract)
        self.insert_rows(OutboxMessage.__table__, [row])
        self.events.append(envelope)
        return envelope

    def insert_last(self, row: SQLModel) -> None:
        """Insert `row` (a table model) with the unit's last writes (see `flush`), not through
        the session: for rows no other row written before them references. Reads see them:
        any statement run through the session first writes what is staged. A column left None
        that the database fills (an identity, a serial, a server default) is left to it."""
        table = row.__table__
        self.insert_rows(table, [{c.name: value for c in table.columns
                                  if (value := getattr(row, c.key)) is not None
                                  or not _database_fills(table, c)}])

    def insert_rows(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert these rows (column values) with the unit's last writes."""
        for row in rows:
            self._last.setdefault((table, tuple(row)), []).append(row)

    def flush(self) -> None:
        """Write what the session holds, then every row staged for the end, in ONE statement
        (an INSERT per table, chained as data-modifying CTEs; their order within it is
        unspecified, so staged rows must not reference each other)."""
        self.session.flush()
        if not self._last:
            return
        shape = tuple((table, columns, len(rows)) for (table, columns), rows in self._last.items())
        params = {f"p{n}_{i}_{column}": row[column]
                  for n, rows in enumerate(self._last.values())
                  for i, row in enumerate(rows) for column in row}
        self._last = {}
        connection = self.session.connection()
        connection.exec_driver_sql(_last_insert_sql(connection.dialect, shape), params)

    def before_commit(self, write: Callable[[Session], None]) -> None:
        """Run `write` once, after the use case and before the commit, in registration order."""
        self._before_commit.append(write)

    def after_commit(self, work: Callable[[], None]) -> None:
        """Run `work` once after a successful commit (never after a rollback), on its own
        connection: best effort, since the unit of work is already committed."""
        self._after_commit.append(work)

    def committed(self) -> None:
        for work in self._after_commit:
            try:
                work()
            except Exception:  # noqa: BLE001 - committed already; whatever it was owes a retry
                log.exception("after-commit work failed; the unit of work stays committed")

    def finish(self) -> None:
        while self._before_commit:
            self._before_commit.pop(0)(self.session)
        self.flush()


@functools.lru_cache(maxsize=256)
def _last_insert_sql(dialect: sa.Dialect, shape: tuple[tuple[sa.Table, tuple[str, ...], int], ...]
                     ) -> str:
    """The last INSERT for rows of this shape ((table, columns, row count) ...), compiled once:
    SQLAlchemy does not cache multi-row INSERTs in CTEs, and compiling one costs more than
    everything else the unit of work does in Python."""
    inserts = [sa.insert(table).values([
        {column: sa.bindparam(f"p{n}_{i}_{column}", type_=table.c[column].type)
         for column in columns} for i in range(count)])
        for n, (table, columns, count) in enumerate(shape)]
    *first, last = inserts
    if first:
        last = last.add_cte(*(insert.cte(f"last_{n}") for n, insert in enumerate(first)))
    return str(last.compile(dialect=dialect))


def _database_fills(table: sa.Table, column: sa.Column) -> bool:
    return (column.server_default is not None or column.identity is not None
            or column is table.autoincrement_column)


@sa.event.listens_for(Session, "do_orm_execute")
def _staged_rows_before_any_statement(state) -> None:  # noqa: ANN001
    """A query of the unit's own session sees the rows it staged: they are written first."""
    flush_staged(state.session)


def flush_staged(session: Session) -> None:
    """Write the rows the session's unit of work staged, if any: what a statement sent on the
    session's connection (no ORM event) calls first, as a query through the session would."""
    uow = session.info.get(_UNIT)
    if uow is not None and uow._last:
        uow.flush()


def sqlstate(exc: BaseException) -> str | None:
    return getattr(getattr(exc, "orig", None), "sqlstate", None)


def constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    return getattr(diag, "constraint_name", None)


def as_conflict(exc: IntegrityError) -> Conflict:
    return constraint_conflict(constraint_name(exc))


def run_unit_of_work(session: Session, operation: Callable[[UnitOfWork], T], *,
                     attempts: int = MAX_ATTEMPTS) -> T:
    """Run `operation` in one transaction on `session` (which must have none open) and commit."""
    for attempt in range(1, attempts + 1):
        try:
            with session.begin():
                uow = session.info[_UNIT] = UnitOfWork(session)
                try:
                    result = operation(uow)
                    uow.finish()
                finally:
                    session.info.pop(_UNIT, None)
            uow.committed()
            return result
        except IntegrityError as exc:
            session.rollback()
            raise as_conflict(exc) from exc
        except DBAPIError as exc:
            session.rollback()
            if sqlstate(exc) in _RETRYABLE and attempt < attempts:
                log.info("transaction lost a race (%s); running it again (%d/%d)",
                         sqlstate(exc), attempt, attempts)
                time.sleep(0.01 * 2 ** attempt)
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def in_unit_of_work(engine, operation: Callable[[UnitOfWork], T]) -> T:  # noqa: ANN001
    """The same, on a session of its own (CLIs, tests, background work)."""
    with Session(engine, expire_on_commit=False) as session:
        return run_unit_of_work(session, operation)
