from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str
    role: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class PublishedSigningKey(SQLModel, table=True):
    """The kids already announced with `SigningKeyPublished`, so each is announced once."""

    __tablename__ = "published_signing_key"

    kid: str = Field(primary_key=True)
    published_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
