"""accounts answers each kind of refusal as a typed problem: a domain rule, a constraint that the
code's own check could not see, and a validation error, each with `type` "/problems/{code}", the
catalogue's code and the field (real PostgreSQL, the real app)."""
from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from accounts_client import PASSWORD
from tanhui_accounts.domain.passwords import MIN_LENGTH
from tanhui_shared.web.problem_types import PROBLEM_TYPES

PROBLEM = "application/problem+json"


def _typed(reply, status: int, code: str, field: str | None) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert (body["type"], body["code"]) == (f"/problems/{code}", code), body
    assert body.get("field") == field, body
    assert code in PROBLEM_TYPES
    return body


def _register(accounts, username: str, password: str = PASSWORD):
    return accounts.http.post("/api/v1/auth/register", json={
        "username": username, "password": password, "role": "citizen"})


def test_a_domain_rule_answers_its_own_code(accounts):
    name = f"p-{uuid.uuid4().hex[:10]}"
    assert _register(accounts, name).status_code == 201
    body = _typed(_register(accounts, name), 409, "username-taken", "username")
    assert "constraint" not in body  # the application's check, before any write


def test_a_constraint_violation_answers_the_code_registered_for_it(accounts):
    # Another transaction holds the name uncommitted: registration's check cannot see it, its
    # INSERT waits on the unique index and fails when the holder commits.
    name = f"p-{uuid.uuid4().hex[:10]}"
    replies = []
    side = sa.create_engine(accounts.url)  # its own connections: the app's pool stays free
    with side.connect() as holder:
        holder.execute(sa.text("INSERT INTO user_account (id, username, password_hash, role, "
                               "created_at) VALUES (:id, :n, 'x', 'citizen', now())"),
                       {"id": uuid.uuid4().hex, "n": name})
        racer = threading.Thread(target=lambda: replies.append(_register(accounts, name)))
        racer.start()
        waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                          "AND datname = current_database()")
        with side.connect() as watcher:
            for _ in range(2000):  # wait until the INSERT blocks on the holder's row
                if watcher.execute(waiting).scalar():
                    break
                racer.join(0.005)
            else:
                raise AssertionError(f"the registration never waited: {replies and replies[0].text}")
        holder.commit()
    racer.join(30)
    side.dispose()
    body = _typed(replies[0], 409, "username-taken", "username")
    assert body["constraint"] == "uq_user_account_username"


def test_a_validation_error_lists_each_field_with_its_kind_and_limits(accounts):
    reply = accounts.http.post("/api/v1/auth/register", json={"password": PASSWORD,
                                                                "role": "citizen"})
    body = _typed(reply, 422, "invalid-request", "username")
    assert body["errors"] == [{"field": "username", "message": "Field required",
                               "kind": "missing"}]
    short = accounts.http.post("/api/v1/auth/register", json={"username": "lihua-p",
                                                               "password": "short"})
    errors = _typed(short, 422, "invalid-request", None)["errors"]
    by_field = {e["field"]: e for e in errors}
    assert set(by_field) == {"password", "role"}
    assert by_field["password"]["kind"] == "string_too_short"
    assert by_field["password"]["ctx"] == {"min_length": MIN_LENGTH}
    assert (by_field["role"]["kind"], "ctx" in by_field["role"]) == ("missing", False)
