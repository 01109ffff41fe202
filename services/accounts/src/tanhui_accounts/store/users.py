from __future__ import annotations

from sqlmodel import Session, select

from .tables import User


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()
