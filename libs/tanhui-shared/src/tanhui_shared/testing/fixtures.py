"""pytest fixtures shared by every test suite in the repo (registered in the root conftest.py)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ..db import make_engine
from ..messaging.kafka import ensure_topics
from .infra import Infrastructure, provide_infrastructure


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    provided = provide_infrastructure()
    yield provided
    provided.close()


class DatabaseFactory:
    """Makes a fresh PostgreSQL database per call, so tests never see each other's rows."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.admin = make_engine(server_url, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def __call__(self, label: str = "t") -> str:
        name = f"{label}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def new_database(infra: Infrastructure) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(infra.database_url)
    yield factory
    factory.drop_all()


@pytest.fixture
def topic_namespace(infra: Infrastructure) -> str:
    """A namespace of freshly created platform topics, private to one test."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    ensure_topics(infra.kafka_bootstrap, namespace)
    return namespace


@pytest.fixture(scope="session")
def signing_key():
    from .tokens import TestSigningKey

    return TestSigningKey()


@pytest.fixture(scope="session")
def migrated_database(new_database):
    """`migrated_database("credits")` -> the URL of a fresh PostgreSQL database at head."""
    from ..db import migrate
    from ..settings import REPO_ROOT

    def make(service: str) -> str:
        url = new_database(service)
        migrate(url, REPO_ROOT / "services" / service / "migrations")
        return url

    return make
