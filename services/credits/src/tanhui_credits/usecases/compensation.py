"""A verified loss (LossVerified) compensated by cancelling credits: the buffer pool first (the
project's own contribution, then any project's), then the developer's holdings; the rest is a
recorded shortfall (domain/compensation.py). Once per loss, whatever the deliveries."""
from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from tanhui_shared.contracts import BufferCompensated, LossVerified
from tanhui_shared.uow import UnitOfWork

from ..domain.compensation import loss_credits, required_credits, split
from ..store import blocks as block_moves
from ..store.accounts import BUFFER_POOL_ID, account_of, lock_account
from ..store.tables import Block, BufferCompensation, Issuance, new_id
from .common import journal


def compensate_loss(uow: UnitOfWork, loss: LossVerified, caused_by_event: str
                    ) -> BufferCompensation:
    """Cancel the credits the loss calls for and publish BufferCompensated; a loss already
    compensated returns its record unchanged (a redelivery, or the same loss twice at once)."""
    session = uow.session
    # The pool's lock first: compensations queue here, so the second delivery of one loss finds
    # the first one's record, and two losses never draw on the same pool credits at once.
    lock_account(session, BUFFER_POOL_ID)
    done = session.get(BufferCompensation, loss.loss_id)
    if done is not None:
        return done
    developer = account_of(session, loss.owner_user_id)
    if developer is not None:
        lock_account(session, developer.id)  # then the developer's: the same order everywhere
    pool = block_moves.spendable_blocks(session, BUFFER_POOL_ID)
    own = [row for row in pool if row.project_id == loss.project_id]
    other = [row for row in pool if row.project_id != loss.project_id]
    held = block_moves.spendable_blocks(session, developer.id) if developer else []
    wanted = loss_credits(loss.verified_tco2e)
    required = required_credits(wanted, _issued(session, loss.project_id),
                                _compensated(session, loss.project_id))
    drawn = split(required, pool_own=_total(own), pool_other=_total(other),
                  developer=_total(held))
    entry_id = new_id()
    record = BufferCompensation(
        loss_id=loss.loss_id, project_id=loss.project_id, cause=loss.cause,
        occurred_on=loss.occurred_on, verified_tco2e=loss.verified_tco2e,
        monitoring_report_id=loss.monitoring_report_id, owner_user_id=loss.owner_user_id,
        loss_credits=wanted, required=required, from_pool=drawn.from_pool,
        from_developer=drawn.developer, shortfall=drawn.shortfall,
        caused_by_event=caused_by_event, entry_id=entry_id)
    session.add(record)
    session.flush()  # the loss's primary key: a concurrent duplicate that slipped by stops here
    cancelled: list[Block] = []
    for rows, count in ((own, drawn.pool_own), (other, drawn.pool_other),
                        (held, drawn.developer)):
        if count:
            cancelled += block_moves.take(session, journal(uow), rows, count)
    # journaled even when nothing could be cancelled: the shortfall is part of the public record
    block_moves.cancel(session, journal(uow), cancelled, loss.loss_id, entry_id,
                       project_id=loss.project_id, cause=loss.cause,
                       verified_tco2e=str(loss.verified_tco2e), required=required,
                       from_pool=drawn.from_pool, from_developer=drawn.developer,
                       shortfall=drawn.shortfall)
    uow.emit(BufferCompensated(
        loss_id=loss.loss_id, project_id=loss.project_id, required=required,
        from_pool=drawn.from_pool, from_developer=drawn.developer, shortfall=drawn.shortfall,
        serial_ranges=[block_moves.serial_range(row) for row in cancelled],
        compensated_at=record.compensated_at))
    return record


def _total(rows: list[Block]) -> int:
    return sum(row.quantity for row in rows)


def _issued(session: Session, project_id: str) -> int:
    query = select(func.coalesce(func.sum(Issuance.owner_quantity + Issuance.buffer_quantity), 0)
                   ).where(Issuance.project_id == project_id)
    return int(session.exec(query).one())


def _compensated(session: Session, project_id: str) -> int:
    query = select(func.coalesce(func.sum(BufferCompensation.required), 0)
                   ).where(BufferCompensation.project_id == project_id)
    return int(session.exec(query).one())
