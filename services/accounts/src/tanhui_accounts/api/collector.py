"""The cyclic collector held off from before FastAPI decodes a transit operator's feed until its
answer is made (tanhui_accounts.collector says why)."""
from __future__ import annotations

from collections.abc import AsyncIterator

from ..collector import pause, resume


async def collector_paused() -> AsyncIterator[None]:
    """A dependency: set up before FastAPI validates the body, closed (even on a 422 or an error)
    once the answer is made."""
    pause()
    try:
        yield
    finally:
        resume()
