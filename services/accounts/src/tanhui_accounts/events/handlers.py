"""What accounts does with credits' events: the one table of this consumer group."""
from __future__ import annotations

from sqlmodel import Session

from tanhui_shared.contracts import (CREDITS_TOPIC, CloudEvent, CreditsRetired, RedemptionCompleted,
                                     RedemptionRejected)
from tanhui_shared.messaging.consumer import Handler

from ..domain.points import RedemptionState
from ..store.points import answer_redemption
from ..store.tables import ReportRetirement


def note_retirement_against_report(session: Session, _event: CloudEvent, retired: CreditsRetired) -> None:
    """Flows 3 and 5: a report's net emissions fall by what was retired against it."""
    if retired.report_id is None or session.get(ReportRetirement, retired.retirement_id):
        return
    session.add(ReportRetirement(retirement_id=retired.retirement_id, report_id=retired.report_id,
                                 quantity=retired.quantity, certificate_id=retired.certificate_id,
                                 retired_at=retired.retired_at))


def settle_redemption(session: Session, _event: CloudEvent, done: RedemptionCompleted) -> None:
    answer_redemption(session, done.redemption_id, RedemptionState.COMPLETED,
                      certificate_id=done.certificate_id)


def release_redemption(session: Session, _event: CloudEvent, refused: RedemptionRejected) -> None:
    answer_redemption(session, refused.redemption_id, RedemptionState.REJECTED, reason=refused.reason)


TOPICS = [CREDITS_TOPIC]
HANDLERS: dict[str, Handler] = {
    CreditsRetired.TYPE: note_retirement_against_report,
    RedemptionCompleted.TYPE: settle_redemption,
    RedemptionRejected.TYPE: release_redemption,
}
