from __future__ import annotations

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


def user_ids_by_name(session: Session, usernames: list[str]) -> dict[str, str]:
    rows = session.exec(select(User.username, User.id).where(col(User.username).in_(usernames)))
    return dict(rows.all())


def note_published_key(session: Session, kid: str) -> bool:
    """Remember that `kid` is announced; False if it already was (by this or another instance)."""
    t = PublishedSigningKey.__table__
    inserted = session.execute(postgresql.insert(t).values(kid=kid, published_at=utcnow())
                               .on_conflict_do_nothing().returning(t.c.kid))
    return inserted.first() is not None
