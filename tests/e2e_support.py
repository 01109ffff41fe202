"""Helpers for tests that drive the running platform through the gateway, as a client would."""
from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

PASSWORD = "correct horse battery"
ACCREDITED = ("verifier", "transit_operator")  # granted by an admin, never self-registered

# gateway URL -> role -> credentials of that platform's administrator and regulator (made with the
# operators' CLI when the platform starts, see conftest.running_platform)
OFFICIALS: dict[str, dict[str, tuple[str, str]]] = {}


def login(gw: httpx.Client, username: str, password: str) -> dict[str, str]:
    token = gw.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def official_headers(gw: httpx.Client, role: str) -> dict[str, str]:
    """The platform's admin or regulator, logged in."""
    return login(gw, *OFFICIALS[str(gw.base_url).rstrip("/")][role])


def admin_headers(gw: httpx.Client) -> dict[str, str]:
    return official_headers(gw, "admin")


def confirm_claims_of(gw: httpx.Client, username: str) -> list[str]:
    """The regulator confirms every pending claim `username` made (e.g. from the console, whose
    enterprise id the test does not see): the ids confirmed."""
    queue = gw.get("/api/v1/enterprise-claims", params={"status": "pending", "limit": 500},
                   headers=official_headers(gw, "regulator"))
    assert queue.status_code == 200, queue.text
    mine = [c["enterprise_id"] for c in queue.json()["items"] if c["claimant_username"] == username]
    for enterprise_id in mine:
        confirm_enterprise(gw, enterprise_id)
    return mine


def confirm_enterprise(gw: httpx.Client, enterprise_id: str) -> dict:
    """The regulator confirms an enterprise's claim to its credit code: from then on it is
    disclosed and its reports reach credits (ReportFiled)."""
    decided = gw.post(f"/api/v1/enterprise-claims/{enterprise_id}/decision",
                      headers=official_headers(gw, "regulator"),
                      json={"decision": "confirm", "reason": "business licence checked"})
    assert decided.status_code == 200, decided.text
    return decided.json()


# A city transit group licensed for its buses, the metro and public bikes.
OPERATOR_MODES = ("bus", "metro", "bike")


def accredit(gw: httpx.Client, role: str, *, modes: tuple[str, ...] = OPERATOR_MODES,
             valid_days: int = 365) -> tuple[dict, dict]:
    """An accredited verifier or a licensed transit operator, granted by the platform's admin as
    it is in production: (the grant, Authorization headers). A verifier changes the initial
    password the grant shows once to PASSWORD (so the console tests log in with it); an
    operator gets its token by client credentials."""
    today = datetime.date.today()
    grant = gw.post("/api/v1/accreditations", headers=admin_headers(gw), json={
        "role": role, "username": f"{role[:8].replace('_', '')}-{uuid.uuid4().hex[:10]}",
        "organisation": f"Test {role} {uuid.uuid4().hex[:6]}", "number": f"CNAS-{uuid.uuid4().hex[:8]}",
        "valid_from": str(today - datetime.timedelta(days=1)),
        "valid_to": str(today + datetime.timedelta(days=valid_days)),
        "modes": list(modes) if role == "transit_operator" else []})
    assert grant.status_code == 201, grant.text
    body = grant.json()
    if role == "verifier":  # its first act: PASSWORD instead of the one the grant showed once
        first = login(gw, body["username"], body["initial_password"])
        changed = gw.post("/api/v1/me/password", headers=first, json={
            "current_password": body["initial_password"], "new_password": PASSWORD})
        assert changed.status_code == 204, changed.text
        headers = login(gw, body["username"], PASSWORD)
        # the grant reaches verification as an event: its queue opens once it has
        eventually(lambda: gw.get("/api/v1/verifiers/queue", headers=headers),
                   lambda r: r.status_code == 200, what="the accreditation in verification")
        return body, headers
    token = gw.post("/api/v1/auth/token", data={"grant_type": "client_credentials",
                                                "client_id": body["client_id"],
                                                "client_secret": body["client_secret"]})
    assert token.status_code == 200, token.text
    return body, {"Authorization": f"Bearer {token.json()['access_token']}"}


def register_and_login(gw: httpx.Client, role: str, request_id: str | None = None):
    """A new user of `role`: (user, Authorization headers). Verifiers and transit operators are
    accredited by the admin instead of registering (see `accredit`)."""
    if role in ACCREDITED:
        _, headers = accredit(gw, role)
        me = gw.get("/api/v1/me", headers=headers)
        assert me.status_code == 200, me.text
        return me.json(), headers
    username = f"{role[:8].replace('_', '')}-{uuid.uuid4().hex[:10]}"
    headers = {"X-Request-ID": request_id} if request_id else {}
    reply = gw.post("/api/v1/auth/register",
                    json={"username": username, "password": PASSWORD, "role": role}, headers=headers)
    assert reply.status_code == 201, reply.text
    token = gw.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "bearer"
    return reply.json(), {"Authorization": f"Bearer {token.json()['access_token']}"}


def eventually(attempt: Callable[[], Any], ok: Callable[[Any], bool], timeout_s: float = 30,
               what: str = "the expected state") -> Any:
    """Retry `attempt` until `ok(result)`: events cross services asynchronously."""
    deadline = time.monotonic() + timeout_s
    result = attempt()
    while not ok(result):
        if time.monotonic() > deadline:
            detail = getattr(result, "text", result)
            raise AssertionError(f"{what} not reached in {timeout_s:.0f}s; last: {detail}")
        time.sleep(0.25)
        result = attempt()
    return result
