"""Helpers for tests that drive the running platform through the gateway, as a client would."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

PASSWORD = "correct horse battery"


def register_and_login(gw: httpx.Client, role: str, request_id: str | None = None):
    """A new user of `role`: (user, Authorization headers)."""
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
