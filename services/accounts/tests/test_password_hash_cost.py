"""Passwords are hashed at argon2's production cost unless the platform is a test one that asks
for the cheap cost (TANHUI_PASSWORD_HASH_COST=test, which the suite's platforms set)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from tanhui_accounts import security
from tanhui_accounts.settings import AccountsSettings
from tanhui_shared.settings import REPO_ROOT

KEY = REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"
# named, never opened: CI sets no TANHUI_DATABASE_URL, and outside development one is required
DATABASE = "postgresql+psycopg://unused@127.0.0.1/unused"
# what else a production accounts service must be given, so the settings validate
PRODUCTION = {"env": "production", "database_url": DATABASE, "jwt_private_key_file": KEY,
              "kafka_security_protocol": "SASL_SSL",
              "kafka_sasl_username": "accounts", "kafka_sasl_password": "a-secret"}


@pytest.fixture
def restore_cost():
    before = security._hasher
    yield
    security._hasher = before


def test_production_hashes_at_the_production_cost(restore_cost):
    settings = AccountsSettings(**PRODUCTION)
    assert settings.password_hash_cost == "production"  # the default
    hasher = security.use_password_hash_cost(settings)
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (2, 19 * 1024, 1)
    stored = security.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
    assert security.password_matches(stored, "correct horse battery")
    assert not security.password_matches(stored, "correct horse batter")
    assert not security.password_matches(None, "correct horse battery")


@pytest.mark.parametrize("env", ["production", "development"])
def test_the_cheap_cost_is_refused_outside_test_platforms(env):
    with pytest.raises(ValidationError, match="test platforms only"):
        AccountsSettings(**{**PRODUCTION, "env": env, "password_hash_cost": "test"})


def test_a_test_platform_hashes_cheaply_and_still_verifies_production_hashes(restore_cost):
    production = security.PRODUCTION_HASHER.hash("correct horse battery")
    security.use_password_hash_cost(AccountsSettings(
        env="test", database_url=DATABASE, jwt_private_key_file=KEY, password_hash_cost="test"))
    stored = security.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$"), stored
    # a hash carries its parameters: those made at either cost are checked at their own
    assert security.password_matches(stored, "correct horse battery")
    assert security.password_matches(production, "correct horse battery")
    assert not security.password_matches(production, "correct horse batter")
