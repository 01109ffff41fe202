"""The walking skeleton through the gateway: register -> UserRegistered -> holding account."""
from __future__ import annotations

import time
import uuid

import httpx

from tanhui_shared.contracts import ACCOUNTS_TOPIC, CloudEvent, UserRegistered, qualified
from tanhui_accounts.security import SigningKey
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.kafka_reader import read_topic

from e2e_support import eventually, register_and_login


def test_a_registered_user_gets_a_holding_account_through_kafka(platform, infra):
    request_id = f"skeleton-{uuid.uuid4().hex}"
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        user, auth = register_and_login(gw, "citizen", request_id=request_id)
        first = gw.get("/api/v1/holdings", headers=auth)
        deadline = time.monotonic() + 30
        holdings = first
        while holdings.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            holdings = gw.get("/api/v1/holdings", headers=auth)

    assert holdings.status_code == 200, holdings.text
    body = holdings.json()
    assert body["total"] == 0 and body["blocks"] == [] and body["account_id"]
    # The gateway's request id travelled into the event as its correlation id.
    events = []  # the topic is shared with other tests, poison included: keep what parses
    for record in read_topic(infra.kafka_bootstrap, qualified(ACCOUNTS_TOPIC, platform.namespace)):
        try:
            events.append(CloudEvent.model_validate_json(record.value))
        except ValueError:
            pass
    mine = [e for e in events if e.type == UserRegistered.TYPE and e.subject == user["id"]]
    assert len(mine) == 1
    assert mine[0].correlationid == request_id
    assert mine[0].data["subject_kind"] == "person"


def test_holdings_need_a_token_and_are_404_in_problem_json_until_the_account_opens(platform):
    # A validly signed token for a user whose UserRegistered credits has not seen (yet).
    key = SigningKey.from_pem((REPO_ROOT / "tests" / "keys" / "test-signing-key.pem").read_bytes())
    stranger = key.issue({"sub": str(uuid.uuid4()), "preferred_username": "not-yet", "role": "citizen"},
                         300, "tanhui-accounts", "tanhui")
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        anonymous = gw.get("/api/v1/holdings")
        unknown = eventually(lambda: gw.get("/api/v1/holdings",
                                            headers={"Authorization": f"Bearer {stranger}"}),
                             lambda r: r.status_code != 401, what="credits trusting the key")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


def test_bad_registrations_are_422_naming_the_field_and_write_nothing(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        for body, field in [({"username": "ab", "password": "long enough pw", "role": "citizen"}, "username"),
                            ({"username": "okname", "password": "short", "role": "citizen"}, "password"),
                            ({"username": "okname", "password": "long enough pw", "role": "admin"}, "role"),
                            ({"username": "city-inclusion-pool", "password": "long enough pw",
                              "role": "organizer"}, "username")]:
            reply = gw.post("/api/v1/auth/register", json=body)
            assert reply.status_code == 422, reply.text
            assert reply.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in reply.json()["errors"]] == [field]
        login = gw.post("/api/v1/auth/token", data={"username": "okname", "password": "long enough pw"})
        assert login.status_code == 401


def test_a_taken_username_is_409(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        user, _ = register_and_login(gw, "citizen")
        again = gw.post("/api/v1/auth/register", json={"username": user["username"],
                                                       "password": "another password", "role": "citizen"})
        assert again.status_code == 409
        assert again.json()["field"] == "username"


def test_the_gateway_echoes_or_mints_request_ids_and_404s_unknown_routes(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        echoed = gw.get("/healthz", headers={"X-Request-ID": "abc-12345678"})
        minted = gw.get("/api/v1/nowhere", headers={"X-Request-ID": "bad id\twith tab"})
    assert echoed.headers["x-request-id"] == "abc-12345678"
    assert echoed.json()["services"] == {"accounts": "ok", "verification": "ok", "credits": "ok"}
    assert minted.status_code == 404
    assert minted.headers["content-type"] == "application/problem+json"
    assert len(minted.headers["x-request-id"]) == 32
    assert minted.json()["request_id"] == minted.headers["x-request-id"]


def test_me_answers_from_the_token(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as gw:
        user, auth = register_and_login(gw, role="organizer")
        me = gw.get("/api/v1/me", headers=auth)
        jwks = gw.get("/.well-known/jwks.json")
    assert me.status_code == 200 and me.json()["username"] == user["username"]
    assert me.json()["role"] == "organizer"
    assert jwks.json()["keys"][0]["alg"] == "RS256"
