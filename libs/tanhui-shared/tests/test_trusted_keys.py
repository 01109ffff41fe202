"""Trusted signing keys on real PostgreSQL: published keys are trusted at once, retired ones
stop being honoured within the cache's bound and are never trusted again."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, SQLModel

from tanhui_shared.contracts import CloudEvent, SigningKeyPublished, SigningKeyRetired
from tanhui_shared.db import make_engine
from tanhui_shared.uow import in_unit_of_work
from tanhui_shared.web.trusted_keys import (KEY_CACHE_TTL_S, TrustedKeyCache, TrustedSigningKey,
                                            retire_trusted_key, trust_signing_key)

EVENT = CloudEvent(type="unused", source="/tests", data={})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(new_database):
    made = make_engine(new_database("keys"), pool_size=2)
    SQLModel.metadata.create_all(made, tables=[TrustedSigningKey.__table__])
    yield made
    made.dispose()


def publish(engine, kid: str) -> dict:  # noqa: ANN001
    jwk = {"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"}
    in_unit_of_work(engine, lambda uow: trust_signing_key(uow, EVENT, SigningKeyPublished(kid=kid,
                                                                                          jwk=jwk)))
    return jwk


def retire(engine, kid: str, at: datetime | None = None) -> None:  # noqa: ANN001
    retired = SigningKeyRetired(kid=kid, retired_at=at or datetime.now(UTC))
    in_unit_of_work(engine, lambda uow: retire_trusted_key(uow, EVENT, retired))


def test_a_retired_key_is_refused_once_its_cache_entry_expires_and_not_before(engine):
    kid, clock = f"k-{uuid.uuid4().hex[:8]}", Clock()
    cache = TrustedKeyCache(engine, clock=clock)
    assert cache(kid) is None  # not published yet
    jwk = publish(engine, kid)
    assert cache(kid) == jwk  # a miss is not remembered: the new key is seen at once

    retire(engine, kid)
    clock.now += KEY_CACHE_TTL_S - 0.1
    assert cache(kid) == jwk  # the bound: honoured at most KEY_CACHE_TTL_S after retirement
    clock.now += 0.1
    assert cache(kid) is None
    assert TrustedKeyCache(engine)(kid) is None  # and by any cache made after it


def test_a_retirement_is_kept_and_a_later_publication_cannot_trust_the_key_again(engine):
    kid = f"k-{uuid.uuid4().hex[:8]}"
    first = datetime(2025, 1, 1, tzinfo=UTC)
    retire(engine, kid, first)  # the retirement arrives before (or without) the key
    publish(engine, kid)
    retire(engine, kid, datetime(2025, 6, 1, tzinfo=UTC))  # a second retirement changes nothing
    assert TrustedKeyCache(engine)(kid) is None
    with Session(engine) as session:
        assert session.get(TrustedSigningKey, kid).retired_at == first

    other = f"k-{uuid.uuid4().hex[:8]}"
    publish(engine, other)
    retire(engine, other)
    publish(engine, other)  # published again (e.g. accounts restarted): still retired
    assert TrustedKeyCache(engine)(other) is None
