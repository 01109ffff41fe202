"""What verification does with other services' events."""
from __future__ import annotations

from sqlmodel import Session

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, CREDITS_TOPIC, CloudEvent, CreditsIssued,
                                     SigningKeyPublished)
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.web.trusted_keys import trust_signing_key

from ..store.monitoring import mark_issued


def on_credits_issued(session: Session, _event: CloudEvent, issued: CreditsIssued) -> None:
    """Mark the report issued; a second delivery (or a second event for it) changes nothing."""
    mark_issued(session, issued)


TOPICS = [ACCOUNTS_TOPIC, CREDITS_TOPIC]
HANDLERS: dict[str, Handler] = {
    SigningKeyPublished.TYPE: trust_signing_key,
    CreditsIssued.TYPE: on_credits_issued,
}
