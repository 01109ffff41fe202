"""What verification does with other services' events: the same use cases as the API."""
from __future__ import annotations

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, CREDITS_TOPIC, CloudEvent, CreditsIssued,
                                     SigningKeyPublished)
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.trusted_keys import trust_signing_key

from ..usecases.monitoring import record_issuance


def on_credits_issued(uow: UnitOfWork, _event: CloudEvent, issued: CreditsIssued) -> None:
    """Mark the report issued; a second delivery (or a second event for it) changes nothing."""
    record_issuance(uow, issued)


TOPICS = [ACCOUNTS_TOPIC, CREDITS_TOPIC]
HANDLERS: dict[str, Handler] = {
    SigningKeyPublished.TYPE: trust_signing_key,
    CreditsIssued.TYPE: on_credits_issued,
}
