from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tanhui_accounts.app import create_app
from tanhui_accounts.cli import create_user
from tanhui_accounts.domain.identity import Role
from tanhui_accounts.settings import AccountsSettings
from tanhui_shared.settings import REPO_ROOT

PASSWORD = "correct horse battery"


class AccountsClient:
    """The accounts API in-process on a fresh PostgreSQL database, with real logins."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.app = create_app(AccountsSettings(
            env="test", database_url=url,
            jwt_private_key_file=REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"))
        self.engine = self.app.state.engine
        self.http = TestClient(self.app)

    def user(self, role: str) -> tuple[dict, dict]:
        """Register (or, for operator-only roles, create by CLI) and log in: (user, headers)."""
        username = f"{role[:8].replace('_', '')}-{uuid.uuid4().hex[:10]}"
        if role in ("regulator", "admin"):
            created = create_user(self.url, username, PASSWORD, Role(role))
            user = {"id": created.id, "username": username, "role": role}
        else:
            reply = self.http.post("/api/v1/auth/register",
                                   json={"username": username, "password": PASSWORD, "role": role})
            assert reply.status_code == 201, reply.text
            user = reply.json()
        token = self.http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        return user, {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture(scope="module")
def accounts(migrated_database):
    client = AccountsClient(migrated_database("accounts"))
    yield client
    client.engine.dispose()
