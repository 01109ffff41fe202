"""Transfers between holding accounts, and the caller's holdings."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from . import blocks as block_moves
from .accounts import lock_account
from .audit import Journal
from .tables import Block


def transfer(session: Session, sender_id: str, receiver_id: str, quantity: int, *,
             actor_user_id: str, project_id: str | None = None, vintage: int | None = None
             ) -> dict[str, Any]:
    """Move whole credits, oldest vintage first. Raises InsufficientCredits, writing nothing."""
    lock_account(session, sender_id)  # debits of one account queue here
    journal = Journal()
    rows = block_moves.spendable_blocks(session, sender_id, project_id, vintage)
    moving = block_moves.take(session, journal, rows, quantity)
    moved = block_moves.reassign(session, journal, moving, receiver_id, kind="transfer",
                                 actor_user_id=actor_user_id)
    journal.write(session)
    return {"transfer_id": moved[0].created_by, "quantity": quantity,
            "serials": [block_moves.serial_range(row) for row in moved]}


def holdings(session: Session, account_id: str) -> list[Block]:
    """Active blocks (including those reserved by the holder's listings), oldest vintage first."""
    return list(session.exec(select(Block).where(Block.account_id == account_id,
                                                 Block.status == "active")
                             .order_by(Block.vintage, Block.project_number, Block.first)).all())
