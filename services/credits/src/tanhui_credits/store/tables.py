from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow


class HoldingAccount(SQLModel, table=True):
    """A registry account that can hold credits; one per registered user, opened by event."""

    __tablename__ = "holding_account"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True)
    owner_user_id: str = Field(unique=True)
    owner_username: str
    kind: str  # person | organisation
    opened_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    opened_by_event: str  # the UserRegistered event id, for the audit trail
