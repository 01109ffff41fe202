"""Per-request and per-event context: the request id and the event being handled.

The gateway's request id travels through every service and into every event (`correlationid`),
so one user action can be followed across Kafka hops in the logs.
"""
from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)

_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def accept_request_id(candidate: str | None) -> str:
    """Keep a client's request id only if it is well-formed (no log injection), else mint one."""
    if candidate and _WELL_FORMED.match(candidate):
        return candidate
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()
