"""What verification does with other services' events: the same use cases as the API."""
from __future__ import annotations

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, CREDITS_TOPIC, AccreditationGranted,
                                     AccreditationRevoked, BufferCompensated, CloudEvent,
                                     CreditsIssued,
                                     SigningKeyPublished, SigningKeyRetired)
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.trusted_keys import retire_trusted_key, trust_signing_key

from ..usecases.accreditation import record_accreditation_granted, record_accreditation_revoked
from ..usecases.losses import record_compensation
from ..usecases.monitoring import record_issuance


def on_credits_issued(uow: UnitOfWork, _event: CloudEvent, issued: CreditsIssued) -> None:
    """Mark the report issued; a second delivery (or a second event for it) changes nothing."""
    record_issuance(uow, issued)


def on_buffer_compensated(uow: UnitOfWork, _event: CloudEvent,
                          compensated: BufferCompensated) -> None:
    """Mark the loss compensated with the registry's figures; once."""
    record_compensation(uow, compensated)


def on_accreditation_granted(uow: UnitOfWork, _event: CloudEvent,
                             granted: AccreditationGranted) -> None:
    """Record a verifier's grant (a transit operator's licence is ignored); once."""
    record_accreditation_granted(uow, granted)


def on_accreditation_revoked(uow: UnitOfWork, _event: CloudEvent,
                             revoked: AccreditationRevoked) -> None:
    """Record a verifier's revocation, even before its grant; once."""
    record_accreditation_revoked(uow, revoked)


TOPICS = [ACCOUNTS_TOPIC, CREDITS_TOPIC]
HANDLERS: dict[str, Handler] = {
    SigningKeyPublished.TYPE: trust_signing_key,
    SigningKeyRetired.TYPE: retire_trusted_key,
    CreditsIssued.TYPE: on_credits_issued,
    BufferCompensated.TYPE: on_buffer_compensated,
    AccreditationGranted.TYPE: on_accreditation_granted,
    AccreditationRevoked.TYPE: on_accreditation_revoked,
}
