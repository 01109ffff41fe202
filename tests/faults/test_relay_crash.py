"""accounts' outbox relay dies between publishing and marking (SIGKILL-like, at a crash point)
and is restarted: business transactions = outbox rows = effects applied by credits."""
from __future__ import annotations

import uuid

from sqlalchemy import text

from tanhui_accounts.domain.identity import Role
from tanhui_accounts.usecases.identity import register_user
from tanhui_shared.db import make_engine
from tanhui_shared.devstack import Stack
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.uow import in_unit_of_work

from fault_support import report, wait_for

USERS = 300


def scalar(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_a_relay_killed_between_publish_and_mark_leaves_every_effect_applied_once(
        infra, topic_namespace, migrated_database, tmp_path):
    namespace = topic_namespace
    urls = {"accounts": migrated_database("accounts"), "credits": migrated_database("credits")}
    stack = Stack(kafka_bootstrap=infra.kafka_bootstrap, database_urls=urls, var_dir=tmp_path,
                  extra_env={"TANHUI_TOPIC_NAMESPACE": namespace, "TANHUI_ENV": "test",
                             # batches of 100: the first is marked, the second sent and not marked
                             "TANHUI_RELAY_BATCH_SIZE": "100",
                             "TANHUI_CRASH_AT": "relay.after_publish:2",
                             "TANHUI_JWT_PRIVATE_KEY_FILE": str(REPO_ROOT / "tests" / "keys" /
                                                                "test-signing-key.pem")})
    accounts, credits = make_engine(urls["accounts"]), make_engine(urls["credits"])
    try:
        for batch in range(USERS // 50):  # committed business transactions: registrations
            in_unit_of_work(accounts, lambda uow, batch=batch: [
                register_user(uow, f"crash-{batch}-{i}-{uuid.uuid4().hex[:6]}", "-",
                              Role.CITIZEN if i % 2 else Role.ORGANIZER) for i in range(50)])
        stack.start(only=["accounts-relay", "credits-consumer"])
        relay = stack.processes["accounts-relay"]
        assert relay.popen.wait(timeout=60) == 137, "the relay should die at its crash point"
        resent_before = scalar(accounts, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        relay.env = {k: v for k, v in relay.env.items() if k != "TANHUI_CRASH_AT"}
        stack.start_process("accounts-relay")
        took = wait_for(lambda: scalar(credits, "SELECT count(*) FROM holding_account "
                                                "WHERE owner_username LIKE 'crash-%'") == USERS,
                        90, "every registration's holding account")
    finally:
        stack.stop()

    registered = scalar(accounts, "SELECT count(*) FROM user_account")
    outbox = scalar(accounts, "SELECT count(*) FROM outbox WHERE envelope LIKE '%user_registered%'")
    opened = scalar(credits, "SELECT count(*) FROM holding_account WHERE owner_username LIKE 'crash-%'")
    applied = scalar(credits, "SELECT count(*) FROM inbox WHERE event_type LIKE '%user_registered%'")
    report("relay-crash", registrations=registered, outbox_rows=outbox, holding_accounts=opened,
           inbox_rows=applied, unmarked_at_crash=resent_before, seconds_to_apply=took)
    assert resent_before == USERS - 100, "the crash should have left published rows unmarked"
    assert registered == outbox == opened == applied == USERS
    accounts.dispose()
    credits.dispose()
