"""What accounts does with credits' events: the one table of this consumer group.

Each handler runs in the unit of work the consumer runner opened (with the inbox row in it) and
calls the same use case an API route would.
"""
from __future__ import annotations

from tanhui_shared.contracts import (CREDITS_TOPIC, CloudEvent, CreditsRetired, RedemptionCompleted,
                                     RedemptionCompletedV2, RedemptionRejected)
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.uow import UnitOfWork

from ..domain.points import RedemptionState
from ..usecases.enterprises import note_retirement
from ..usecases.redemptions import settle_redemption


def on_credits_retired(uow: UnitOfWork, _event: CloudEvent, retired: CreditsRetired) -> None:
    """Flows 3 and 5: credits retired against a report, disclosed beside its period's gross."""
    note_retirement(uow, retired)


def on_redemption_completed(uow: UnitOfWork, _event: CloudEvent, done: RedemptionCompleted) -> None:
    settle_redemption(uow, done.redemption_id, RedemptionState.COMPLETED,
                      certificate_id=done.certificate_id)


def on_pooled_redemption_completed(uow: UnitOfWork, _event: CloudEvent,
                                   done: RedemptionCompletedV2) -> None:
    """Every kg of the redemption is in retired serials: its held points are spent."""
    settle_redemption(uow, done.redemption_id, RedemptionState.COMPLETED,
                      certificate_id=done.certificate_id)


def on_redemption_rejected(uow: UnitOfWork, _event: CloudEvent, refused: RedemptionRejected) -> None:
    settle_redemption(uow, refused.redemption_id, RedemptionState.REJECTED, reason=refused.reason)


TOPICS = [CREDITS_TOPIC]
HANDLERS: dict[str, Handler] = {
    CreditsRetired.TYPE: on_credits_retired,
    RedemptionCompleted.TYPE: on_redemption_completed,
    RedemptionCompletedV2.TYPE: on_pooled_redemption_completed,
    RedemptionRejected.TYPE: on_redemption_rejected,
}
