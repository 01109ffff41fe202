"""Reading and locking grants and OAuth clients. The caller's unit of work owns the transaction."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ..domain.accreditation import GrantFacts, GrantStatus
from .access_tables import Accreditation, OAuthClient
from .tables import User


def facts(grant: Accreditation) -> GrantFacts:
    return GrantFacts(grant.valid_from, grant.valid_to, grant.revoked_at, grant.revocation_reason)


def grants_of(session: Session, user_id: str) -> list[Accreditation]:
    return list(session.exec(select(Accreditation).where(Accreditation.user_id == user_id)
                             .order_by(col(Accreditation.valid_from))).all())


def live_grant(session: Session, user_id: str, today: date, *,
               share_lock: bool = False) -> Accreditation | None:
    """The user's unrevoked grant covering `today` (the exclusion constraint allows one).
    `share_lock` holds it until the transaction ends, so a revocation (which locks it for
    update) waits for a trip batch already admitted under it, and the next batch sees it."""
    query = (select(Accreditation).where(Accreditation.user_id == user_id)
             .where(col(Accreditation.revoked_at).is_(None))
             .where(Accreditation.valid_from <= today).where(Accreditation.valid_to >= today))
    if share_lock:
        query = query.with_for_update(read=True)
    return session.exec(query).first()


def overlapping_grant(session: Session, user_id: str, valid_from: date,
                      valid_to: date) -> Accreditation | None:
    """An unrevoked grant of the user sharing a day with [valid_from, valid_to]."""
    return session.exec(select(Accreditation).where(Accreditation.user_id == user_id)
                        .where(col(Accreditation.revoked_at).is_(None))
                        .where(Accreditation.valid_from <= valid_to)
                        .where(Accreditation.valid_to >= valid_from)).first()


def lock_grant(session: Session, grant_id: str) -> Accreditation | None:
    return session.exec(select(Accreditation).where(Accreditation.id == grant_id)
                        .with_for_update()).first()


def holder_name(session: Session, grant: Accreditation) -> str:
    return session.get(User, grant.user_id).username


def client(session: Session, client_id: str) -> OAuthClient | None:
    return session.get(OAuthClient, client_id)


def lock_client_of(session: Session, user_id: str) -> OAuthClient | None:
    return session.exec(select(OAuthClient).where(OAuthClient.user_id == user_id)
                        .with_for_update()).first()


def _status_is(status: GrantStatus, today: date):
    """The SQL twin of domain.accreditation.grant_status, for filtering the public list."""
    unrevoked = col(Accreditation.revoked_at).is_(None)
    return {
        GrantStatus.REVOKED: col(Accreditation.revoked_at).is_not(None),
        GrantStatus.NOT_YET_VALID: sa.and_(unrevoked, Accreditation.valid_from > today),
        GrantStatus.EXPIRED: sa.and_(unrevoked, Accreditation.valid_to < today),
        GrantStatus.ACTIVE: sa.and_(unrevoked, Accreditation.valid_from <= today,
                                    Accreditation.valid_to >= today),
    }[status]


def grant_page(session: Session, today: date, *, role: str | None, status: GrantStatus | None,
               limit: int, offset: int) -> tuple[int, list[tuple[Accreditation, str]]]:
    """(how many grants match, one page of them with their holder's username), newest first."""
    conditions = []
    if role is not None:
        conditions.append(Accreditation.role == role)
    if status is not None:
        conditions.append(_status_is(status, today))
    total = session.exec(select(func.count()).select_from(Accreditation).where(*conditions)).one()
    rows = session.exec(select(Accreditation, User.username)
                        .join(User, col(User.id) == col(Accreditation.user_id))
                        .where(*conditions)
                        .order_by(col(Accreditation.granted_at).desc(), col(Accreditation.id))
                        .limit(limit).offset(offset)).all()
    return total, [(grant, username) for grant, username in rows]
