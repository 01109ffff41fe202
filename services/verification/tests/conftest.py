"""The `svc` fixture: an in-process verification service on a fresh PostgreSQL database."""
from __future__ import annotations

import pytest

from verification_support import Service, make_service


@pytest.fixture
def svc(migrated_database, signing_key) -> Service:
    service = make_service(migrated_database("verification"), signing_key)
    yield service
    service.engine.dispose()
