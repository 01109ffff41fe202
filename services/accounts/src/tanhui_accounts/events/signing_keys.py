"""Announce the token-signing key over Kafka once, so other services can verify our tokens."""
from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tanhui_shared.contracts import SigningKeyPublished
from tanhui_shared.messaging import record_event

from ..security import SigningKey
from ..store.tables import PublishedSigningKey


def announce_signing_key(engine: Engine, key: SigningKey) -> None:
    try:
        with Session(engine) as session, session.begin():
            if session.get(PublishedSigningKey, key.kid) is not None:
                return
            session.add(PublishedSigningKey(kid=key.kid))
            record_event(session, SigningKeyPublished(kid=key.kid, jwk=key.public_jwk()))
    except IntegrityError:
        pass  # another instance announced it at the same moment
