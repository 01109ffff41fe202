"""Points entries that are not trips: redemption holds and their settlement or release."""
from __future__ import annotations

from sqlmodel import Session, col, func, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.points import EntryKind, PointsPosition, RedemptionState, settle_entry
from .tables import PointsAccount, PointsEntry, Redemption
from .trips import lock_points_accounts


def post_entry(session: Session, account: PointsAccount, kind: EntryKind, points: int,
               redemption_id: str | None = None) -> None:
    """Apply one entry to a locked account (raises InsufficientPoints) and append it."""
    after = PointsPosition(account.balance, account.held).apply(kind, points)
    account.balance, account.held = after.balance, after.held
    session.add(account)
    session.add(PointsEntry(user_id=account.user_id, kind=kind.value, points=points,
                            balance_after=after.balance, held_after=after.held,
                            redemption_id=redemption_id))


def answer_redemption(session: Session, redemption_id: str, answer: RedemptionState,
                      reason: str | None = None, certificate_id: str | None = None) -> bool:
    """Settle (completed) or release (rejected) a pending redemption; False if already final."""
    redemption = session.exec(select(Redemption).where(Redemption.id == redemption_id)
                              .with_for_update()).first()
    if redemption is None:
        return False  # not ours (or not yet visible): nothing to settle
    kind = settle_entry(RedemptionState(redemption.state), answer)
    if kind is None:
        return False
    account = lock_points_accounts(session, [redemption.user_id])[redemption.user_id]
    post_entry(session, account, kind, redemption.points, redemption.id)
    redemption.state = answer.value
    redemption.reason = reason
    redemption.certificate_id = certificate_id
    redemption.settled_at = utcnow()
    session.add(redemption)
    return True


def ledger_page(session: Session, user_id: str, limit: int, offset: int) -> tuple[int, list[PointsEntry]]:
    total = session.exec(select(func.count()).select_from(PointsEntry)
                         .where(PointsEntry.user_id == user_id)).one()
    rows = session.exec(select(PointsEntry).where(PointsEntry.user_id == user_id)
                        .order_by(col(PointsEntry.id).desc()).limit(limit).offset(offset)).all()
    return total, list(rows)
