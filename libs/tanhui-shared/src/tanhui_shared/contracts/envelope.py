"""CloudEvents 1.0 structured-mode envelope (JSON), with tanhui's tracing extensions."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class UnknownEventType(Exception):
    """The event's type (or its version) is not in the contracts package: dead-letter it."""


class MalformedEvent(Exception):
    """Not JSON, or not a CloudEvents 1.0 envelope: dead-letter it."""


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")  # CloudEvents allows further extension attributes

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    correlationid: str | None = None
    causationid: str | None = None
    # CloudEvents' distributed-tracing extension: the W3C trace context of the span that recorded
    # the event; a consumer's span continues it. Not validated here: a malformed one starts a
    # new trace (tracing.remote_parent), it never makes the event undeliverable.
    traceparent: str | None = None
    tracestate: str | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def parse_event(raw: bytes) -> CloudEvent:
    try:
        return CloudEvent.model_validate(json.loads(raw))
    except (ValueError, ValidationError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedEvent(f"not a CloudEvents 1.0 JSON envelope: {exc}") from exc
