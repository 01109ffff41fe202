from __future__ import annotations

from sqlmodel import Session, select

from tanhui_shared.contracts import UserRegistered
from tanhui_shared.messaging import record_event

from ..domain.identity import Role, subject_kind
from .tables import PointsAccount, User


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def open_identity(session: Session, username: str, password_hash: str, role: Role) -> User:
    """A new user, a personal carbon account for a citizen, and `UserRegistered` for the others."""
    user = User(username=username, password_hash=password_hash, role=role.value)
    session.add(user)
    if role is Role.CITIZEN:
        session.add(PointsAccount(user_id=user.id))
    record_event(session, UserRegistered(user_id=user.id, username=username, role=role.value,
                                         subject_kind=subject_kind(role)))
    return user
