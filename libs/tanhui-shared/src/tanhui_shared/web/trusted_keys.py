"""accounts' public signing keys as received over Kafka (`SigningKeyPublished`), per service.

Services verify tokens against these keys, so no service ever calls accounts over HTTP.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from ..contracts import CloudEvent, SigningKeyPublished
from ..messaging.outbox import utcnow
from ..uow import UnitOfWork

if TYPE_CHECKING:  # only migrations need Alembic; services would pay a second to import it
    from alembic.operations import Operations


class TrustedSigningKey(SQLModel, table=True):
    __tablename__ = "trusted_signing_key"

    kid: str = Field(primary_key=True)
    jwk: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


def trust_signing_key(uow: UnitOfWork, _event: CloudEvent, key: SigningKeyPublished) -> None:
    if uow.session.get(TrustedSigningKey, key.kid) is None:
        uow.session.add(TrustedSigningKey(kid=key.kid, jwk=json.dumps(key.jwk)))


class TrustedKeyCache:
    """kid -> JWK, read through to the database on a miss (a new key arrives by event)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[str, dict[str, Any]] = {}

    def __call__(self, kid: str) -> dict[str, Any] | None:
        if kid not in self._known:
            with Session(self.engine) as session:
                row = session.get(TrustedSigningKey, kid)
            if row is None:
                return None
            self._known[kid] = json.loads(row.jwk)
        return self._known[kid]


def create_trusted_keys_table(op: Operations) -> None:
    op.create_table(
        "trusted_signing_key",
        sa.Column("kid", sa.String, primary_key=True),
        sa.Column("jwk", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
