"""Events only from their owners (issue 12, item 5). A plain, unauthenticated client that can
reach the broker writes forged events onto the platform's topics: a `ReportFiled` naming the
attacker as a member of an enterprise, and a `SigningKeyPublished` of the attacker's own key,
each onto another service's topic or with a foreign `source`. The real consumer loops of credits
and verification (their own handler tables, real Kafka, real PostgreSQL) dead-letter every one
with the reason, apply none, and go on applying the genuine event behind them."""
from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import tanhui_credits.events.handlers as credits_events
import tanhui_verification.events.handlers as verification_events
from tanhui_credits.app import create_app as create_credits_app
from tanhui_credits.settings import CreditsSettings
from tanhui_shared.contracts import (ACCOUNTS_TOPIC, CREDITS_TOPIC, VERIFICATION_TOPIC, CloudEvent,
                                     EventContract, ReportFiled, SigningKeyPublished, dlq_topic,
                                     qualified)
from tanhui_shared.db import make_engine
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.messaging.kafka import make_producer
from tanhui_shared.testing.kafka_reader import read_topic
from tanhui_shared.testing.tokens import TestSigningKey

from fault_support import report, wait_for

GROUPS = {"credits": credits_events, "verification": verification_events}


@pytest.fixture
def consumers(infra, migrated_database, topic_namespace):
    """credits' and verification's consumer loops on databases of their own, in threads."""
    urls = {group: migrated_database(group) for group in GROUPS}
    engines = {group: make_engine(url, pool_size=2) for group, url in urls.items()}
    stop = threading.Event()
    threads = []
    for group, events in GROUPS.items():
        runner = ConsumerRunner(group=group, topics=events.TOPICS, handlers=events.HANDLERS,
                                engine=engines[group], dlq_topic=dlq_topic(group), max_attempts=1,
                                namespace=topic_namespace, session_timeout_ms=6_000)
        thread = threading.Thread(target=runner.run, daemon=True, args=(
            infra.kafka_bootstrap, lambda g=group: make_producer(infra.kafka_bootstrap, f"{g}-dlq"),
            stop))
        thread.start()
        threads.append(thread)
    yield SimpleNamespace(urls=urls, engines=engines, namespace=topic_namespace)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for engine in engines.values():
        engine.dispose()


def envelope(contract: EventContract, source: str) -> CloudEvent:
    return CloudEvent(type=contract.TYPE, source=source, subject=contract.aggregate_id(),
                      data=contract.model_dump(mode="json"))


def count(engine, sql: str, **params) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def test_forged_events_on_foreign_topics_or_from_foreign_sources_are_dead_lettered_not_applied(
        consumers, infra):
    ns, marker = consumers.namespace, uuid.uuid4().hex
    attacker_key = TestSigningKey()
    forged_report = ReportFiled(
        report_id=f"forged-{marker}", enterprise_id="ent-victim", enterprise_name="Victim Steel",
        period="2025", revision=1, total_tco2e=Decimal("0"), member_user_ids=["attacker"])
    forged_key = SigningKeyPublished(kid=attacker_key.kid, jwk=attacker_key.jwk)
    genuine_report = ReportFiled(
        report_id=f"genuine-{marker}", enterprise_id="ent-real", enterprise_name="Real Cement",
        period="2025", revision=1, total_tco2e=Decimal("12.5"), member_user_ids=["member"])
    genuine = envelope(genuine_report, ReportFiled.SOURCE)
    # (what, topic, envelope, {group: expected dlq-error})
    forged = [
        ("report on verification's topic", VERIFICATION_TOPIC, envelope(forged_report, "/attacker"),
         {"credits": f"foreign topic: {ReportFiled.TYPE} is published only on "
                     f"{ns}.{ACCOUNTS_TOPIC}, not on {ns}.{VERIFICATION_TOPIC}"}),
        ("report on credits' topic", CREDITS_TOPIC, envelope(forged_report, "/services/credits"),
         {"verification": f"foreign topic: {ReportFiled.TYPE} is published only on "
                          f"{ns}.{ACCOUNTS_TOPIC}, not on {ns}.{CREDITS_TOPIC}"}),
        ("report from verification's source", ACCOUNTS_TOPIC,
         envelope(forged_report, "/services/verification"),
         {group: f"foreign source: {ReportFiled.TYPE} comes only from /services/accounts, not "
                 f"from /services/verification" for group in ("credits", "verification")}),
        ("key on verification's topic", VERIFICATION_TOPIC, envelope(forged_key, "/attacker"),
         {"credits": f"foreign topic: {SigningKeyPublished.TYPE} is published only on "
                     f"{ns}.{ACCOUNTS_TOPIC}, not on {ns}.{VERIFICATION_TOPIC}"}),
        ("key from a foreign source", ACCOUNTS_TOPIC, envelope(forged_key, "/attacker"),
         {group: f"foreign source: {SigningKeyPublished.TYPE} comes only from "
                 f"/services/accounts, not from /attacker" for group in ("credits", "verification")}),
    ]
    attacker = make_producer(infra.kafka_bootstrap, "attacker")
    try:
        for _, topic, event, _ in forged:
            attacker.send(qualified(topic, ns), key=marker.encode(), value=event.to_json()).get(timeout=30)
        # the genuine event behind them, on the same partition of accounts' topic
        attacker.send(qualified(ACCOUNTS_TOPIC, ns), key=marker.encode(),
                      value=genuine.to_json()).get(timeout=30)
    finally:
        attacker.close()

    expected = {group: sorted(reason for *_, reasons in forged for g, reason in reasons.items()
                              if g == group) for group in GROUPS}

    def dead_lettered() -> dict[str, list[str]]:
        return {group: sorted(dict(r.headers)["dlq-error"].decode() for r in
                              read_topic(infra.kafka_bootstrap, qualified(dlq_topic(group), ns))
                              if r.key == marker.encode()) for group in GROUPS}

    credits_db = consumers.engines["credits"]
    took = wait_for(lambda: dead_lettered() == expected and count(
        credits_db, "SELECT count(*) FROM filed_report WHERE id = :id",
        id=genuine_report.report_id) == 1, timeout_s=90, what="forged events dead-lettered, "
        "the genuine one applied")
    report("forged", dlq_credits=len(expected["credits"]),
           dlq_verification=len(expected["verification"]), seconds=took)

    # nothing forged was applied: no report, no trusted key, no inbox row
    forged_ids = [event.id for _, _, event, _ in forged]
    for group, engine in consumers.engines.items():
        assert count(engine, "SELECT count(*) FROM trusted_signing_key WHERE kid = :kid",
                     kid=attacker_key.kid) == 0, group
        assert count(engine, "SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)",
                     ids=forged_ids) == 0, group
    assert count(credits_db, "SELECT count(*) FROM filed_report WHERE id = :id",
                 id=forged_report.report_id) == 0
    assert count(credits_db, "SELECT count(*) FROM inbox WHERE event_id = :id", id=genuine.id) == 1
    # each dead letter says where it came from
    for record in read_topic(infra.kafka_bootstrap, qualified(dlq_topic("credits"), ns)):
        headers = dict(record.headers)
        assert headers["dlq-group"] == b"credits"
        assert headers["dlq-original-topic"].decode() in {qualified(ACCOUNTS_TOPIC, ns),
                                                          qualified(VERIFICATION_TOPIC, ns)}

    # and a token the attacker signs with its key is refused by credits
    app = create_credits_app(CreditsSettings(env="test", database_url=consumers.urls["credits"]))
    try:
        with TestClient(app) as http:
            reply = http.get("/api/v1/holdings", headers=attacker_key.headers("attacker", "enterprise"))
        assert reply.status_code == 401, reply.text
        assert "unknown key" in reply.json()["detail"]
    finally:
        app.state.engine.dispose()
