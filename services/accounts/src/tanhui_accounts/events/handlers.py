"""What accounts does with other services' events (none yet: credits' retirements come later)."""
from __future__ import annotations

from tanhui_shared.contracts import CREDITS_TOPIC, VERIFICATION_TOPIC
from tanhui_shared.messaging.consumer import Handler

TOPICS = [CREDITS_TOPIC, VERIFICATION_TOPIC]
HANDLERS: dict[str, Handler] = {}
