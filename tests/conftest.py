"""Cross-service fixtures: the whole platform as real processes on real PostgreSQL and Kafka."""
from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from e2e_support import OFFICIALS, PASSWORD
from tanhui_accounts.cli import create_user
from tanhui_accounts.domain.identity import Role
from tanhui_shared.devstack import METRICS_OFFSETS, SERVICES, Stack
from tanhui_shared.messaging.kafka import namespace_topics
from tanhui_shared.settings import REPO_ROOT


# Each test process (pytest-xdist worker gw0, gw1, ... or the only one) takes ports from its own
# range of 2,000, forty a platform (the APIs' and the metrics ports, devstack.METRICS_OFFSETS),
# so two workers' platforms never collide; within it a random start, so separate runs side by side rarely do; all below Linux's ephemeral range (32768+),
# where free_port() picks, and never the `make up` ports (8000s).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_blocks = itertools.count(uuid.uuid4().int % 200)


def _next_port_block() -> int:
    return 20000 + (_WORKER % 6) * 2000 + (next(_blocks) % 50) * 40


@contextmanager
def running_platform(infra, migrated_database, var_dir,
                     extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """Ten processes (3 services x API/relay/consumer + gateway) on ports, databases and a Kafka
    topic namespace of their own; `extra_env` added to every process's environment."""
    namespace = f"e2e{uuid.uuid4().hex[:8]}"
    with namespace_topics(infra.kafka_bootstrap, namespace):
        yield from _platform_on(infra, migrated_database, var_dir, namespace, extra_env)


def _platform_on(infra, migrated_database, var_dir, namespace: str,
                 extra_env: dict[str, str] | None) -> Iterator[Stack]:
    offset = _next_port_block()
    stack = Stack(
        kafka_bootstrap=infra.kafka_bootstrap,
        redis_url=infra.redis_url,
        # copies of databases migrated once a session (the fixture's templates), at head already
        database_urls={svc: migrated_database(svc) for svc in SERVICES},
        var_dir=var_dir,
        gateway_port=offset,
        service_ports={svc: offset + i + 1 for i, svc in enumerate(SERVICES)},
        metrics_offsets=METRICS_OFFSETS,
        extra_env={"TANHUI_TOPIC_NAMESPACE": namespace, "TANHUI_ENV": "test",
                   "TANHUI_JWT_PRIVATE_KEY_FILE": str(REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"),
                   # Every test client is 127.0.0.1: the production limits (e.g. 20 logins a
                   # minute per address) would throttle the suite itself. The limits are tested
                   # on gateways of their own (tests/test_gateway_instances.py).
                   **{f"TANHUI_RATE_LIMIT_{c}": "1000000" for c in ("AUTH", "READ", "WRITE", "BATCH",
                                                                     "LOGIN_USERNAME")},
                   # and counters of its own in the shared Redis: the suite's requests must not
                   # use up the limits of a `make up` gateway running beside it
                   "TANHUI_RATE_LIMIT_PREFIX": f"{namespace}:rl",
                   # A citizen needs 100,000 points (101 days of capped trips) for one redemption:
                   # the test platform credits a season of trips so the saga can be driven; the
                   # default 7-day window is tested in services/accounts (test_trip_window.py).
                   "TANHUI_TRIP_CLAIM_WINDOW_DAYS": "366",
                   # argon2 at its minimum cost (a test-only setting; the production cost is
                   # asserted in services/accounts/tests/test_password_hash_cost.py)
                   "TANHUI_PASSWORD_HASH_COST": "test", **(extra_env or {})},
    )
    stack.namespace = namespace
    # The platform's administrator and regulator, made as operators make them (the CLI's
    # create_user): they accredit the verifiers and transit operators the tests need and
    # confirm enterprises' credit codes (e2e_support.accredit, confirm_enterprise).
    officials = {role.value: (f"ops-{role.value}-{namespace}", PASSWORD)
                 for role in (Role.ADMIN, Role.REGULATOR)}
    for role, (username, password) in officials.items():
        create_user(stack.database_urls["accounts"], username, password, Role(role))
    OFFICIALS[stack.gateway_url.rstrip("/")] = officials
    stack.start()
    try:
        stack.wait_ready(timeout_s=90)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def platform_with(infra, migrated_database):
    """`with platform_with(var_dir, extra_env) as stack:` a platform of one's own, its processes
    given `extra_env` (e.g. a tracing exporter). A fixture, not an import of this conftest: in a
    whole run `conftest` may name another directory's."""
    def start(var_dir, extra_env: dict[str, str] | None = None):
        return running_platform(infra, migrated_database, var_dir, extra_env)
    return start


@pytest.fixture(scope="session")
def platform(infra, migrated_database, tmp_path_factory):
    """The platform shared by every cross-service test of the run."""
    with running_platform(infra, migrated_database, tmp_path_factory.mktemp("platform")) as stack:
        yield stack


@pytest.fixture(scope="module")
def own_platform(infra, migrated_database, tmp_path_factory):
    """A platform for one module's tests alone, for those whose figures another test's
    activity would change (e.g. the city's carbon-inclusion pool)."""
    with running_platform(infra, migrated_database, tmp_path_factory.mktemp("own-platform")) as stack:
        yield stack
