"""Points entries that are not trips (redemption holds, their settlement or release, expiries),
and reads."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.points import EntryKind, Lot, PointsPosition, RedemptionState, moves
from .tables import PointsAccount, PointsEntry, Redemption


def lock_position(session: Session, user_id: str) -> PointsPosition | None:
    """The account's figures, locked until the transaction ends; None if there is no account."""
    t = PointsAccount.__table__
    row = session.execute(sa.select(t.c.balance, t.c.held).where(t.c.user_id == user_id)
                          .with_for_update()).first()
    return PointsPosition(row.balance, row.held) if row else None


def post_entry(session: Session, user_id: str, kind: EntryKind, points: int,
               redemption_id: str | None = None, *, expired_before: int | None = None
               ) -> PointsPosition:
    """Append one entry and move the account by it; returns the account's new figures.

    The move is an increment, and the entry records what the database returned: a concurrent
    entry is never overwritten, and the account's range checks refuse the one that would break
    them, even on a path that did not lock the account first."""
    balance, held = moves(kind, points)
    t = PointsAccount.__table__
    after = session.execute(sa.update(t).where(t.c.user_id == user_id)
                            .values(balance=t.c.balance + balance, held=t.c.held + held)
                            .returning(t.c.balance, t.c.held)).one()
    session.add(PointsEntry(user_id=user_id, kind=kind.value, points=points,
                            balance_after=after.balance, held_after=after.held,
                            redemption_id=redemption_id, expired_before=expired_before))
    return PointsPosition(after.balance, after.held)


def earned_total(session: Session, user_id: str) -> int:
    return session.exec(select(func.coalesce(func.sum(PointsEntry.points), 0))
                        .where(PointsEntry.user_id == user_id)
                        .where(PointsEntry.kind == EntryKind.EARN.value)).one()


def expired_total(session: Session, user_id: str) -> int:
    return session.exec(select(func.coalesce(func.sum(PointsEntry.points), 0))
                        .where(PointsEntry.user_id == user_id)
                        .where(PointsEntry.kind == EntryKind.EXPIRE.value)).one()


def earned_lots(session: Session, user_id: str, until: datetime) -> list[Lot]:
    """The citizen's earnings up to `until`, oldest first (one lot per earn entry)."""
    t = PointsEntry.__table__
    return [Lot(at, points) for at, points in session.execute(
        sa.select(t.c.created_at, t.c.points).where(t.c.user_id == user_id)
        .where(t.c.kind == EntryKind.EARN.value).where(t.c.created_at <= until)
        .order_by(t.c.created_at, t.c.id)).all()]


def users_with_earnings_before(session: Session, moment: datetime) -> list[str]:
    """Citizens who earned points at or before `moment`: the only ones who may have some due."""
    t = PointsEntry.__table__
    return list(session.execute(sa.select(t.c.user_id).distinct()
                                .where(t.c.kind == EntryKind.EARN.value)
                                .where(t.c.created_at <= moment).order_by(t.c.user_id)).scalars())


def pending_redemption(session: Session, redemption_id: str) -> Redemption | None:
    """The redemption, locked, if it is still waiting for credits' answer."""
    redemption = session.exec(select(Redemption).where(Redemption.id == redemption_id)
                              .with_for_update()).first()
    if redemption is None or redemption.state != RedemptionState.PENDING.value:
        return None
    return redemption


def close_redemption(session: Session, redemption: Redemption, answer: RedemptionState,
                     reason: str | None, certificate_id: str | None) -> bool:
    """Move a redemption out of pending, once: the update is conditional on the state and its
    row count says whether this answer is the one that closed it."""
    t = Redemption.__table__
    closed = session.execute(sa.update(t).where(t.c.id == redemption.id)
                             .where(t.c.state == RedemptionState.PENDING.value)
                             .values(state=answer.value, reason=reason,
                                     certificate_id=certificate_id, settled_at=utcnow()))
    session.expire(redemption)  # the row changed behind the ORM's back
    return closed.rowcount == 1


def ledger_page(session: Session, user_id: str, limit: int, offset: int) -> tuple[int, list[PointsEntry]]:
    total = session.exec(select(func.count()).select_from(PointsEntry)
                         .where(PointsEntry.user_id == user_id)).one()
    rows = session.exec(select(PointsEntry).where(PointsEntry.user_id == user_id)
                        .order_by(col(PointsEntry.id).desc()).limit(limit).offset(offset)).all()
    return total, list(rows)
