"""Property-based tests of the whole API through the gateway, from its merged /openapi.json:
no 5xx and no response outside the documented schema, over 900+ generated requests.

Each operation is called with a real token of the role it needs (x-required-roles in the merged
document), so generated requests reach the services' own validation and logic.
"""
from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
import schemathesis
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tanhui_shared.settings import REPO_ROOT

from e2e_support import register_and_login

# per operation and mode (positive, negative): with ~70 operations, 10 each keeps the run near two
# minutes on a 2-core machine while every operation still gets both kinds of requests
EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Operations left out: none. (Two found by this test were fixed in the services: an unbounded
# ledger offset in accounts and unbounded activity figures for large events in credits.)
EXCLUDED: set[tuple[str, str]] = set()
# Registered through the API (verifiers and transit operators accredited by the platform's admin)
API_MADE = ("citizen", "enterprise", "project_developer", "verifier", "organizer", "transit_operator")
CLI_MADE = ("regulator", "admin")


@pytest.fixture(scope="module")
def role_tokens(platform) -> dict[str, str]:
    tokens = {}
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as gw:
        for role in API_MADE:
            _, auth = register_and_login(gw, role)
            tokens[role] = auth["Authorization"]
        kid = gw.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    # Regulators and admins are made by an operator's CLI: sign one of each as accounts would.
    key = serialization.load_pem_private_key(
        (REPO_ROOT / "tests" / "keys" / "test-signing-key.pem").read_bytes(), password=None)
    now = int(time.time())
    for role in CLI_MADE:
        token = jwt.encode({"sub": str(uuid.uuid4()), "role": role, "iss": "tanhui-accounts",
                            "aud": "tanhui", "iat": now, "nbf": now, "exp": now + 3600},
                           key, algorithm="RS256", headers={"kid": kid})
        tokens[role] = f"Bearer {token}"
    return tokens


@pytest.fixture(scope="module")
def merged_schema(platform):
    schema = schemathesis.openapi.from_url(platform.gateway_url + "/openapi.json")
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)
    return schema


def exercise(operation, mode: GenerationMode, headers: dict, failures: list[str]) -> int:
    """Up to EXAMPLES_PER_OPERATION generated requests to one operation; returns how many."""
    calls: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        calls.append(1)
        try:
            case.call_and_validate(headers=headers, timeout=30, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # collect them all, report at the end
            failures.append(f"{operation.label} ({mode.value}): "
                            f"{str(exc).strip().splitlines()[0]}\n    {case.as_curl_command()}")

    try:
        run()
    except Unsatisfiable:
        pass  # e.g. no negative request exists for an operation without parameters
    return len(calls)


def test_the_merged_api_never_fails_nor_breaks_its_schema(merged_schema, role_tokens):
    failures: list[str] = []
    sent = operations = 0
    started = time.monotonic()
    for result in merged_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        roles = operation.definition.raw.get("x-required-roles") or ["citizen"]
        headers = {"Authorization": role_tokens[roles[0]]}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent += exercise(operation, mode, headers, failures)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {sent} requests in {elapsed:.0f}s, {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])
    # Not vacuous: every operation was reached, most of them many times (10 examples per mode at
    # most; operations without parameters have few distinct requests): 966 over 58 in CI.
    assert operations >= 50, f"only {operations} operations in the merged schema"
    assert sent >= 12 * operations, f"only {sent} generated requests for {operations} operations"
