from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tanhui_credits.app import create_app
from tanhui_credits.events.handlers import HANDLERS, TOPICS
from tanhui_credits.settings import CreditsSettings
from tanhui_shared.contracts import CloudEvent, EventContract, MonitoringVerified, UserRegistered
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.messaging.outbox import OutboxMessage


class CreditsWorld:
    """The credits API in-process on a fresh PostgreSQL database, fed events the way the
    consumer applies them (inbox row + handler in one transaction)."""

    def __init__(self, url: str, signing_key) -> None:  # noqa: ANN001
        self.app = create_app(CreditsSettings(env="test", database_url=url))
        self.engine = self.app.state.engine
        self.signing_key = signing_key
        signing_key.trust_in(self.engine)
        self.http = TestClient(self.app)
        self.runner = ConsumerRunner(group="credits", topics=TOPICS, handlers=HANDLERS,
                                     engine=self.engine, dlq_topic="tanhui.credits.dlq",
                                     max_attempts=1)
        self.next_project = 1

    def deliver(self, contract: EventContract, event_id: str | None = None) -> str:
        """Apply one event as the consumer would; returns 'applied' or 'duplicate'."""
        envelope = CloudEvent(id=event_id or str(uuid.uuid4()), type=contract.TYPE,
                              source=contract.SOURCE, data=contract.model_dump(mode="json"))
        return self.runner.apply(SimpleNamespace(topic=contract.TOPIC, value=envelope.to_json()))

    def user(self, role: str = "project_developer") -> SimpleNamespace:
        user_id = str(uuid.uuid4())
        username = f"{role[:6]}-{uuid.uuid4().hex[:8]}"
        self.deliver(UserRegistered(user_id=user_id, username=username, role=role,
                                    subject_kind="person" if role == "citizen" else "organisation"))
        return SimpleNamespace(id=user_id, username=username,
                               headers=self.signing_key.headers(user_id, role, username))

    def verified(self, owner, tonnes: str | int, *, buffer_pct: str | int = 0,  # noqa: ANN001
                 project_number: int | None = None, vintage: int = 2025,
                 issuance_id: str | None = None) -> MonitoringVerified:
        if project_number is None:
            project_number, self.next_project = self.next_project, self.next_project + 1
        return MonitoringVerified(
            issuance_id=issuance_id or str(uuid.uuid4()), project_id=f"project-{project_number}",
            project_number=project_number, project_name=f"Longquan forest {project_number}",
            project_kind="afforestation", county="Longquanyi", owner_user_id=owner.id,
            owner_username=owner.username, monitoring_report_id=f"mr-{uuid.uuid4().hex[:6]}",
            verification_id=f"v-{uuid.uuid4().hex[:6]}", verifier_user_id="verifier-1",
            period_start=date(vintage, 1, 1), period_end=date(vintage, 12, 31), vintage=vintage,
            verified_tco2e=Decimal(str(tonnes)), buffer_pct=Decimal(str(buffer_pct)))

    def issue(self, owner, tonnes: int, **kwargs) -> MonitoringVerified:  # noqa: ANN001
        event = self.verified(owner, tonnes, **kwargs)
        assert self.deliver(event) == "applied"
        return event

    def holdings(self, user) -> dict:  # noqa: ANN001
        reply = self.http.get("/api/v1/holdings", headers=user.headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def outbox(self, event_type: str) -> list[dict]:
        with Session(self.engine) as session:
            rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.seq)).all()
        envelopes = [CloudEvent.model_validate_json(row.envelope) for row in rows]
        return [e.data for e in envelopes if e.type == event_type]


@pytest.fixture(scope="module")
def world(migrated_database, signing_key):
    made = CreditsWorld(migrated_database("credits"), signing_key)
    yield made
    made.engine.dispose()


@pytest.fixture
def fresh_world(migrated_database, signing_key):
    """A world of one's own, for tests that count rows across the whole database."""
    made = CreditsWorld(migrated_database("credits"), signing_key)
    yield made
    made.engine.dispose()
