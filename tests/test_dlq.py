"""The DLQ tool on the local Kafka and PostgreSQL: dead letters are listed with their reason,
shown whole, and replayed through the consumer's own checks: once applied, a replay is a
duplicate; a forged event stays refused."""
from __future__ import annotations

import io
import json
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tanhui_credits.events.handlers import HANDLERS, TOPICS
from tanhui_credits.settings import CreditsSettings
from tanhui_shared.contracts import ACCOUNTS_TOPIC, CREDITS_TOPIC, CloudEvent, UserRegistered, qualified
from tanhui_shared.messaging.dlq import dlq_command
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.service import make_runner

pytestmark = pytest.mark.infra


def _registered(user_id: str) -> bytes:
    contract = UserRegistered(user_id=user_id, username=f"u-{user_id[:8]}", role="enterprise",
                              subject_kind="organisation")
    return CloudEvent(type=contract.TYPE, source=contract.SOURCE,
                      data=contract.model_dump(mode="json")).to_json()


def test_list_show_and_replay_dead_letters(infra, migrated_database, topic_namespace):
    url = migrated_database("credits")
    settings = CreditsSettings(env="test", database_url=url, topic_namespace=topic_namespace)
    runner = make_runner(settings, TOPICS, HANDLERS)
    producer = make_producer(infra.kafka_bootstrap, "dlq-test")
    owner = str(uuid.uuid4())
    lost = SimpleNamespace(topic=qualified(ACCOUNTS_TOPIC, topic_namespace), partition=3, offset=41,
                           key=owner.encode(), value=_registered(owner), headers=[("x-request-id", b"r-1")])
    # the same type claimed on credits' own topic: a forgery, refused however often it is replayed
    forged = SimpleNamespace(topic=qualified(CREDITS_TOPIC, topic_namespace), partition=0, offset=7,
                             key=b"f", value=_registered(str(uuid.uuid4())), headers=[])
    runner.dead_letter(producer, lost, "RuntimeError: the database rejected it (since fixed)")
    runner.dead_letter(producer, forged, "foreign topic: ...")
    producer.close()
    lost_id = json.loads(lost.value)["id"]

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = dlq_command(list(argv), lambda: make_runner(settings, TOPICS, HANDLERS),
                           infra.kafka_bootstrap, out)
        return code, out.getvalue()

    code, listing = run("list")
    assert code == 0 and "2 dead letter(s)" in listing
    line = next(row for row in listing.splitlines() if lost_id in row)
    assert "cn.tanhui.accounts.user_registered.v1" in line and "not applied" in line
    assert "the database rejected it" in line and f"{qualified(ACCOUNTS_TOPIC, topic_namespace)}@41" in line

    code, shown = run("show", lost_id)
    whole = json.loads(shown)
    assert whole["event"]["id"] == lost_id and whole["headers"]["x-request-id"] == "r-1"
    assert whole["headers"]["dlq-original-partition"] == "3"

    engine = sa.create_engine(url)
    accounts = "SELECT count(*) FROM holding_account WHERE owner_user_id = :o"
    with engine.connect() as conn:
        assert conn.execute(sa.text(accounts), {"o": owner}).scalar() == 0

    code, replayed = run("replay", lost_id)
    assert code == 0 and f"{lost_id}\tapplied" in replayed
    with engine.connect() as conn:
        assert conn.execute(sa.text(accounts), {"o": owner}).scalar() == 1  # the effect, once

    code, again = run("replay", lost_id)
    assert code == 0 and f"{lost_id}\tduplicate" in again

    code, everything = run("replay", "--all")  # only what is not applied: the forgery
    assert code == 1 and "refused: foreign topic" in everything and lost_id not in everything
    assert "replayed 1: 0 done, 1 refused" in everything
    with engine.connect() as conn:
        assert conn.execute(sa.text(accounts), {"o": owner}).scalar() == 1
    _, listing = run("list")
    assert "applied since" in next(row for row in listing.splitlines() if lost_id in row)
    engine.dispose()
    runner.engine.dispose()


def test_an_unknown_id_says_how_to_find_the_right_one(infra, migrated_database, topic_namespace):
    settings = CreditsSettings(env="test", database_url=migrated_database("credits"),
                               topic_namespace=topic_namespace)
    with pytest.raises(SystemExit, match="run `list` to see what is there"):
        dlq_command(["replay", "no-such-event"], lambda: make_runner(settings, TOPICS, HANDLERS),
                    infra.kafka_bootstrap, io.StringIO())
