"""What verification does with other services' events (credits' CreditsIssued comes later)."""
from __future__ import annotations

from tanhui_shared.contracts import ACCOUNTS_TOPIC, CREDITS_TOPIC, SigningKeyPublished
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.web.trusted_keys import trust_signing_key

TOPICS = [ACCOUNTS_TOPIC, CREDITS_TOPIC]
HANDLERS: dict[str, Handler] = {
    SigningKeyPublished.TYPE: trust_signing_key,
}
