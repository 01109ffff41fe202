"""Announce the token-signing key over Kafka once, so other services can verify our tokens."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tanhui_shared.contracts import SigningKeyPublished
from tanhui_shared.messaging import record_event

from ..store.tables import PublishedSigningKey


def announce_signing_key(engine: Engine, jwk: dict[str, Any]) -> None:
    try:
        with Session(engine) as session, session.begin():
            if session.get(PublishedSigningKey, jwk["kid"]) is not None:
                return
            session.add(PublishedSigningKey(kid=jwk["kid"]))
            record_event(session, SigningKeyPublished(kid=jwk["kid"], jwk=jwk))
    except IntegrityError:
        pass  # another instance announced it at the same moment
