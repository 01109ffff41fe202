"""What credits does with other services' events: the one table of this consumer group.

Each handler runs in the unit of work the consumer runner opened (with the inbox row in it) and
calls the same use case an API request would; each is idempotent on its business key too
(user id, issuance_id, report id + revision, redemption_id).
"""
from __future__ import annotations

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, VERIFICATION_TOPIC, CloudEvent,
                                     LossVerified,
                                     MonitoringVerified, RedemptionRequested,
                                     RedemptionRequestedV2, ReportFiled,
                                     SigningKeyPublished, SigningKeyRetired,
                                     UserRegistered)
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.trusted_keys import retire_trusted_key, trust_signing_key

from ..usecases.accounts import open_holding_account, remember_report
from ..usecases.compensation import compensate_loss
from ..usecases.issuance import issue_credits
from ..usecases.pooled_redemptions import pool_redemption
from ..usecases.retirements import redeem_from_inclusion_pool


def on_user_registered(uow: UnitOfWork, event: CloudEvent, user: UserRegistered) -> None:
    open_holding_account(uow, user.user_id, user.username, user.subject_kind, event.id)


def on_monitoring_verified(uow: UnitOfWork, event: CloudEvent,
                           verified: MonitoringVerified) -> None:
    issue_credits(uow, verified, caused_by_event=event.id)


def on_report_filed(uow: UnitOfWork, _event: CloudEvent, report: ReportFiled) -> None:
    remember_report(uow, report)


def on_redemption_requested(uow: UnitOfWork, _event: CloudEvent,
                            request: RedemptionRequested) -> None:
    redeem_from_inclusion_pool(uow, request)


def on_pooled_redemption_requested(uow: UnitOfWork, _event: CloudEvent,
                                   request: RedemptionRequestedV2) -> None:
    pool_redemption(uow, request)


def on_loss_verified(uow: UnitOfWork, event: CloudEvent, loss: LossVerified) -> None:
    compensate_loss(uow, loss, caused_by_event=event.id)


TOPICS = [ACCOUNTS_TOPIC, VERIFICATION_TOPIC]
HANDLERS: dict[str, Handler] = {
    UserRegistered.TYPE: on_user_registered,
    SigningKeyPublished.TYPE: trust_signing_key,
    SigningKeyRetired.TYPE: retire_trusted_key,
    MonitoringVerified.TYPE: on_monitoring_verified,
    LossVerified.TYPE: on_loss_verified,
    ReportFiled.TYPE: on_report_filed,
    RedemptionRequested.TYPE: on_redemption_requested,
    RedemptionRequestedV2.TYPE: on_pooled_redemption_requested,
}
