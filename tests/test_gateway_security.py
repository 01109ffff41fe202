"""The gateway's first line, against the running platform: every route of the table with every kind
of bad token, wrong roles, identity headers from clients, oversized bodies and headers."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tanhui_gateway.routes import ROUTES, Route
from tanhui_shared.settings import REPO_ROOT

from e2e_support import eventually, register_and_login

ISS, AUD = "tanhui-accounts", "tanhui"
ACCOUNTS_KEY = serialization.load_pem_private_key(
    (REPO_ROOT / "tests" / "keys" / "test-signing-key.pem").read_bytes(), password=None)
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ROLES = ("citizen", "enterprise", "project_developer", "verifier", "organizer", "transit_operator",
         "regulator", "admin")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Forger:
    """Tokens as accounts would sign them (its test key is the platform's signing key), and the
    ways they go wrong."""

    def __init__(self, kid: str) -> None:
        self.kid = kid

    def claims(self, role: str, **overrides) -> dict:
        now = int(time.time())
        return {"sub": str(uuid.uuid4()), "role": role, "preferred_username": "forged", "iss": ISS,
                "aud": AUD, "iat": now, "nbf": now, "exp": now + 600, **overrides}

    def sign(self, claims: dict, key=ACCOUNTS_KEY) -> str:
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def variants(self, role: str) -> dict[str, str]:
        good = self.sign(self.claims(role))
        head, body, _ = good.split(".")
        unsigned = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": self.kid}).encode())
        public_pem = ACCOUNTS_KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        hs_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode()) + "." + body
        hs_signature = _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
        tampered = json.loads(base64.urlsafe_b64decode(body + "=="))
        tampered["role"] = "admin"
        return {
            "expired": self.sign(self.claims(role, iat=int(time.time()) - 1200,
                                             exp=int(time.time()) - 600)),
            "wrong-audience": self.sign(self.claims(role, aud="another-api")),
            "alg-none": f"{unsigned}.{body}.",
            "tampered-signature": f"{head}.{body}.{_b64(b'x' * 256)}",
            "tampered-claims": f"{head}.{_b64(json.dumps(tampered).encode())}.{good.split('.')[2]}",
            "hs256-with-public-key": f"{hs_input}.{hs_signature}",
            "wrong-key": self.sign(self.claims(role), key=STRANGER_KEY),
        }


@pytest.fixture(scope="module")
def gw(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def forger(gw) -> Forger:
    keys = gw.get("/.well-known/jwks.json").json()["keys"]
    return Forger(keys[0]["kid"])


def concrete(route: Route) -> str:
    path = route.path.replace("/*", "/projects" if "registry" in route.path else "/NC-0")
    return "/".join(str(uuid.uuid4()) if p.startswith("{") else p for p in path.split("/"))


def call(gw, method: str, route: Route, token: str | None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return gw.request(method, concrete(route), headers=headers, json={} if method != "GET" else None,
                      **kwargs)


OPERATIONS = [(m, r) for r in ROUTES for m in r.methods]


def test_guarded_routes_refuse_every_bad_token_and_optional_ones_refuse_bad_tokens_too(gw, forger):
    checked = 0
    for method, route in OPERATIONS:
        if route.access == "public":
            continue
        role = route.roles[0] if route.roles else "citizen"
        for name, token in forger.variants(role).items():
            reply = call(gw, method, route, token)
            assert reply.status_code == 401, (method, route.path, name, reply.text)
            assert reply.headers["www-authenticate"].startswith("Bearer")
            assert reply.headers["content-type"] == "application/problem+json"
            assert reply.json()["request_id"] == reply.headers["x-request-id"]
            checked += 1
        anonymous = call(gw, method, route, None)
        if route.access == "token":
            assert anonymous.status_code == 401, (method, route.path)
            assert anonymous.headers["www-authenticate"] == "Bearer"
        else:
            assert anonymous.status_code in (200, 404), (method, route.path, anonymous.text)
    assert checked == 7 * sum(1 for _, r in OPERATIONS if r.access != "public")


def test_public_routes_answer_without_a_token(gw, forger):
    for method, route in OPERATIONS:
        if route.access != "public":
            continue
        reply = call(gw, method, route, None)
        assert reply.status_code not in (401, 403) and reply.status_code < 500, (method, route.path)


def test_the_wrong_role_is_403_on_every_role_bound_route(gw, forger):
    for method, route in OPERATIONS:
        if not route.roles:
            continue
        wrong = random.choice([r for r in ROLES if r not in route.roles])
        reply = call(gw, method, route, forger.sign(forger.claims(wrong)))
        assert reply.status_code == 403, (method, route.path, wrong, reply.text)
        assert route.roles[0] in reply.json()["detail"]


def test_a_valid_token_of_the_right_role_gets_through_to_the_service(gw, forger):
    regulator = forger.sign(forger.claims("regulator"))
    reply = gw.get("/api/v1/stats/city", params={"period": "2025"},
                   headers={"Authorization": f"Bearer {regulator}"})
    assert reply.status_code == 200, reply.text


def _uscc() -> str:
    from tanhui_accounts.domain.uscc import check_character

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    stem = "91350100" + "".join(random.choice(alphabet) for _ in range(9))
    return stem + check_character(stem)


def test_an_enterprise_cannot_read_another_enterprises_reports(gw):
    _, owner = register_and_login(gw, "enterprise")
    _, rival = register_and_login(gw, "enterprise")
    created = eventually(lambda: gw.post("/api/v1/enterprises", headers=owner, json={
        "name": "闽江造纸厂", "uscc": _uscc(), "county": "闽侯县", "industry": "paper"}),
        lambda r: r.status_code != 401, what="accounts accepting the token")
    assert created.status_code == 201, created.text
    path = f"/api/v1/enterprises/{created.json()['id']}/reports"
    assert gw.get(path, headers=owner).status_code == 200
    assert gw.get(path, headers=rival).status_code == 404
    assert gw.get(f"/api/v1/reports/{uuid.uuid4()}", headers=rival).status_code == 404


def test_identity_headers_from_the_client_change_nothing(gw):
    user, auth = register_and_login(gw, "citizen")
    victim, _ = register_and_login(gw, "organizer")
    forged = {"X-User-Id": victim["id"], "X-User-Role": "admin", "X-Authenticated-User": victim["id"],
              "X-Roles": "admin", "X-Forwarded-For": "10.9.8.7"}
    me = gw.get("/api/v1/me", headers={**auth, **forged})
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["role"]) == (user["id"], "citizen")
    # ... and the headers never claim a role the token lacks at the gateway either
    assert gw.get("/api/v1/stats/city", headers={**auth, **forged}).status_code == 403


def test_bodies_over_the_route_limit_are_413_by_length_and_while_streaming(gw):
    big = b'{"username": "' + b"a" * (9 * 1024) + b'"}'
    declared = gw.post("/api/v1/auth/register", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.headers["content-type"] == "application/problem+json"

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(10):
            yield b"a" * 1024

    streamed = gw.post("/api/v1/auth/register", content=chunks(),
                       headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["request_id"] == streamed.headers["x-request-id"]


def test_oversized_headers_are_431(gw):
    reply = gw.get("/api/v1/factors", headers={"X-Padding": "p" * 10_000})
    assert reply.status_code == 431 and reply.headers["content-type"] == "application/problem+json"


def test_unknown_routes_and_methods(gw):
    assert gw.get("/api/v1/holdings/extra").status_code == 404
    wrong_method = gw.delete("/api/v1/listings")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, POST"
