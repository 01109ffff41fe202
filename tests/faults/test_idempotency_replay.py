"""One transfer sent 1,000 times in sequence and 50 times in parallel with one Idempotency-Key:
one effect, identical answers; the same key with another body is 422. On PostgreSQL."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from tanhui_credits.app import create_app
from tanhui_credits.events.handlers import HANDLERS, TOPICS
from tanhui_credits.settings import CreditsSettings
from tanhui_shared.contracts import CloudEvent, MonitoringVerified, UserRegistered
from tanhui_shared.messaging.consumer import ConsumerRunner

from fault_support import report


@pytest.fixture(scope="module")
def registry(migrated_database, signing_key):
    app = create_app(CreditsSettings(env="test", database_url=migrated_database("credits")))
    signing_key.trust_in(app.state.engine)
    runner = ConsumerRunner(group="credits", topics=TOPICS, handlers=HANDLERS,
                            engine=app.state.engine, dlq_topic="unused", max_attempts=1)

    def deliver(contract) -> None:
        envelope = CloudEvent(type=contract.TYPE, source=contract.SOURCE,
                              data=contract.model_dump(mode="json"))
        assert runner.apply(SimpleNamespace(topic=contract.TOPIC, value=envelope.to_json())) == "applied"

    def user(role: str) -> SimpleNamespace:
        person = SimpleNamespace(id=str(uuid.uuid4()), username=f"{role[:5]}-{uuid.uuid4().hex[:8]}")
        deliver(UserRegistered(user_id=person.id, username=person.username, role=role,
                               subject_kind="organisation"))
        person.headers = signing_key.headers(person.id, role, person.username)
        return person

    sender, receiver = user("project_developer"), user("enterprise")
    deliver(MonitoringVerified(
        issuance_id=str(uuid.uuid4()), project_id="p-idem", project_number=4242, project_name="idem",
        project_kind="afforestation", county="西充县", owner_user_id=sender.id,
        owner_username=sender.username, monitoring_report_id="mr", verification_id="v",
        verifier_user_id="vv", period_start=date(2025, 1, 1), period_end=date(2025, 12, 31),
        vintage=2025, verified_tco2e=Decimal(1000), buffer_pct=Decimal(0)))
    client = TestClient(app)
    yield SimpleNamespace(http=client, sender=sender, receiver=receiver)
    app.state.engine.dispose()


def total(registry, person) -> int:
    return registry.http.get("/api/v1/holdings", headers=person.headers).json()["total"]


def test_a_transfer_replayed_1000_times_in_sequence_moves_credits_once(registry):
    headers = {**registry.sender.headers, "Idempotency-Key": f"seq-{uuid.uuid4().hex}"}
    body = {"to_username": registry.receiver.username, "quantity": 7}
    before = total(registry, registry.receiver)
    answers = [registry.http.post("/api/v1/transfers", headers=headers, json=body) for _ in range(1000)]
    assert {a.status_code for a in answers} == {201}
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 999
    assert total(registry, registry.receiver) == before + 7
    other = registry.http.post("/api/v1/transfers", headers=headers,
                               json={**body, "quantity": 8})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    report("idempotency-sequential", requests=1000, effects=1)


def test_a_transfer_sent_50_times_in_parallel_moves_credits_once(registry):
    headers = {**registry.sender.headers, "Idempotency-Key": f"par-{uuid.uuid4().hex}"}
    body = {"to_username": registry.receiver.username, "quantity": 3}
    before = total(registry, registry.receiver)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: registry.http.post("/api/v1/transfers", headers=headers,
                                                              json=body), range(50)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {201}, statuses
    assert len({str(a.json()) for a in answers}) == 1, "every answer must be the first one"
    assert total(registry, registry.receiver) == before + 3
    report("idempotency-parallel", requests=50, effects=1)
