"""Accreditation through the API on PostgreSQL: only an admin grants verifiers and transit
operators; an operator is a machine client (client credentials, short tokens, secret rotation)
feeding only its licensed modes, only for citizens, under the same caps; a grant that is not
valid today gets no token and feeds nothing; every grant and revocation is public."""
from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest

from accounts_support import CITY_DAY, PROBLEM, ride, scalar
from accounts_client import AccountsClient, bearer
from tanhui_accounts.domain.accreditation import city_today
from tanhui_accounts.domain.identity import Role
from tanhui_accounts.domain.travel import RULES, Mode
from tanhui_accounts.security import hash_password
from tanhui_accounts.usecases.identity import register_user
from tanhui_shared.contracts import AccreditationGranted, AccreditationRevoked, UserRegistered
from tanhui_shared.uow import in_unit_of_work

TODAY = city_today()


def feed(accounts, headers, *records):
    return accounts.http.post("/api/v1/trips/batch", headers=headers, json={"trips": list(records)})


def record(citizen: dict, start, **kw) -> dict:
    return {**ride(start, **kw), "username": citizen["username"]}


def trips_of(accounts, user_id: str) -> int:
    return scalar(accounts.engine, "SELECT count(*) FROM green_trip WHERE user_id = :u", u=user_id)


def outbox_types(accounts, needle: str) -> list[str]:
    with accounts.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT envelope FROM outbox WHERE envelope LIKE %s",
                                    (f"%{needle}%",)).scalars().all()
    return sorted(json.loads(row)["type"] for row in rows)


def refused_token(reply, words: str) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.headers["content-type"] == PROBLEM and "access_token" not in reply.text
    assert words in reply.json()["detail"], reply.json()


def test_a_granted_operator_feeds_its_licensed_modes_for_citizens_only(accounts):
    citizen, _ = accounts.user("citizen")
    firm, _ = accounts.user("enterprise")
    granted = accounts.grant("transit_operator")
    assert (granted["modes"], granted["status"]) == (["bus", "metro"], "active")
    assert granted["client_id"] == granted["username"] and len(granted["client_secret"]) >= 40
    token = accounts.client_token(granted["client_id"], granted["client_secret"])
    assert token.status_code == 200, token.text
    assert token.json()["expires_in"] == 300 and token.headers["cache-control"] == "no-store"
    claims = jwt.decode(token.json()["access_token"], options={"verify_signature": False})
    assert (claims["role"], claims["client_id"], claims["exp"] - claims["iat"]) == \
        ("transit_operator", granted["client_id"], 300)

    nobody = "nobody-" + uuid.uuid4().hex[:6]
    reply = feed(accounts, bearer(token),
                 record(citizen, CITY_DAY, mode="bus", km="5"),
                 record(citizen, CITY_DAY + timedelta(hours=1), mode="walk", km="2"),
                 record(firm, CITY_DAY + timedelta(hours=2), mode="bus", km="5"),
                 {**record(citizen, CITY_DAY + timedelta(hours=3), mode="bus", km="5"),
                  "username": nobody})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["accepted"], body["points_awarded"]) == (1, 13)
    assert body["rejected"] == [
        {"index": 1, "reason": "mode walk is not in this operator's licence (bus, metro)",
         "code": "mode-not-licensed"},
        {"index": 2, "reason": f"unknown citizen {firm['username']!r}",  # not a citizen
         "code": "unknown-citizen"},
        {"index": 3, "reason": f"unknown citizen {nobody!r}", "code": "unknown-citizen"}]
    assert trips_of(accounts, citizen["id"]) == 1 and trips_of(accounts, firm["id"]) == 0


def test_http_basic_client_authentication_works_and_the_password_grant_does_not(accounts):
    granted = accounts.grant("transit_operator")
    pair = f"{granted['client_id']}:{granted['client_secret']}".encode()
    basic = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    ok = accounts.http.post("/api/v1/auth/token", headers=basic,
                            data={"grant_type": "client_credentials"})
    assert ok.status_code == 200, ok.text
    wrong = base64.b64encode(f"{granted['client_id']}:not-the-secret".encode()).decode()
    refused = accounts.http.post("/api/v1/auth/token", headers={"Authorization": f"Basic {wrong}"},
                                 data={"grant_type": "client_credentials"})
    refused_token(refused, "wrong client_id or client_secret")
    assert refused.json()["error"] == "invalid_client"
    assert refused.headers["www-authenticate"].startswith("Basic")
    twice = accounts.http.post("/api/v1/auth/token", headers=basic, data={
        "grant_type": "client_credentials", "client_secret": granted["client_secret"]})
    assert twice.status_code == 400 and twice.json()["field"] == "client_secret"
    # the secret is no password: an operator never signs in with the password grant
    for password in (granted["client_secret"], "correct horse battery"):
        refused_token(accounts.http.post("/api/v1/auth/token", data={
            "username": granted["username"], "password": password}), "wrong username or password")
    other = accounts.http.post("/api/v1/auth/token", data={"grant_type": "implicit"})
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"


def test_an_operators_trips_obey_the_same_daily_caps(accounts):
    citizen, _ = accounts.user("citizen")
    _, operator = accounts.user("transit_operator")
    # ten 20 km metro rides earn 93 points each uncapped; the metro cap is 500 a day
    rides = [record(citizen, CITY_DAY + timedelta(minutes=40 * i), mode="metro") for i in range(10)]
    reply = feed(accounts, operator, *rides)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["accepted"], reply.json()["points_awarded"]) == \
        (10, RULES.mode_cap(Mode.METRO))
    assert scalar(accounts.engine, "SELECT balance FROM points_account WHERE user_id = :u",
                  u=citizen["id"]) == RULES.mode_cap(Mode.METRO)


def test_a_revoked_operator_feeds_nothing_and_gets_no_token(accounts):
    citizen, _ = accounts.user("citizen")
    operator, headers = accounts.user("transit_operator")
    grant = operator["grant"]
    assert feed(accounts, headers, record(citizen, CITY_DAY, mode="bus", km="5")).status_code == 200
    revoked = accounts.http.post(f"/api/v1/accreditations/{grant['id']}/revoke",
                                 headers=accounts.admin, json={"reason": "licence withdrawn"})
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["revocation_reason"]) == \
        ("revoked", "licence withdrawn")
    # the token it still holds no longer feeds: 403, nothing written
    late = feed(accounts, headers,
                record(citizen, CITY_DAY + timedelta(hours=2), mode="bus", km="5"))
    assert late.status_code == 403 and late.headers["content-type"] == PROBLEM
    assert "revoked" in late.json()["detail"] and "licence withdrawn" in late.json()["detail"]
    assert trips_of(accounts, citizen["id"]) == 1
    refused_token(accounts.client_token(grant["client_id"], grant["client_secret"]),
                  "accreditation was revoked on")
    again = accounts.http.post(f"/api/v1/accreditations/{grant['id']}/revoke",
                               headers=accounts.admin, json={"reason": "twice"})
    assert again.status_code == 409 and again.json()["field"] == "accreditation_id"
    assert accounts.http.post("/api/v1/accreditations/no-such-grant/revoke",
                              headers=accounts.admin, json={"reason": "x"}).status_code == 404
    assert outbox_types(accounts, grant["id"]) == sorted([AccreditationGranted.TYPE,
                                                          AccreditationRevoked.TYPE])


def test_an_expired_or_future_grant_gets_no_token_and_feeds_nothing(accounts):
    citizen, _ = accounts.user("citizen")
    expired = accounts.grant("transit_operator", valid_from=TODAY - timedelta(days=400),
                             valid_to=TODAY - timedelta(days=1))
    future = accounts.grant("transit_operator", valid_from=TODAY + timedelta(days=10))
    assert (expired["status"], future["status"]) == ("expired", "not_yet_valid")
    refused_token(accounts.client_token(expired["client_id"], expired["client_secret"]),
                  f"expired after {TODAY - timedelta(days=1)}")
    refused_token(accounts.client_token(future["client_id"], future["client_secret"]),
                  f"valid from {TODAY + timedelta(days=10)}")
    # a token signed while the grant was valid (minted here with the service's own key)
    me = accounts.app.state.signing_key.issue(
        {"sub": scalar(accounts.engine, "SELECT id FROM user_account WHERE username = :n",
                       n=expired["username"]),
         "preferred_username": expired["username"], "role": "transit_operator"},
        300, "tanhui-accounts", "tanhui")
    late = feed(accounts, {"Authorization": f"Bearer {me}"},
                record(citizen, CITY_DAY, mode="bus", km="5"))
    assert late.status_code == 403 and "expired" in late.json()["detail"], late.text
    assert trips_of(accounts, citizen["id"]) == 0


def test_a_verifier_signs_in_with_its_first_password_until_its_grant_ends(accounts):
    granted = accounts.grant("verifier")
    assert granted["modes"] == [] and granted["client_secret"] is None
    password = granted["initial_password"]
    assert len(password) >= 20
    login = {"username": granted["username"], "password": password}
    token = accounts.http.post("/api/v1/auth/token", data=login)
    assert token.status_code == 200, token.text
    assert accounts.http.get("/api/v1/me", headers=bearer(token)).json()["role"] == "verifier"
    accounts.http.post(f"/api/v1/accreditations/{granted['id']}/revoke", headers=accounts.admin,
                       json={"reason": "accreditation suspended by CNCA"})
    refused_token(accounts.http.post("/api/v1/auth/token", data=login),
                  "revoked on " + str(TODAY))
    wrong = accounts.http.post("/api/v1/auth/token", data={**login, "password": "x" * 12})
    refused_token(wrong, "wrong username or password")  # grants are told only to the holder


def test_a_renewal_adds_a_grant_and_no_credentials(accounts):
    first = accounts.grant("verifier", valid_from=TODAY - timedelta(days=300),
                           valid_to=TODAY + timedelta(days=5))
    renewal = accounts.grant("verifier", first["username"], valid_from=TODAY + timedelta(days=6),
                             valid_to=TODAY + timedelta(days=800))
    assert renewal["id"] != first["id"] and renewal["status"] == "not_yet_valid"
    assert renewal["initial_password"] is None and renewal["client_secret"] is None
    # the first password still signs in: no new account, no new credentials
    assert accounts.http.post("/api/v1/auth/token", data={
        "username": first["username"], "password": first["initial_password"]}).status_code == 200
    overlapping = accounts.http.post("/api/v1/accreditations", headers=accounts.admin, json={
        "role": "verifier", "username": first["username"], "organisation": "x", "number": "y",
        "valid_from": str(TODAY), "valid_to": str(TODAY + timedelta(days=30)), "modes": []})
    assert overlapping.status_code == 409 and overlapping.json()["field"] == "valid_from"
    assert outbox_types(accounts, first["username"]).count(UserRegistered.TYPE) == 1


def test_a_grant_never_takes_over_another_kind_of_account(accounts):
    citizen, _ = accounts.user("citizen")
    body = {"role": "verifier", "username": citizen["username"], "organisation": "x",
            "number": "y", "valid_from": str(TODAY), "valid_to": str(TODAY), "modes": []}
    taken = accounts.http.post("/api/v1/accreditations", headers=accounts.admin, json=body)
    assert taken.status_code == 409 and taken.json()["field"] == "username"
    # a verifier that registered itself before accreditation existed is not trusted by a grant
    legacy = f"legacy-{uuid.uuid4().hex[:8]}"
    secret = "registered before issue 12"
    in_unit_of_work(accounts.engine, lambda uow: register_user(uow, legacy, hash_password(secret),
                                                               Role.VERIFIER))
    stale = accounts.http.post("/api/v1/accreditations", headers=accounts.admin,
                               json={**body, "username": legacy})
    assert stale.status_code == 409 and "never accredited" in stale.json()["detail"]
    refused_token(accounts.http.post("/api/v1/auth/token", data={
        "username": legacy, "password": secret}), "holds no accreditation")


def test_a_self_registered_transit_operator_of_old_feeds_nothing(accounts):
    citizen, _ = accounts.user("citizen")
    legacy = f"legacy-{uuid.uuid4().hex[:8]}"
    secret = "registered before issue 12"
    user = in_unit_of_work(accounts.engine, lambda uow: register_user(
        uow, legacy, hash_password(secret), Role.TRANSIT_OPERATOR))
    refused_token(accounts.http.post("/api/v1/auth/token", data={
        "username": legacy, "password": secret}), "client credentials")
    # a token it got before this change (minted here with the service's key) feeds nothing
    old = accounts.app.state.signing_key.issue(
        {"sub": user.id, "preferred_username": legacy, "role": "transit_operator"},
        300, "tanhui-accounts", "tanhui")
    late = feed(accounts, {"Authorization": f"Bearer {old}"},
                record(citizen, CITY_DAY, mode="bus", km="5"))
    assert late.status_code == 403 and "holds no accreditation" in late.json()["detail"]
    assert trips_of(accounts, citizen["id"]) == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"valid_to": str(TODAY - timedelta(days=1))}, "valid_to"),
    ({"modes": []}, "modes"),
    ({"role": "verifier"}, "modes"),  # a verifier is licensed for no modes
    ({"modes": ["bus", "rocket"]}, "modes[1]"),
    ({"role": "citizen"}, "role"),
    ({"username": "system-buffer-pool"}, "username"),
    ({"username": "Upper-Case"}, "username"),
    ({"organisation": ""}, "organisation"),
])
def test_a_bad_grant_is_422_naming_the_field(accounts, change, field):
    body = {"role": "transit_operator", "username": f"bus-{uuid.uuid4().hex[:8]}",
            "organisation": "南充公交集团", "number": "L-1", "valid_from": str(TODAY),
            "valid_to": str(TODAY + timedelta(days=1)), "modes": ["bus"], **change}
    reply = accounts.http.post("/api/v1/accreditations", headers=accounts.admin, json=body)
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM, reply.text
    problem = reply.json()
    assert field in [e["field"] for e in problem.get("errors", [])] + [problem.get("field")]


def test_only_an_admin_grants_revokes_or_rotates(accounts):
    _, citizen = accounts.user("citizen")
    _, verifier = accounts.user("verifier")
    grant = accounts.grant("transit_operator")
    for headers, status in (({}, 401), (citizen, 403), (verifier, 403)):
        assert accounts.http.post("/api/v1/accreditations", headers=headers, json={
            "role": "verifier", "username": f"v-{uuid.uuid4().hex[:8]}", "organisation": "x",
            "number": "y", "valid_from": str(TODAY), "valid_to": str(TODAY),
        }).status_code == status
        assert accounts.http.post(f"/api/v1/accreditations/{grant['id']}/revoke",
                                  headers=headers, json={"reason": "x"}).status_code == status
        assert accounts.http.post(f"/api/v1/accreditations/{grant['id']}/client-secret",
                                  headers=headers).status_code == status


def test_a_rotated_secret_works_beside_the_old_one_during_the_overlap_only(accounts):
    granted = accounts.grant("transit_operator")
    old = granted["client_secret"]
    rotated = accounts.http.post(f"/api/v1/accreditations/{granted['id']}/client-secret",
                                 headers=accounts.admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old and rotated.json()["client_id"] == granted["client_id"]
    for secret in (old, new):  # the default hour's overlap
        assert accounts.client_token(granted["client_id"], secret).status_code == 200
    # the same database under a one-second overlap: the replaced secret stops after it
    brief = AccountsClient(accounts.url, client_secret_overlap_s=1)
    try:
        again = brief.http.post(f"/api/v1/accreditations/{granted['id']}/client-secret",
                                headers=accounts.admin)
        newest = again.json()["client_secret"]
        assert brief.client_token(granted["client_id"], new).status_code == 200
        refused_token(brief.client_token(granted["client_id"], old), "wrong client_id")
        time.sleep(1.2)
        refused_token(brief.client_token(granted["client_id"], new), "wrong client_id")
        assert brief.client_token(granted["client_id"], newest).status_code == 200
    finally:
        brief.engine.dispose()
    verifier = accounts.grant("verifier")
    assert accounts.http.post(f"/api/v1/accreditations/{verifier['id']}/client-secret",
                              headers=accounts.admin).status_code == 409


def test_the_public_list_shows_every_grant_and_revocation_with_dates(accounts):
    active = accounts.grant("transit_operator")
    revoked = accounts.grant("verifier")
    accounts.http.post(f"/api/v1/accreditations/{revoked['id']}/revoke", headers=accounts.admin,
                       json={"reason": "lapsed"})
    expired = accounts.grant("verifier", valid_from=TODAY - timedelta(days=90),
                             valid_to=TODAY - timedelta(days=60))
    listed = accounts.http.get("/api/v1/accreditations", params={"limit": 200})  # no token
    assert listed.status_code == 200, listed.text
    rows = {g["id"]: g for g in listed.json()["items"]}
    assert listed.json()["total"] >= 3
    assert (rows[active["id"]]["status"], rows[active["id"]]["modes"]) == \
        ("active", ["bus", "metro"])
    gone = rows[revoked["id"]]
    assert (gone["status"], gone["revocation_reason"]) == ("revoked", "lapsed")
    assert gone["revoked_at"] and gone["granted_at"] and gone["valid_from"] and gone["valid_to"]
    assert (rows[expired["id"]]["status"], rows[expired["id"]]["valid_to"]) == \
        ("expired", str(TODAY - timedelta(days=60)))
    assert not any(k in listed.text for k in ("client_secret", "initial_password", "secret_hash"))
    assert active["client_secret"] not in listed.text
    for status in ("active", "revoked", "expired", "not_yet_valid"):
        page = accounts.http.get("/api/v1/accreditations",
                                 params={"status": status, "limit": 200}).json()
        assert {g["status"] for g in page["items"]} <= {status}
        assert page["total"] == len(page["items"])
    verifiers = accounts.http.get("/api/v1/accreditations", params={"role": "verifier"}).json()
    assert {g["role"] for g in verifiers["items"]} == {"verifier"}
    one = accounts.http.get("/api/v1/accreditations", params={"limit": 1, "offset": 1}).json()
    assert len(one["items"]) == 1 and (one["limit"], one["offset"]) == (1, 1)
    bad = accounts.http.get("/api/v1/accreditations", params={"status": "dormant"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
