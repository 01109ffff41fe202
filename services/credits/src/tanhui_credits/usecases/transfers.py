"""Transfers between holding accounts."""
from __future__ import annotations

from dataclasses import dataclass

from tanhui_shared.errors import Invalid, NotFound
from tanhui_shared.uow import UnitOfWork

from ..store import blocks as block_moves
from ..store.accounts import account_by_username
from .common import journal, require_account


@dataclass(frozen=True)
class Transfer:
    transfer_id: str  # the audit entry of the movement
    from_username: str
    to_username: str
    quantity: int
    serials: list[str]


def transfer_credits(uow: UnitOfWork, sender_user_id: str, to_username: str, quantity: int, *,
                     project_id: str | None = None, vintage: int | None = None) -> Transfer:
    """Move whole credits, oldest vintage first, lowest serials kept. Raises InsufficientCredits,
    writing nothing."""
    session = uow.session
    sender = require_account(session, sender_user_id, lock=True)  # debits of one account queue here
    receiver = account_by_username(session, to_username)
    if receiver is None:
        raise NotFound(f"no holding account for to_username {to_username!r}", field="to_username",
                       code="recipient-not-found")
    if receiver.id == sender.id:
        raise Invalid("cannot transfer to yourself", field="to_username", code="self-transfer")
    rows = block_moves.spendable_blocks(session, sender.id, project_id, vintage)
    moving = block_moves.take(session, journal(uow), rows, quantity)
    moved = block_moves.reassign(session, journal(uow), moving, receiver.id, kind="transfer",
                                 actor_user_id=sender_user_id)
    return Transfer(transfer_id=moved[0].created_by, from_username=sender.owner_username,
                    to_username=to_username, quantity=quantity,
                    serials=[block_moves.serial_range(row) for row in moved])
