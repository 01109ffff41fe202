"""The accounts API in-process for tests: a client with real logins (imported by conftest.py and
the tests, never from conftest itself: several services' conftest modules share that name)."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from fastapi.testclient import TestClient

from tanhui_accounts.app import create_app
from tanhui_accounts.cli import create_user
from tanhui_accounts.domain.accreditation import city_today
from tanhui_accounts.domain.identity import Role
from tanhui_accounts.settings import AccountsSettings
from tanhui_shared.settings import REPO_ROOT

PASSWORD = "correct horse battery"


class AccountsClient:
    """The accounts API in-process on a fresh PostgreSQL database, with real logins."""

    def __init__(self, url: str, **settings) -> None:
        self.url = url
        self.app = create_app(AccountsSettings(
            env="test", database_url=url, **{"password_hash_cost": "test", **settings},
            jwt_private_key_file=REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"))
        self.engine = self.app.state.engine
        self.http = TestClient(self.app)
        self._admin: dict | None = None

    @property
    def admin(self) -> dict:
        """Headers of an admin (made once by the CLI), who grants accreditations."""
        if self._admin is None:
            self._admin = self.user("admin")[1]
        return self._admin

    def grant(self, role: str, username: str | None = None, *, modes=("bus", "metro"),
              valid_from: date | None = None, valid_to: date | None = None) -> dict:
        """An admin's grant through the API (201 asserted): the grant and any new credentials."""
        today = city_today()
        reply = self.http.post("/api/v1/accreditations", headers=self.admin, json={
            "role": role, "username": username or f"{role[:8].replace('_', '')}-"
                                                   f"{uuid.uuid4().hex[:10]}",
            "organisation": "南充公交集团" if role == "transit_operator" else "中环联合认证中心",
            "number": f"LIC-{uuid.uuid4().hex[:8]}",
            "valid_from": str(valid_from or today - timedelta(days=30)),
            "valid_to": str(valid_to or today + timedelta(days=365)),
            "modes": list(modes) if role == "transit_operator" else []})
        assert reply.status_code == 201, reply.text
        return reply.json()

    def client_token(self, client_id: str, client_secret: str):
        return self.http.post("/api/v1/auth/token", data={
            "grant_type": "client_credentials", "client_id": client_id,
            "client_secret": client_secret})

    def user(self, role: str, **grant) -> tuple[dict, dict]:
        """Register (or, for operator-only roles, create by CLI; for verifiers and transit
        operators, grant through the admin API) and log in: (user, headers)."""
        username = f"{role[:8].replace('_', '')}-{uuid.uuid4().hex[:10]}"
        if role in ("verifier", "transit_operator"):
            granted = self.grant(role, username, **grant)
            if role == "verifier":
                token = self.http.post("/api/v1/auth/token", data={
                    "username": username, "password": granted["initial_password"]})
            else:
                token = self.client_token(granted["client_id"], granted["client_secret"])
            assert token.status_code == 200, token.text
            user = self.http.get("/api/v1/me", headers=bearer(token)).json()
            return {**user, "grant": granted}, bearer(token)
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


def bearer(token_reply) -> dict:
    return {"Authorization": f"Bearer {token_reply.json()['access_token']}"}
