"""The unit of work: the one way any write happens, from the API and from event handlers alike.

    result = run_unit_of_work(session, lambda uow: retire_credits(uow, ...))

opens the transaction, runs the use case, lets it stage outbox events (`uow.emit`) and writes
that must come last (`uow.before_commit`, e.g. credits' audit journal, which reads the ids the
use case's rows were given), flushes so every constraint is checked while the
transaction is still ours, and commits. Any exception rolls everything back: a state change and
its events are written together or not at all. Work staged with `uow.after_commit` (e.g.
credits' audit sequencer) runs once the commit succeeded; it cannot undo the commit, so its
failure is logged, not raised.

A violated unique, check or exclusion constraint leaves as `errors.Conflict` (409), named by
its constraint. A serialization failure or deadlock (PostgreSQL's own refusal of a race) is
retried a few times from the start, since the use case then runs again on fresh state.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from .contracts import CloudEvent, EventContract
from .errors import Conflict, constraint_conflict
from .messaging.outbox import record_event

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATEs: 40001 serialization_failure, 40P01 deadlock_detected
_RETRYABLE = {"40001", "40P01"}
MAX_ATTEMPTS = 4


class UnitOfWork:
    """What a use case gets: the session of the open transaction, and the places to stage what
    is written with it. Extensions (a service's journal) hang off `extras`, one per unit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list[CloudEvent] = []
        self.extras: dict[str, Any] = {}
        self._before_commit: list[Callable[[Session], None]] = []
        self._after_commit: list[Callable[[], None]] = []

    def emit(self, contract: EventContract) -> CloudEvent:
        """Stage an event in the outbox of this transaction (published after commit)."""
        envelope = record_event(self.session, contract)
        self.events.append(envelope)
        return envelope

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
        self.session.flush()


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
                uow = UnitOfWork(session)
                result = operation(uow)
                uow.finish()
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
