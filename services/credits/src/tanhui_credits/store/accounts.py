from __future__ import annotations

from sqlmodel import Session, select

from .tables import HoldingAccount


def account_of(session: Session, user_id: str) -> HoldingAccount | None:
    return session.exec(select(HoldingAccount).where(HoldingAccount.owner_user_id == user_id)).first()
