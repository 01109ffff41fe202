"""Issue 12's identity attacks, each refused: self-registered verifiers and transit operators,
`12345678`, `password` and a password equal to the username, look-alikes of the registry's
system accounts; and a password can now be changed."""
from __future__ import annotations

import uuid

import pytest

from accounts_support import PROBLEM
from accounts_client import PASSWORD, bearer
from tanhui_accounts.cli import create_user, create_user_interactively
from tanhui_accounts.domain.identity import Role, reserved_name_problem, username_skeleton
from tanhui_accounts.domain.passwords import COMMON_PASSWORDS, password_problem
from tanhui_shared.errors import Invalid


def register(accounts, username: str, password: str = PASSWORD, role: str = "citizen"):
    return accounts.http.post("/api/v1/auth/register",
                              json={"username": username, "password": password, "role": role})


def refused_field(reply) -> tuple[str, str]:
    """(field, message) of a 422 problem."""
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM, reply.text
    body = reply.json()
    if "errors" in body:
        [error] = body["errors"]
        return error["field"], error["message"]
    return body["field"], body["detail"]


def fresh(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("role", ["verifier", "transit_operator"])
def test_verifiers_and_transit_operators_cannot_register_themselves(accounts, role):
    field, message = refused_field(register(accounts, fresh(), role=role))
    assert field == "role" and "granted by an administrator" in message


@pytest.mark.parametrize("role", ["citizen", "enterprise", "organizer", "project_developer"])
def test_the_other_roles_still_register_themselves(accounts, role):
    assert register(accounts, fresh(), role=role).status_code == 201


@pytest.mark.parametrize(("password", "words"), [
    ("12345678", "at least 10 characters"),
    ("password", "at least 10 characters"),
    ("qwertyuiop", "most common passwords"),
    ("Password123", "most common passwords"),  # case does not help
    ("1q2w3e4r5t", "most common passwords"),
    ("x" * 129, "at most 128 characters"),
])
def test_short_long_and_common_passwords_are_refused(accounts, password, words):
    field, message = refused_field(register(accounts, fresh(), password))
    assert field == "password" and words in message


def test_the_username_is_no_password_even_with_digits_added(accounts):
    name = fresh("zhangwei")
    for password, words in ((name, "must not be the username"),
                            (name.upper(), "must not be the username"),
                            (name + "2026", "the username with digits added")):
        field, message = refused_field(register(accounts, name, password))
        assert field == "password" and words in message
    assert register(accounts, name, f"{name} rides the bus").status_code == 201


@pytest.mark.parametrize("username", ["system-buffer-pool", "city-inclusion-pool.",
                                      "registry_buffer.pool", "city-inclusion-pool",
                                      "my.buffer-pool", "tanhui-official", "admin-li",
                                      "regulator.wang", "registry-desk"])
def test_look_alikes_of_the_registrys_accounts_are_refused(accounts, username):
    field, _ = refused_field(register(accounts, username))
    assert field == "username"


def test_names_are_compared_by_their_skeleton():
    # full-width letters, a zero-width space, a soft hyphen and case fold to the same skeleton
    for name in ("ｒｅｇｉｓｔｒｙ-buffer-pool", "city\u200b-inclusion-pool", "City-Inclusion\u00ad-Pool",
                 "SYSTEM_BUFFER_POOL"):
        assert reserved_name_problem(name) is not None, name
    assert username_skeleton("Ｃｉｔｙ\u200b-Inclusion_Pool.") == "cityinclusionpool"
    assert reserved_name_problem("lihua") is None
    assert reserved_name_problem("bus-pool-driver") is None
    # the operators' CLI names officials `regulator-...`; system look-alikes stay refused there too
    assert reserved_name_problem("regulator-7", chosen_by_public=False) is None
    assert reserved_name_problem("registry-buffer.pool", chosen_by_public=False) is not None


def test_the_policy_uses_the_whole_bundled_list():
    assert len(COMMON_PASSWORDS) == 30_000
    long_common = sorted(p for p in COMMON_PASSWORDS if len(p) >= 10)
    assert long_common and all(password_problem(p) for p in long_common)
    assert all(password_problem(p.upper()) for p in long_common[:50])
    assert password_problem("correct horse battery", "lihua") is None


def test_the_cli_applies_the_same_policy(accounts, monkeypatch, capsys):
    with pytest.raises(Invalid) as weak:
        create_user(accounts.url, fresh("regulator"), "12345678", Role.REGULATOR)
    assert weak.value.field == "password"
    with pytest.raises(Invalid) as lookalike:
        create_user(accounts.url, "system-buffer-pool", PASSWORD, Role.ADMIN)
    assert lookalike.value.field == "username"
    with pytest.raises(Invalid) as granted:
        create_user(accounts.url, fresh("verifier"), PASSWORD, Role.VERIFIER)
    assert granted.value.field == "role"
    name = fresh("regulator")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(f"{name}\n"))
    assert create_user_interactively(accounts.url, name, Role.REGULATOR, True) == 2
    assert "must not be the username" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(f"{PASSWORD}\n"))
    assert create_user_interactively(accounts.url, name, Role.REGULATOR, True) == 0


def test_a_user_changes_their_password(accounts):
    user, headers = accounts.user("citizen")
    new = "a new and longer passphrase"
    wrong = accounts.http.post("/api/v1/me/password", headers=headers,
                               json={"current_password": "not my password", "new_password": new})
    assert wrong.status_code == 403 and wrong.json()["field"] == "current_password"
    for weak, words in (("password", "at least 10"), ("qwertyuiop", "most common"),
                        (user["username"], "the username"), (PASSWORD, "must differ")):
        reply = accounts.http.post("/api/v1/me/password", headers=headers,
                                   json={"current_password": PASSWORD, "new_password": weak})
        assert refused_field(reply)[0] == "new_password" and words in reply.json()["detail"]
    done = accounts.http.post("/api/v1/me/password", headers=headers,
                              json={"current_password": PASSWORD, "new_password": new})
    assert done.status_code == 204 and done.content == b""
    login = {"username": user["username"]}
    assert accounts.http.post("/api/v1/auth/token",
                              data={**login, "password": PASSWORD}).status_code == 401
    token = accounts.http.post("/api/v1/auth/token", data={**login, "password": new})
    assert token.status_code == 200
    # the old password no longer proves anything, even with a valid token
    again = accounts.http.post("/api/v1/me/password", headers=bearer(token),
                               json={"current_password": PASSWORD, "new_password": new + "!"})
    assert again.status_code == 403
    assert accounts.http.post("/api/v1/me/password", json={
        "current_password": new, "new_password": new + "!"}).status_code == 401


def test_a_verifier_replaces_its_first_password_and_an_operator_has_none(accounts):
    granted = accounts.grant("verifier")
    first = {"username": granted["username"], "password": granted["initial_password"]}
    headers = bearer(accounts.http.post("/api/v1/auth/token", data=first))
    new = "the verification body's own passphrase"
    assert accounts.http.post("/api/v1/me/password", headers=headers, json={
        "current_password": granted["initial_password"], "new_password": new}).status_code == 204
    token = accounts.http.post("/api/v1/auth/token", data={**first, "password": new})
    assert token.status_code == 200
    _, operator = accounts.user("transit_operator")
    refused = accounts.http.post("/api/v1/me/password", headers=operator, json={
        "current_password": "anything at all", "new_password": new})
    assert refused.status_code == 403 and "client secret" in refused.json()["detail"]
