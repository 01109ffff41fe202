"""The append-only, hash-chained audit log of registry movements.

Movements do not chain their entries themselves (that would serialize every movement on the
chain head): each unit of work inserts its entries into `audit_pending`, sharing no lock with
other movements. The sequencer (`chain_pending`) then, one at a time, moves the committed
pending entries into `audit_entry` in stamp order, giving each seq = head + 1, prev_hash = the
head's hash and its hash. It runs right after every unit of work that wrote entries (try-lock:
if another sequencer is at work, that one or the next pass chains ours) and on every pass of the
credits relay's loop, so nothing stays pending.

Order: a movement draws its stamp after taking its locks, so one that waited for another's
locks (or read its effects) has the later stamp and commits after it; the sequencer sees
committed entries only, oldest stamp first. Chain order therefore never contradicts commit
order between movements that depend on each other.
"""
from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.hashing import ChainLink, canonical_json, first_broken_link
from .tables import AuditEntry, AuditHead, AuditPending, CreditsTable, new_id

# The sequencer's pg advisory lock (one database, one sequencer at a time). No other code of
# credits takes advisory locks, so any fixed key does.
SEQUENCER_LOCK = 15_001
CHAIN_FUNCTION = "audit_chain_pending"
HEAD_MOVED = "TH001"  # the SQLSTATE the function raises when the head moved under it
# One pass of the sequencer as one function call (issue 15: a pass was six round trips, most of
# a movement's statements once it is done; its Python the rest): the try-lock, the head, the
# oldest committed pending entries taken out of audit_pending in stamp order, each chained
# (seq = head + 1, prev_hash = the head's hash, hash = sha256 of prev_hash + the stored body,
# exactly domain/hashing.link_hash, which verify_chain recomputes in Python), and the head moved
# only from the head this pass read (compare-and-set). Each statement of a PL/pgSQL function
# takes a fresh snapshot: the take, after the lock, sees every entry committed before it.
# Returns how many it chained, or -1 if another sequencer holds the lock.
CHAIN_DDL = f"""
CREATE OR REPLACE FUNCTION {CHAIN_FUNCTION}(batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    read_seq integer;
    next_seq integer;
    link varchar;
    entry record;
    moved integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock({SEQUENCER_LOCK}) THEN
        RETURN -1;
    END IF;
    SELECT h.last_seq, h.last_hash INTO read_seq, link FROM audit_head h WHERE h.id = 1;
    next_seq := read_seq;
    FOR entry IN
        WITH taken AS (DELETE FROM audit_pending WHERE stamp IN (
                           SELECT p.stamp FROM audit_pending p ORDER BY p.stamp LIMIT batch)
                       RETURNING stamp, entry_id, kind, body)
        SELECT t.entry_id, t.kind, t.body FROM taken t ORDER BY t.stamp
    LOOP
        next_seq := next_seq + 1;
        INSERT INTO audit_entry (seq, entry_id, kind, body, prev_hash, hash)
        VALUES (next_seq, entry.entry_id, entry.kind, entry.body, link,
                encode(sha256(convert_to(link || entry.body, 'UTF8')), 'hex'))
        RETURNING audit_entry.hash INTO link;
    END LOOP;
    IF next_seq = read_seq THEN
        RETURN 0;
    END IF;
    UPDATE audit_head SET last_seq = next_seq, last_hash = link
    WHERE id = 1 AND last_seq = read_seq;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved <> 1 THEN
        RAISE EXCEPTION 'the audit chain''s head moved past % meanwhile', read_seq
            USING ERRCODE = '{HEAD_MOVED}';
    END IF;
    RETURN next_seq - read_seq;
END $$"""


@sa.event.listens_for(CreditsTable.metadata, "after_create")
def _create_chain_function(target, connection, **_) -> None:  # noqa: ANN001
    # create_all (a database built from the models) gets the function the migration creates
    if "audit_head" in {t.name for t in target.sorted_tables}:
        connection.execute(sa.text(CHAIN_DDL))


class Journal:
    """Collects one operation's movements and writes them together at its end.

    Details are callables so block ids (assigned at flush) are read when the entry is written.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, str, Callable[[], dict[str, Any]]]] = []
        self.written = 0

    def record(self, kind: str, details: Callable[[], dict[str, Any]],
               entry_id: str | None = None) -> str:
        entry_id = entry_id or new_id()
        self._pending.append((entry_id, kind, details))
        return entry_id

    def write(self, session: Session, insert_rows: Callable[[sa.Table, list[dict]], None]
              ) -> None:
        """Every entry, unchained, for audit_pending: handed to `insert_rows` (the unit of
        work's last INSERT, which draws their stamps after every lock was taken)."""
        if not self._pending:
            return  # nothing moved (e.g. a rejected redemption)
        session.flush()
        recorded_at = utcnow().isoformat()
        rows = [{"entry_id": entry_id, "kind": kind, "body": canonical_json(
                    {"entry_id": entry_id, "kind": kind, "recorded_at": recorded_at,
                     "details": details()})}
                for entry_id, kind, details in self._pending]
        insert_rows(AuditPending.__table__, rows)
        self.written += len(rows)
        self._pending.clear()


class ChainHeadMoved(RuntimeError):
    """Another sequencer extended the chain meanwhile: nothing of this pass was written."""


def chain_pending(engine: Engine, batch: int = 1000) -> int:
    """Chain the committed pending entries, oldest stamp first; returns how many were chained.
    Returns at once (0) if another sequencer holds the lock: it chains what it finds, and the
    relay's next pass chains anything that committed after it looked. Each pass is one
    statement in a transaction of its own (autocommit: no BEGIN and COMMIT round trips)."""
    chained = 0
    while True:
        done = _one_pass(engine, batch)
        if done < 0:
            return chained
        chained += done
        if done < batch:
            return chained


_CHAIN_SQL = f"SELECT {CHAIN_FUNCTION}(%(batch)s)"


def _one_pass(engine: Engine, batch: int) -> int:
    """One call of the function on a pooled connection, through the driver (issue 15: through
    a SQLAlchemy connection switched to autocommit and back, a pass cost 0.25 ms of Python, and
    one runs after most movements; this way 0.08 ms). Errors leave as SQLAlchemy's would."""
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True
        try:
            with driver.cursor() as cursor:
                cursor.execute(_CHAIN_SQL, {"batch": batch})
                return cursor.fetchone()[0]
        except psycopg.Error as exc:
            if exc.sqlstate == HEAD_MOVED:
                raise ChainHeadMoved(str(exc)) from exc
            if driver.broken:
                pooled.invalidate()
            raise sa.exc.DBAPIError.instance(_CHAIN_SQL, {"batch": batch}, exc,
                                             psycopg.Error) from exc
        finally:
            if not driver.closed:
                driver.autocommit = False  # as the pool hands connections out
    finally:
        pooled.close()


class _Passes:
    """This process's after-commit sequencing on one engine: one pass at a time."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.running = False
        self.again = False


_PASSES: weakref.WeakKeyDictionary[Engine, _Passes] = weakref.WeakKeyDictionary()
_PASSES_MUTEX = threading.Lock()
MAX_PASSES = 4  # then the next commit, or the relay's next pass, takes over


def claim_pass(engine: Engine) -> bool:
    """Whether this thread may run this process's next pass itself, in a query of its own
    (store/hot_listing: after its COMMIT, in the same round trip): True if no other thread of
    this process is running one; then `release_pass` must follow."""
    with _PASSES_MUTEX:
        passes = _PASSES.setdefault(engine, _Passes())
    with passes.mutex:
        if passes.running:
            return False
        passes.running = True
        return True


def release_pass(engine: Engine) -> bool:
    """After a claimed pass: whether another thread asked for one more meanwhile (its commit
    may have come after the pass looked); then run `chain_after_commit`."""
    passes = _PASSES[engine]
    with passes.mutex:
        passes.running = False
        again, passes.again = passes.again, False
    return again


def chain_after_commit(engine: Engine) -> None:
    """`chain_pending` right after a unit of work committed. While another thread of this
    process runs a pass, this one asks it for one more (its pass may have looked before our
    commit) instead of opening a connection just to find the lock taken."""
    with _PASSES_MUTEX:
        passes = _PASSES.setdefault(engine, _Passes())
    with passes.mutex:
        if passes.running:
            passes.again = True
            return
        passes.running = True
    try:
        for _ in range(MAX_PASSES):
            chain_pending(engine)
            with passes.mutex:
                if not passes.again:
                    break
                passes.again = False
    finally:
        with passes.mutex:
            passes.running = False


def verify_chain(session: Session, batch: int = 1000) -> dict[str, Any]:
    """Recompute every link up to the head, and check the chain ends at the head (a deleted
    last entry is caught too); report the first entry that does not hold, and how many entries
    are still pending (committed movements not chained yet)."""
    head = session.exec(select(AuditHead).where(AuditHead.id == 1)).one()
    pending = session.exec(select(func.count()).select_from(AuditPending)).one()
    broken = first_broken_link(_links(session, batch, head.last_seq),
                               head=(head.last_seq, head.last_hash))
    report = {"intact": broken is None, "entries": head.last_seq, "pending": pending,
              "first_broken": None}
    if broken is not None:
        report["first_broken"] = {"seq": broken[0], "reason": broken[1]}
    return report


def _links(session: Session, batch: int, last_seq: int) -> Iterator[ChainLink]:
    after = 0
    while True:
        rows = session.exec(select(AuditEntry).where(AuditEntry.seq > after,
                                                     AuditEntry.seq <= last_seq)
                            .order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            try:
                body = json.loads(row.body)
            except ValueError:
                body = row.body  # unparsable: its hash will not match either
            yield ChainLink(seq=row.seq, prev_hash=row.prev_hash, body=body, hash=row.hash)
        after = rows[-1].seq
