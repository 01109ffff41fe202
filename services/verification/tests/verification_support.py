"""Test helpers for verification: an in-process service, a few actors, request bodies.

A uniquely named module (not conftest) so that `import` finds it beside other suites' conftests.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from kafka.consumer.fetcher import ConsumerRecord

from tanhui_shared.contracts import CREDITS_TOPIC, CloudEvent, CreditsIssued
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_verification.app import create_app
from tanhui_verification.events.handlers import HANDLERS, TOPICS
from tanhui_verification.settings import VerificationSettings

DEV = ("dev-1", "project_developer", "lin.forest")
OTHER_DEV = ("dev-2", "project_developer", "wang.bamboo")
REVIEWER = ("ver-1", "verifier", "zhao.review")
AUDITOR = ("ver-2", "verifier", "qian.audit")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def filing(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Longquan afforestation phase I", "kind": "afforestation", "county": "Longquan",
        "area_ha": "1250.5", "forest_rights_holder": "Longquan Forestry Co-op",
        "forest_rights_certificate": "ZJ-LQ-2021-000123", "crediting_start": "2021-01-01",
        "crediting_years": 30, "description": "Fir and pine on former cropland.",
        "documents": [{"name": "design.pdf", "sha256": sha("design")}],
    }
    return {**body, **overrides}


def monitoring(**overrides: Any) -> dict[str, Any]:
    body = {"period_start": "2022-01-01", "period_end": "2022-12-31",
            "project_sink_tco2e": "5200.5", "baseline_sink_tco2e": "800.25",
            "leakage_tco2e": "100", "documents": [{"name": "mr-2022.pdf", "sha256": sha("mr")}]}
    return {**body, **overrides}


@dataclass
class Service:
    client: TestClient
    engine: sa.Engine
    signing_key: Any

    def as_(self, actor: tuple[str, str, str]) -> dict[str, str]:
        return self.signing_key.headers(*actor)

    def post(self, path: str, actor, body: dict | None = None, **headers: str):
        return self.client.post(path, json=body if body is not None else {},
                                headers={**self.as_(actor), **headers})

    def get(self, path: str, actor=None, **params: Any):
        return self.client.get(path, headers=self.as_(actor) if actor else {}, params=params)

    def count(self, table: str, where: str = "true", **params: Any) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"),
                                params).scalar_one()

    # --- the happy path, step by step ---------------------------------------------------------
    def filed(self, actor=DEV, **overrides: Any) -> dict:
        reply = self.post("/api/v1/projects", actor, filing(**overrides))
        assert reply.status_code == 201, reply.text
        return reply.json()

    def submitted(self, actor=DEV, **overrides: Any) -> dict:
        project = self.filed(actor, **overrides)
        reply = self.post(f"/api/v1/projects/{project['id']}/submit", actor)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def registered(self, actor=DEV, reviewer=REVIEWER, buffer_pct: str = "20",
                   **overrides: Any) -> dict:
        project = self.submitted(actor, **overrides)
        reply = self.post(f"/api/v1/projects/{project['id']}/reviews", reviewer,
                          {"decision": "approve", "comments": "design conforms",
                           "buffer_pct": buffer_pct})
        assert reply.status_code == 201, reply.text
        return reply.json()

    def reported(self, project: dict, actor=DEV, **overrides: Any) -> dict:
        reply = self.post(f"/api/v1/projects/{project['id']}/monitoring-reports", actor,
                          monitoring(**overrides))
        assert reply.status_code == 201, reply.text
        return reply.json()


def make_service(url: str, signing_key, **settings: Any) -> Service:
    app = create_app(VerificationSettings(env="test", database_url=url, **settings))
    signing_key.trust_in(app.state.engine)
    return Service(TestClient(app), app.state.engine, signing_key)


# --- credits' side: CreditsIssued through the real consumer path ----------------------------

def consumer_runner(svc) -> ConsumerRunner:
    return ConsumerRunner(group="verification", topics=TOPICS, handlers=HANDLERS,
                          engine=svc.engine, dlq_topic="tanhui.verification.dlq",
                          max_attempts=1, backoff_s=0)


def kafka_record(issued: CreditsIssued, event_id: str | None = None) -> ConsumerRecord:
    envelope = CloudEvent(type=issued.TYPE, source=issued.SOURCE, subject=issued.aggregate_id(),
                          data=issued.model_dump(mode="json"),
                          **({"id": event_id} if event_id else {}))
    return ConsumerRecord(CREDITS_TOPIC, 0, None, 0, 0, 0, issued.project_id.encode(),
                          envelope.to_json(), [], None, 0, 0, 0)


def credits_issued(report: dict, quantity: int = 3300) -> CreditsIssued:
    return CreditsIssued(
        issuance_id=report["issuance_id"], project_id=report["project_id"],
        monitoring_report_id=report["id"], vintage=2022, owner_user_id="dev-1",
        quantity=quantity, buffer_quantity=800,
        serial_first="NC-FS-0001-2022-000000001", serial_last=f"NC-FS-0001-2022-{quantity:09d}",
        issued_at=datetime(2023, 3, 1, 8, 0, tzinfo=UTC))


def verified_report(svc) -> dict:
    report = svc.reported(svc.registered())
    reply = svc.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", AUDITOR,
                     {"decision": "verified", "verified_tco2e": "4100", "comments": "ok"})
    assert reply.status_code == 201, reply.text
    return reply.json()
