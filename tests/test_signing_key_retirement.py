"""A token-signing key can be retired (issue 12, item 5). accounts signs with a current key and
still publishes a previous one; the operator retires the previous one with the CLI. accounts
drops it from its JWKS and refuses it, the retirement travels through accounts' outbox and real
Kafka to credits' real consumer loop, and credits refuses tokens it signed within a bounded
time, while the current key keeps working everywhere."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import tanhui_credits.events.handlers as credits_events
from tanhui_accounts.app import create_app as create_accounts_app
from tanhui_accounts.security import SigningKey, write_new_signing_key
from tanhui_accounts.settings import AccountsSettings
from tanhui_credits.app import create_app as create_credits_app
from tanhui_credits.settings import CreditsSettings
from tanhui_shared.contracts import dlq_topic
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.messaging.relay import OutboxRelay
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.web.trusted_keys import KEY_CACHE_TTL_S

CURRENT_KEY = REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"


@pytest.fixture
def keys(tmp_path):
    previous = tmp_path / "previous-signing-key.pem"
    write_new_signing_key(previous)
    return SigningKey.from_pem(CURRENT_KEY.read_bytes()), SigningKey.from_pem(previous.read_bytes()), \
        previous


def token(key: SigningKey, user_id: str) -> dict[str, str]:
    signed = key.issue({"sub": user_id, "role": "citizen", "preferred_username": "someone"}, 600,
                       "tanhui-accounts", "tanhui")
    return {"Authorization": f"Bearer {signed}"}


# a user nobody registered: a token the service accepts gets its own "no such user" answer
ACCEPTED = {"/api/v1/me": "this token's user no longer exists",
            "/api/v1/holdings": "no holding account yet"}


def verdict(http, path: str, key: SigningKey, user_id: str) -> str:  # noqa: ANN001
    reply = http.get(path, headers=token(key, user_id))
    if reply.status_code == 401:
        assert "unknown key" in reply.json()["detail"], reply.text
        return "refused"
    assert reply.status_code == 404 and ACCEPTED[path] in reply.json()["detail"], reply.text
    return "accepted"


def trusted_kids(engine, retired: bool) -> set[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            f"SELECT kid FROM trusted_signing_key WHERE retired_at IS {'NOT ' if retired else ''}NULL"
        )).scalars())


def retire_cli(accounts_url: str, kid: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TANHUI_ENV": "test", "TANHUI_DATABASE_URL": accounts_url,
           "TANHUI_JWT_PRIVATE_KEY_FILE": str(CURRENT_KEY)}
    return subprocess.run([sys.executable, "-m", "tanhui_accounts.cli", "retire-signing-key", kid],
                          env=env, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def wait_until(condition, timeout_s: float, what: str) -> float:  # noqa: ANN001
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"{what}: not within {timeout_s}s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_retired_signing_key_leaves_the_jwks_and_is_refused_by_accounts_and_credits(
        infra, migrated_database, topic_namespace, keys):
    current, previous, previous_file = keys
    accounts_url, credits_url = migrated_database("accounts"), migrated_database("credits")
    accounts = create_accounts_app(AccountsSettings(
        env="test", database_url=accounts_url, jwt_private_key_file=CURRENT_KEY,
        jwt_previous_key_files=[previous_file]))
    credits = create_credits_app(CreditsSettings(env="test", database_url=credits_url))
    credits_db = credits.state.engine
    producer = make_producer(infra.kafka_bootstrap, "accounts-relay")
    relay = OutboxRelay(accounts.state.engine, producer, namespace=topic_namespace)
    runner = ConsumerRunner(group="credits", topics=credits_events.TOPICS,
                            handlers=credits_events.HANDLERS, engine=credits_db,
                            dlq_topic=dlq_topic("credits"), max_attempts=1,
                            namespace=topic_namespace, session_timeout_ms=6_000)
    stop = threading.Event()
    consumer = threading.Thread(target=runner.run, daemon=True, args=(
        infra.kafka_bootstrap, lambda: make_producer(infra.kafka_bootstrap, "credits-dlq"), stop))
    consumer.start()
    user_id = str(uuid.uuid4())
    try:
        with TestClient(accounts) as accounts_http, TestClient(credits) as credits_http:
            assert relay.publish_batch() >= 2  # SigningKeyPublished of both keys
            wait_until(lambda: {current.kid, previous.kid} <= trusted_kids(credits_db, False), 60,
                       "credits trusts both keys")
            published = {k["kid"] for k in accounts_http.get("/.well-known/jwks.json").json()["keys"]}
            assert published == {current.kid, previous.kid}
            for key in (current, previous):  # both honoured (and now cached) on both sides
                assert verdict(accounts_http, "/api/v1/me", key, user_id) == "accepted"
                assert verdict(credits_http, "/api/v1/holdings", key, user_id) == "accepted"

            in_use = retire_cli(accounts_url, current.kid)
            assert in_use.returncode == 1 and "rotate" in in_use.stderr, in_use.stderr
            unknown = retire_cli(accounts_url, "no-such-kid")
            assert unknown.returncode == 1 and "no signing key" in unknown.stderr, unknown.stderr
            retired = retire_cli(accounts_url, previous.kid)
            assert retired.returncode == 0, retired.stderr
            retired_at = time.monotonic()
            assert previous.kid in retired.stdout
            assert retire_cli(accounts_url, previous.kid).returncode == 0  # again: no second event

            jwks = accounts_http.get("/.well-known/jwks.json").json()["keys"]
            assert [k["kid"] for k in jwks] == [current.kid]
            accounts_took = wait_until(
                lambda: verdict(accounts_http, "/api/v1/me", previous, user_id) == "refused",
                KEY_CACHE_TTL_S + 5, "accounts refuses the retired key")

            assert relay.publish_batch() == 1  # one SigningKeyRetired, however often retired
            credits_took = wait_until(
                lambda: verdict(credits_http, "/api/v1/holdings", previous, user_id) == "refused",
                KEY_CACHE_TTL_S + 30, "credits refuses the retired key")
            total = time.monotonic() - retired_at
            assert trusted_kids(credits_db, True) == {previous.kid}
            # the current key is untouched
            assert verdict(accounts_http, "/api/v1/me", current, user_id) == "accepted"
            assert verdict(credits_http, "/api/v1/holdings", current, user_id) == "accepted"
            print(f"\n[key-retirement] accounts refused after {accounts_took:.1f}s, credits "
                  f"{credits_took:.1f}s after the relay ({total:.1f}s after the CLI); cache bound "
                  f"{KEY_CACHE_TTL_S:.0f}s")
    finally:
        stop.set()
        consumer.join(timeout=30)
        producer.close()
        accounts.state.engine.dispose()
        credits_db.dispose()
