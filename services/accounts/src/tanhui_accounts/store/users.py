from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.identity import Role
from .tables import PointsAccount, PublishedSigningKey, User


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def add_user(session: Session, username: str, password_hash: str, role: Role) -> User:
    """A new user, and a personal carbon account for a citizen (flushed: a taken name raises)."""
    user = User(username=username, password_hash=password_hash, role=role.value)
    session.add(user)
    session.flush()  # the user row first: the account has no meaning without it
    if role is Role.CITIZEN:
        session.add(PointsAccount(user_id=user.id))
        session.flush()
    return user


def user_ids_by_name(session: Session, usernames: list[str],
                     role: Role | None = None) -> dict[str, str]:
    """username -> id of those of `usernames` that exist (and have `role`, if given)."""
    # = ANY(one array), not IN (...): a feed names up to 10,000 citizens, each a placeholder
    names = sa.literal(usernames, type_=postgresql.ARRAY(sa.String))
    query = select(User.username, User.id).where(col(User.username) == sa.any_(names))
    if role is not None:
        query = query.where(User.role == role.value)
    return dict(session.exec(query).all())


def note_published_key(session: Session, kid: str) -> bool:
    """Remember that `kid` is announced; False if it already was (by this or another instance)."""
    t = PublishedSigningKey.__table__
    inserted = session.execute(postgresql.insert(t).values(kid=kid, published_at=utcnow())
                               .on_conflict_do_nothing().returning(t.c.kid))
    return inserted.first() is not None


def retired_kids(session: Session, kids: list[str]) -> set[str]:
    """Those of `kids` an operator retired."""
    rows = session.exec(select(PublishedSigningKey.kid).where(col(PublishedSigningKey.kid).in_(kids))
                        .where(col(PublishedSigningKey.retired_at).is_not(None)))
    return set(rows.all())
