"""Forestry losses end to end (issue 13), through the gateway and real Kafka: a fire reported by
the developer and confirmed by an accredited verifier, then a reversal in a monitoring period,
each compensated by the registry (LossVerified -> BufferCompensated) from the buffer pool first
and the developer's holdings next, visible in the public registry and on the project."""
from __future__ import annotations

import uuid

import httpx
import pytest

from e2e_support import eventually, register_and_login

LAND = {"vegetation": "tree", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False}


@pytest.fixture(scope="module")
def gw(own_platform):
    # A platform of its own: the buffer pool holds this project's credits and nobody else's.
    with httpx.Client(base_url=own_platform.gateway_url, timeout=30) as client:
        yield client


def _retry_401(gw, method, path, headers, **kwargs):
    return eventually(lambda: gw.request(method, path, headers=headers, **kwargs),
                      lambda r: r.status_code != 401, what=f"{method} {path} accepting the token")


def test_a_fire_and_a_reversal_are_compensated_from_the_pool_then_the_developer(gw):
    _, dev = register_and_login(gw, "project_developer")
    _, reviewer = register_and_login(gw, "verifier")
    _, auditor = register_and_login(gw, "verifier")
    project = _retry_401(gw, "POST", "/api/v1/projects", dev, json={
        "name": "西充县造林", "kind": "afforestation", "county": "西充县", "area_ha": "820.5",
        "forest_rights_holder": "西充县林场", "crediting_start": "2020-01-01",
        "forest_rights_certificate": f"川(2024)西充林权第{uuid.uuid4().hex[:8]}号",
        "crediting_years": 30, **LAND})
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    assert gw.post(f"/api/v1/projects/{pid}/submit", headers=dev).status_code == 200
    assert gw.post(f"/api/v1/projects/{pid}/reviews", headers=reviewer, json={
        "decision": "approve", "comments": "ok", "buffer_pct": "20"}).status_code == 201
    report = gw.post(f"/api/v1/projects/{pid}/monitoring-reports", headers=dev, json={
        "period_start": "2023-01-01", "period_end": "2023-12-31", "project_sink_tco2e": "1500.5",
        "baseline_sink_tco2e": "200", "leakage_tco2e": "50.25"}).json()
    # 1250.25 t: floor(1250.25 x 0.8) = 1000 credits to the developer, 1250 - 1000 = 250 buffer
    assert gw.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", headers=auditor,
                   json={"decision": "verified", "verified_tco2e": "1250.25"}).status_code == 201
    eventually(lambda: gw.get(f"/api/v1/monitoring-reports/{report['id']}"),
               lambda r: r.json().get("state") == "issued", what="CreditsIssued")

    loss = gw.post(f"/api/v1/projects/{pid}/loss-events", headers=dev, json={
        "cause": "fire", "occurred_on": "2024-03-01", "area_ha": "35",
        "estimated_tco2e": "280"})
    assert loss.status_code == 201, loss.text
    lid = loss.json()["id"]
    # the verifier maps the burn scar at 300.5 t: ceil(300.5) = 301 credits = 250 from the pool
    # (all of it: only this project's buffer is in it) + 51 from the developer's 1000
    assert gw.post(f"/api/v1/loss-events/{lid}/verifications", headers=auditor, json={
        "decision": "confirmed", "verified_tco2e": "300.5"}).status_code == 201
    done = eventually(lambda: gw.get(f"/api/v1/loss-events/{lid}"),
                      lambda r: r.json().get("state") == "compensated", what="BufferCompensated")
    assert (done.json()["from_pool"], done.json()["from_developer"], done.json()["shortfall"]) == \
        (250, 51, 0)
    assert _retry_401(gw, "GET", "/api/v1/holdings", dev).json()["total"] == 1000 - 51

    # a reversal: 100 - 250 - 0 = -150 t; verified at -150: 150 credits, the pool is empty now
    reversal = gw.post(f"/api/v1/projects/{pid}/monitoring-reports", headers=dev, json={
        "period_start": "2024-01-01", "period_end": "2024-12-31", "project_sink_tco2e": "100",
        "baseline_sink_tco2e": "250", "leakage_tco2e": "0"}).json()
    assert reversal["reversal"] is True
    assert gw.post(f"/api/v1/monitoring-reports/{reversal['id']}/verifications", headers=auditor,
                   json={"decision": "verified", "verified_tco2e": "-150"}).status_code == 201
    detail = eventually(lambda: gw.get(f"/api/v1/projects/{pid}"),
                        lambda r: all(x["state"] == "compensated" for x in r.json()["loss_events"])
                        and len(r.json()["loss_events"]) == 2, what="the reversal compensated")
    [recorded] = [x for x in detail.json()["loss_events"] if x["cause"] == "reversal"]
    assert (recorded["from_pool"], recorded["from_developer"], recorded["shortfall"]) == (0, 150, 0)
    assert _retry_401(gw, "GET", "/api/v1/holdings", dev).json()["total"] == 949 - 150

    # public: 1250 issued = 799 held + 0 retired + 0 buffer + 451 cancelled, and the audit holds
    [totals] = [r for r in gw.get("/api/v1/registry/projects").json() if r["project_id"] == pid]
    assert (totals["issued"], totals["held"], totals["buffer"], totals["cancelled"]) == \
        (1250, 799, 0, 451)
    assert gw.get("/api/v1/registry/audit/verify").json()["ok"] is True
    public = gw.get(f"/api/v1/registry/compensations/{lid}").json()
    lineage = gw.get(f"/api/v1/registry/serials/{public['blocks'][0]['serials']}").json()
    assert lineage["compensation"]["loss_id"] == lid
