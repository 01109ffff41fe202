"""Test helpers for verification: an in-process service, a few actors, request bodies.

A uniquely named module (not conftest) so that `import` finds it beside other suites' conftests.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from kafka.consumer.fetcher import ConsumerRecord

from tanhui_shared.contracts import AccreditationGranted, CloudEvent, CreditsIssued, EventContract
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.uow import in_unit_of_work
from tanhui_verification.app import create_app
from tanhui_verification.events.handlers import HANDLERS, TOPICS
from tanhui_verification.settings import VerificationSettings
from tanhui_verification.usecases.accreditation import record_accreditation_granted

DEV = ("dev-1", "project_developer", "lin.forest")
OTHER_DEV = ("dev-2", "project_developer", "wang.bamboo")
REVIEWER = ("ver-1", "verifier", "zhao.review")
AUDITOR = ("ver-2", "verifier", "qian.audit")

CERTIFICATE = "浙(2021)龙泉市林权证第0001234号"
# the seven spellings of one certificate: spaces, case, full-width characters, a
# zero-width space, and the bracket styles a clerk may type
VARIANTS = [
    "浙 (2021) 龙泉市林权证第 0001234 号",
    "浙（２０２１）龙泉市林权证第０００１２３４号",
    "浙(2021)龙泉市林权证第\u200b0001234号",
    "浙〔2021〕龙泉市林权证第0001234号",
    "浙【2021】龙泉市林权证第0001234号",
    "\ufeff浙(2021)龙泉市林权证第0001234号\u3000",
    "浙(2021)龙泉市林权证第\u00ad0001234\u2060号",
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def filing(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Longquan afforestation phase I", "kind": "afforestation", "vegetation": "tree",
        "county": "Longquan",
        "area_ha": "1250.5", "forest_rights_holder": "Longquan Forestry Co-op",
        "forest_rights_certificate": "ZJ-LQ-2021-000123", "crediting_start": "2021-01-01",
        "crediting_years": 30, "description": "Fir and pine on former cropland.",
        "documents": [{"name": "design.pdf", "sha256": sha("design")}],
        # CCER-14-001-V01 land eligibility: non-forest since 3 years before the start, at least
        # 400 m2 parcels, no wetland, no burning
        "non_forest_since": "2018-01-01", "smallest_parcel_m2": "2500",
        "land_is_wetland": False, "burning_site_preparation": False,
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


def make_service(url: str, signing_key, accredited: Iterable[tuple[str, str, str]] = (
        REVIEWER, AUDITOR), **settings: Any) -> Service:
    """The service on `url`; the `accredited` verifiers hold a grant valid today."""
    app = create_app(VerificationSettings(env="test", database_url=url, **settings))
    signing_key.trust_in(app.state.engine)
    service = Service(TestClient(app), app.state.engine, signing_key)
    for actor in accredited:
        accredit(service, actor)
    return service


# --- accounts' side: verifier accreditations ---------------------------------------------------

def grant(actor: tuple[str, str, str], *, valid_from: date = date(2020, 1, 1),
          valid_to: date = date(2099, 12, 31), role: str = "verifier",
          number: str | None = None, accreditation_id: str | None = None,
          organisation: str = "Zhejiang Forestry Carbon Verification Centre",
          ) -> AccreditationGranted:
    """What accounts publishes when an admin accredits `actor` (user id, role, username)."""
    accreditation_id = accreditation_id or str(uuid.uuid4())
    return AccreditationGranted(
        accreditation_id=accreditation_id, user_id=actor[0], username=actor[2], role=role,
        organisation=organisation, number=number or f"CNCA-V-{accreditation_id[:8]}",
        valid_from=valid_from, valid_to=valid_to, granted_at=datetime.now(UTC))


def accredit(svc, actor: tuple[str, str, str], **overrides: Any) -> AccreditationGranted:
    """Record a grant through the use case the AccreditationGranted handler calls."""
    granted = grant(actor, **overrides)
    in_unit_of_work(svc.engine, lambda uow: record_accreditation_granted(uow, granted))
    return granted


# --- credits' side: CreditsIssued through the real consumer path ----------------------------

def consumer_runner(svc) -> ConsumerRunner:
    return ConsumerRunner(group="verification", topics=TOPICS, handlers=HANDLERS,
                          engine=svc.engine, dlq_topic="tanhui.verification.dlq",
                          max_attempts=1, backoff_s=0)


def kafka_record(event: EventContract, event_id: str | None = None) -> ConsumerRecord:
    """`event` as its owner publishes it: on its topic, from its source, keyed by aggregate."""
    envelope = CloudEvent(type=event.TYPE, source=event.SOURCE, subject=event.aggregate_id(),
                          data=event.model_dump(mode="json"),
                          **({"id": event_id} if event_id else {}))
    return ConsumerRecord(event.TOPIC, 0, None, 0, 0, 0, event.aggregate_id().encode(),
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
