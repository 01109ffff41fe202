from __future__ import annotations

import pytest

from accounts_client import AccountsClient


@pytest.fixture(scope="module")
def accounts(migrated_database):
    client = AccountsClient(migrated_database("accounts"))
    yield client
    client.engine.dispose()
