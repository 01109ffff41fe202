"""The append-only, hash-chained audit log of registry movements."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.hashing import ChainLink, canonical_json, chain_hash, first_broken_link
from .tables import AuditEntry, AuditHead, new_id


def append(session: Session, kind: str, details: dict[str, Any], entry_id: str | None = None
           ) -> AuditEntry:
    """Chain one movement onto the log, in the caller's transaction.

    The head row is locked FOR UPDATE, so concurrent appends queue here; callers take this lock
    last (after their account, listing and block locks), which keeps the lock order acyclic.
    """
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    entry_id = entry_id or new_id()
    body = {"entry_id": entry_id, "kind": kind, "recorded_at": utcnow().isoformat(),
            "details": details}
    seq = head.last_seq + 1
    link = chain_hash(head.last_hash, body)
    entry = AuditEntry(seq=seq, entry_id=entry_id, kind=kind, body=canonical_json(body),
                       prev_hash=head.last_hash, hash=link)
    head.last_seq, head.last_hash = seq, link
    session.add(entry)
    session.add(head)
    return entry


class Journal:
    """Collects one operation's movements and appends them together at its end.

    Appending last means the chain head is always the last lock a transaction takes. Details are
    callables so block ids (assigned at flush) are read when the entry is written.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, str, Callable[[], dict[str, Any]]]] = []

    def record(self, kind: str, details: Callable[[], dict[str, Any]],
               entry_id: str | None = None) -> str:
        entry_id = entry_id or new_id()
        self._pending.append((entry_id, kind, details))
        return entry_id

    def write(self, session: Session) -> list[AuditEntry]:
        if not self._pending:
            return []  # nothing moved (e.g. a rejected redemption): no need for the head's lock
        session.flush()
        written = [append(session, kind, details(), entry_id)
                   for entry_id, kind, details in self._pending]
        self._pending.clear()
        return written


def verify_chain(session: Session, batch: int = 1000) -> dict[str, Any]:
    """Recompute every link; report the first entry that does not hold."""
    links = _links(session, batch)
    broken = first_broken_link(links)
    checked = session.exec(select(AuditHead.last_seq).where(AuditHead.id == 1)).one()
    if broken is None:
        return {"intact": True, "entries": checked, "first_broken": None}
    seq, reason = broken
    return {"intact": False, "entries": checked, "first_broken": {"seq": seq, "reason": reason}}


def _links(session: Session, batch: int):  # noqa: ANN202 - a generator of ChainLink
    after = 0
    while True:
        rows = session.exec(select(AuditEntry).where(AuditEntry.seq > after)
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


def entries_by_id(session: Session, entry_ids: set[str]) -> dict[str, AuditEntry]:
    if not entry_ids:
        return {}
    rows = session.exec(select(AuditEntry).where(AuditEntry.entry_id.in_(entry_ids))).all()
    return {row.entry_id: row for row in rows}
