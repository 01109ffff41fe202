"""Changing one's password."""
from __future__ import annotations

import sqlalchemy as sa

from tanhui_shared.errors import Conflict
from tanhui_shared.uow import UnitOfWork

from ..store.tables import User


def change_password(uow: UnitOfWork, user_id: str, checked_hash: str, new_hash: str) -> None:
    """Replace the password hash the caller's current password was checked against (outside the
    transaction: argon2 is slow on purpose). If it changed meanwhile, nothing is written: the
    current password the caller proved is no longer current."""
    t = User.__table__
    changed = uow.session.execute(sa.update(t).where(t.c.id == user_id)
                                  .where(t.c.password_hash == checked_hash)
                                  .values(password_hash=new_hash))
    if changed.rowcount != 1:
        raise Conflict("the password was changed by another request meanwhile; sign in again",
                       field="current_password", code="password-changed-meanwhile")
