"""The caller's holdings."""
from __future__ import annotations

from sqlmodel import Session, select

from .tables import Block


def holdings(session: Session, account_id: str) -> list[Block]:
    """Active blocks (including those reserved by the holder's listings), oldest vintage first."""
    return list(session.exec(select(Block).where(Block.account_id == account_id,
                                                 Block.status == "active")
                             .order_by(Block.vintage, Block.project_number, Block.first)).all())
