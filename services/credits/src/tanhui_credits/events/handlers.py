"""What credits does with other services' events: the one table of this consumer group.

Every handler runs in the inbox transaction and is idempotent on its own business key too
(user id, issuance_id, report id + revision, redemption_id).
"""
from __future__ import annotations

import json

from sqlmodel import Session

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, VERIFICATION_TOPIC, CloudEvent,
                                     MonitoringVerified, RedemptionCompleted, RedemptionRejected,
                                     RedemptionRequested, ReportFiled, SigningKeyPublished,
                                     UserRegistered)
from tanhui_shared.messaging import record_event
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.web.trusted_keys import trust_signing_key

from ..domain.serials import InsufficientCredits
from ..store.accounts import INCLUSION_POOL_ID, open_account
from ..store.issuance import issue
from ..store.retirements import retire_from_account
from ..store.tables import FiledReport, Redemption

REDEMPTION_PURPOSE = "carbon inclusion redemption"


def open_holding_account(session: Session, event: CloudEvent, user: UserRegistered) -> None:
    open_account(session, user.user_id, user.username, user.subject_kind, event.id)


def issue_credits(session: Session, event: CloudEvent, verified: MonitoringVerified) -> None:
    issue(session, event, verified)


def remember_report(session: Session, _event: CloudEvent, report: ReportFiled) -> None:
    """Keep the newest revision: who may retire against the report."""
    known = session.get(FiledReport, report.report_id)
    if known is not None and known.revision >= report.revision:
        return
    known = known or FiledReport(id=report.report_id, enterprise_id=report.enterprise_id,
                                 enterprise_name=report.enterprise_name, period=report.period,
                                 revision=report.revision, total_tco2e=report.total_tco2e,
                                 member_user_ids="[]")
    known.enterprise_name, known.period = report.enterprise_name, report.period
    known.revision, known.total_tco2e = report.revision, report.total_tco2e
    known.member_user_ids = json.dumps(sorted(report.member_user_ids))
    session.add(known)


def redeem_from_inclusion_pool(session: Session, _event: CloudEvent,
                               request: RedemptionRequested) -> None:
    """Retire from the city's pool in the citizen's name, or reject: once per redemption_id."""
    if session.get(Redemption, request.redemption_id) is not None:
        return
    try:
        certificate = retire_from_account(
            session, INCLUSION_POOL_ID, request.quantity, beneficiary=request.username,
            purpose=REDEMPTION_PURPOSE, retired_by_user_id=None,
            redemption_id=request.redemption_id)
    except InsufficientCredits as short:  # raised before anything is written
        reason = (f"the city inclusion pool holds {short.available} credits, "
                  f"{request.quantity} requested")
        session.add(Redemption(id=request.redemption_id, user_id=request.user_id,
                               quantity=request.quantity, status="rejected", reason=reason))
        record_event(session, RedemptionRejected(redemption_id=request.redemption_id,
                                                 user_id=request.user_id, reason=reason))
        return
    session.add(Redemption(id=request.redemption_id, user_id=request.user_id,
                           quantity=request.quantity, status="completed",
                           certificate_id=certificate.id))
    record_event(session, RedemptionCompleted(redemption_id=request.redemption_id,
                                              user_id=request.user_id, quantity=request.quantity,
                                              certificate_id=certificate.id))


TOPICS = [ACCOUNTS_TOPIC, VERIFICATION_TOPIC]
HANDLERS: dict[str, Handler] = {
    UserRegistered.TYPE: open_holding_account,
    SigningKeyPublished.TYPE: trust_signing_key,
    MonitoringVerified.TYPE: issue_credits,
    ReportFiled.TYPE: remember_report,
    RedemptionRequested.TYPE: redeem_from_inclusion_pool,
}
