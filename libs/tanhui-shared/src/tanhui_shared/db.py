"""Engines, sessions and Alembic migrations, the same way in every service."""
from __future__ import annotations

import select
import time
from collections.abc import Iterator
from pathlib import Path

from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

# A pooled connection idle longer than this is pinged (a round trip) before it is handed out.
IDLE_PING_S = 5.0
_IDLE_SINCE = "tanhui.idle_since"  # the pool record's info key: when it was last checked in


def make_engine(url: str, *, pool_size: int = 10, idle_ping_s: float = IDLE_PING_S) -> Engine:
    """A PostgreSQL engine (the platform's only database)."""
    if not url.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {url.split(':')[0]}:... "
                         "(the platform runs on PostgreSQL only: postgresql+psycopg://...)")
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=5)
    check_on_checkout(engine, idle_ping_s)
    return engine


def check_on_checkout(engine: Engine, idle_ping_s: float) -> None:
    """A restarted PostgreSQL must not leave dead connections in the pool. pool_pre_ping sent a
    round trip at every checkout (~40 us of the client's CPU, ~170 us of latency, and the
    server's work for a BEGIN and a SELECT, in every request). Instead:
    a server that ends a connection (a restart, a crash, pg_terminate_backend) closes its
    socket, often after a last FATAL message, so an idle connection whose socket has anything
    to read is discarded, for a poll() of a few microseconds. A connection idle longer than
    `idle_ping_s` is pinged as well, for a peer that vanished without closing (a network or
    host failure). A discarded connection is replaced by a new one before it is handed out."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        if dbapi_connection.closed or _readable(dbapi_connection.pgconn.socket):
            raise DisconnectionError("the server ended the connection while it was pooled")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since > idle_ping_s:
            if not _ping(dbapi_connection):
                raise DisconnectionError("the pooled connection did not answer a ping")


def _ping(dbapi_connection) -> bool:  # noqa: ANN001
    # An empty query: one round trip that opens no transaction (the dialect's ping, a SELECT,
    # left the connection in one, after psycopg's BEGIN).
    return dbapi_connection.pgconn.exec_(b"").status == pq.ExecStatus.EMPTY_QUERY


def _readable(fd: int) -> bool:
    # an idle connection is sent nothing (the API's connections LISTEN to nothing): EOF or a
    # message means the server is done with it
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def migrate(database_url: str, migrations_dir: Path) -> None:
    """Upgrade the database to the newest revision (run before the service starts)."""
    # imported here: a process that never migrates need not load Alembic (about a second of CPU)
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(cfg, "head")
