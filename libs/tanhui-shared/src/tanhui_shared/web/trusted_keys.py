"""accounts' public signing keys as received over Kafka (`SigningKeyPublished`), per service.

Services verify tokens against these keys, so no service ever calls accounts over HTTP. A key
accounts retires (`SigningKeyRetired`) stays in the table, marked, and is honoured no more.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from ..contracts import CloudEvent, SigningKeyPublished, SigningKeyRetired
from ..messaging.outbox import utcnow
from ..uow import UnitOfWork

if TYPE_CHECKING:  # only migrations need Alembic; services would pay a second to import it
    from alembic.operations import Operations


class TrustedSigningKey(SQLModel, table=True):
    __tablename__ = "trusted_signing_key"

    kid: str = Field(primary_key=True)
    jwk: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    # set once by SigningKeyRetired and never cleared: a retired key is not trusted again
    retired_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


def trust_signing_key(uow: UnitOfWork, _event: CloudEvent, key: SigningKeyPublished) -> None:
    if uow.session.get(TrustedSigningKey, key.kid) is None:
        uow.session.add(TrustedSigningKey(kid=key.kid, jwk=json.dumps(key.jwk)))


def retire_trusted_key(uow: UnitOfWork, _event: CloudEvent, retired: SigningKeyRetired) -> None:
    """Stop trusting `kid`. A retirement of a key never received is kept too (with no key), so
    a publication arriving after it cannot make the key trusted."""
    row = uow.session.get(TrustedSigningKey, retired.kid, with_for_update=True)
    if row is None:
        uow.session.add(TrustedSigningKey(kid=retired.kid, jwk="null", retired_at=retired.retired_at))
    elif row.retired_at is None:
        row.retired_at = retired.retired_at
        uow.session.add(row)


# How long a service may go on honouring a key after its consumer recorded the retirement.
# Platform assumption: 5 s, long enough that a burst of requests costs one query per key, short
# enough that a retired (e.g. leaked) key stops working within seconds, well inside the 900 s
# lifetime of the tokens it signed (accounts' access_token_ttl_s).
KEY_CACHE_TTL_S = 5.0


# While one caller reloads a stale key, the others go on with the key as last loaded, for at most
# this long (a load that hangs longer, e.g. on a database that stopped answering, no longer
# holds them back: each then loads for itself, as before).
RELOAD_GRACE_S = 1.0


class KeyCache:
    """kid -> JWK through `load`; a key found is kept at most `ttl_s` seconds, then loaded again
    (so its retirement is seen), and a miss is never kept (so a new key is seen at once).

    A stale key is reloaded by one caller; while that load runs (at most RELOAD_GRACE_S), the
    others are answered the key as last loaded. Every request that found the key stale loaded
    it, each a query, every `ttl_s`: under load a stampede of reloads, and of worker-thread hops
    for requests that could have been answered on the event loop (`peek`). So a retired key is
    refused at most `ttl_s` plus one load's time (at most RELOAD_GRACE_S) after its retirement
    is recorded."""

    def __init__(self, load: Callable[[str], dict[str, Any] | None], ttl_s: float = KEY_CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.load = load
        self.ttl_s = ttl_s
        self.clock = clock
        self._known: dict[str, tuple[float, dict[str, Any]]] = {}
        self._reloading: dict[str, float] = {}  # kid -> when its reload began
        self._lock = threading.Lock()

    def __call__(self, kid: str) -> dict[str, Any] | None:
        now = self.clock()
        cached = self._known.get(kid)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        with self._lock:
            began = self._reloading.get(kid)
            if cached is not None and began is not None and now - began < RELOAD_GRACE_S:
                return cached[1]  # another caller's reload is on its way
            self._reloading[kid] = now
        try:
            jwk = self.load(kid)
            if jwk is None:
                self._known.pop(kid, None)
            else:
                self._known[kid] = (now, jwk)
        finally:
            with self._lock:
                if self._reloading.get(kid) == now:  # not a later caller's (after the grace)
                    del self._reloading[kid]
        return jwk

    def peek(self, kid: str) -> dict[str, Any] | None:
        """The key as `__call__` would answer it without loading: None when it is not held, or
        is older than `ttl_s` and nobody is reloading it (whoever asks must then call, and
        load)."""
        cached = self._known.get(kid)
        if cached is None:
            return None
        now = self.clock()
        if now - cached[0] < self.ttl_s:
            return cached[1]
        began = self._reloading.get(kid)
        if began is not None and now - began < RELOAD_GRACE_S:
            return cached[1]
        return None


class TrustedKeyCache(KeyCache):
    """A service's trusted keys, read through to its database: a new key arrives by event and
    is seen at once; a retired one is refused at most `ttl_s` after the retirement is recorded."""

    def __init__(self, engine: Engine, ttl_s: float = KEY_CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        super().__init__(self._load, ttl_s, clock)

    def _load(self, kid: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.get(TrustedSigningKey, kid)
        if row is None or row.retired_at is not None:
            return None
        return json.loads(row.jwk)


def create_trusted_keys_table(op: Operations) -> None:
    op.create_table(
        "trusted_signing_key",
        sa.Column("kid", sa.String, primary_key=True),
        sa.Column("jwk", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def add_key_retirement(op: Operations, table: str = "trusted_signing_key") -> None:
    """The `retired_at` column on a table of signing keys: a service's `trusted_signing_key`
    (the default) or accounts' `published_signing_key`. Called by each service's migration."""
    op.add_column(table, sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def drop_key_retirement(op: Operations, table: str = "trusted_signing_key") -> None:
    op.drop_column(table, "retired_at")
