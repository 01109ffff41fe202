"""The projection of verifier accreditations: written by event, read by every decision.

Grants and revocations are upserts keyed by the accreditation id, each filling only its own
fields and only once, so a redelivered event, a second event for the same accreditation and a
revocation that arrives before its grant all converge on the same row, even when they race.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from ..domain.accreditation import Grant
from .tables import VerifierAccreditation

_TABLE = VerifierAccreditation.__table__


def _upsert(session: Session, accreditation_id: str, user_id: str, unset: str,
            values: dict[str, Any]) -> bool:
    """Insert the row, or fill `values` into an existing row of the same user whose `unset`
    column is still NULL. True if the row changed."""
    statement = insert(_TABLE).values(accreditation_id=accreditation_id, user_id=user_id,
                                      **values)
    statement = statement.on_conflict_do_update(
        index_elements=[_TABLE.c.accreditation_id],
        set_={name: statement.excluded[name] for name in values},
        where=(_TABLE.c[unset].is_(None)) & (_TABLE.c.user_id == user_id))
    # RETURNING yields the row inserted or updated, nothing when the WHERE kept it as it was
    # (the driver reports no row count for this statement)
    return session.execute(statement.returning(_TABLE.c.accreditation_id)).first() is not None


def record_grant(session: Session, *, accreditation_id: str, user_id: str, username: str,
                 organisation: str, number: str, valid_from: date, valid_to: date,
                 granted_at: datetime) -> bool:
    return _upsert(session, accreditation_id, user_id, "granted_at", {
        "username": username, "organisation": organisation, "number": number,
        "valid_from": valid_from, "valid_to": valid_to, "granted_at": granted_at})


def record_revocation(session: Session, *, accreditation_id: str, user_id: str,
                      revoked_at: datetime, reason: str) -> bool:
    return _upsert(session, accreditation_id, user_id, "revoked_at",
                   {"revoked_at": revoked_at, "revocation_reason": reason})


def get(session: Session, accreditation_id: str) -> VerifierAccreditation | None:
    return session.get(VerifierAccreditation, accreditation_id, populate_existing=True)


def grants_of(session: Session, user_id: str) -> list[Grant]:
    """The user's received grants, locked FOR SHARE until the decision commits: a revocation
    arriving meanwhile waits for it, so no decision commits after its grant was revoked."""
    query = (select(VerifierAccreditation)
             .where(VerifierAccreditation.user_id == user_id,
                    col(VerifierAccreditation.granted_at).is_not(None))
             .with_for_update(read=True))
    return [Grant(accreditation_id=row.accreditation_id, number=row.number,
                  organisation=row.organisation, valid_from=row.valid_from,
                  valid_to=row.valid_to, granted_at=row.granted_at, revoked_at=row.revoked_at)
            for row in session.exec(query)]
