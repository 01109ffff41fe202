"""Test helpers for verification: an in-process service, a few actors, request bodies.

A uniquely named module (not conftest) so that `import` finds it beside other suites' conftests.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tanhui_verification.app import create_app
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
