"""Redeeming points for a share of sink credits: the hold, and credits' answer settling or
releasing it.

A redemption buys whole 10 kg units (1,000 points each) of a retirement credits makes from the
city's inclusion pool once the pending redemptions add up to whole tonnes (pooled, as Wuhan's
carbon-inclusion platform pools citizens' reductions). It is completed when credits has retired
serials covering all its kg (RedemptionCompletedV2); only then are the held points spent.
"""
from __future__ import annotations

from tanhui_shared.contracts import RedemptionRequestedV2
from tanhui_shared.errors import Invalid
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.errors import NoPointsAccount
from ..domain.points import EntryKind, RedemptionState, settle_entry
from ..domain.travel import RULES
from ..store.points import close_redemption, lock_position, pending_redemption, post_entry
from ..store.tables import Redemption
from .expiry import expire_points


def request_redemption(uow: UnitOfWork, citizen_id: str, username: str, points: int) -> Redemption:
    """Hold `points` (whole redemption units) and ask credits for their share of a pooled
    retirement in the citizen's name (`RedemptionRequestedV2`). Points past their validity are
    expired first, so they are never redeemed. The account is locked so the refusal is a clear
    InsufficientPoints; the account's checks refuse an overdraft even without that lock."""
    unit = RULES.redemption_unit_points
    if points % unit:
        raise Invalid(f"points must be a whole number of redemption units ({unit:,} points = "
                      f"{RULES.redemption_unit_kg} kg CO2e each)", field="points",
                      code="redemption-not-whole-units")
    expire_points(uow, citizen_id, utcnow())  # locks the account
    position = lock_position(uow.session, citizen_id)
    if position is None:
        raise NoPointsAccount()
    position.apply(EntryKind.HOLD, points)  # raises InsufficientPoints
    redemption = Redemption(user_id=citizen_id, points=points, kg=points // RULES.points_per_kg,
                            state=RedemptionState.PENDING.value)
    uow.session.add(redemption)
    post_entry(uow.session, citizen_id, EntryKind.HOLD, points, redemption.id)
    uow.session.flush()
    uow.emit(RedemptionRequestedV2(redemption_id=redemption.id, user_id=citizen_id,
                                   username=username, points=points, kg=redemption.kg))
    return redemption


def settle_redemption(uow: UnitOfWork, redemption_id: str, answer: RedemptionState, *,
                      reason: str | None = None, certificate_id: str | None = None) -> bool:
    """Credits' answer: completed spends the held points, rejected gives them back. Only the
    first answer counts (a duplicated or late one changes nothing: False)."""
    redemption = pending_redemption(uow.session, redemption_id)
    if redemption is None:
        return False  # not ours, or already answered
    kind = settle_entry(RedemptionState(redemption.state), answer)
    user_id, points = redemption.user_id, redemption.points
    if kind is None or not close_redemption(uow.session, redemption, answer, reason, certificate_id):
        return False
    position = lock_position(uow.session, user_id)
    if position is None:
        raise NoPointsAccount()
    position.apply(kind, points)  # a hold that is not there is an error, not a silent fix
    post_entry(uow.session, user_id, kind, points, redemption_id)
    return True
