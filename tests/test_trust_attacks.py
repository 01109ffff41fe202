"""Issue 12's attacks, replayed through the gateway as a new user would make them: each was
accepted before accreditation, claim windows, plausibility bounds, normalized identifiers and the
password rules, and each is refused now (the services' own tests prove the rules in depth)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from e2e_support import PASSWORD, accredit, eventually, register_and_login
from test_console_support import uscc

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def gw(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        yield client


def _register(gw: httpx.Client, username: str, password: str = PASSWORD, role: str = "citizen"):
    return gw.post("/api/v1/auth/register",
                   json={"username": username, "password": password, "role": role})


def _refused(reply: httpx.Response, status: int, field: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    fields = {e.get("field") for e in body.get("errors", [])} | {body.get("field")}
    assert field in fields, body


def test_value_creating_roles_and_weak_or_look_alike_credentials_cannot_be_registered(gw):
    suffix = uuid.uuid4().hex[:8]
    for role in ("verifier", "transit_operator"):
        _refused(_register(gw, f"self-{role[:5]}-{suffix}", role=role), 422, "role")
    for password in ("12345678", "password", "password123", f"lihua-{suffix}"):
        _refused(_register(gw, f"lihua-{suffix}", password), 422, "password")
    for name in ("system-buffer-pool", "city-inclusion-pool.", "registry_buffer.pool"):
        _refused(_register(gw, name), 422, "username")


def test_implausible_forestry_claims_and_respelled_certificates_are_refused(gw):
    _, dev = register_and_login(gw, "project_developer")
    _, reviewer = register_and_login(gw, "verifier")
    certificate = f"川(2023)西充林权第{uuid.uuid4().hex[:6]}号"
    filed = gw.post("/api/v1/projects", headers=dev, json={
        "name": "一公顷竹林", "kind": "afforestation", "county": "西充县", "area_ha": "1",
        "forest_rights_holder": "某村", "forest_rights_certificate": certificate,
        "crediting_start": "2021-01-01", "crediting_years": 30,
        # CCER-14-001-V01 land eligibility (issue 13)
        "vegetation": "bamboo", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False})
    assert filed.status_code == 201, filed.text
    project = filed.json()["id"]
    # the same certificate again, spelled with full-width brackets, spaces and a zero-width space
    respelled = certificate.replace("(", "（").replace(")", "）").replace("第", "第 \u200b")
    _refused(gw.post("/api/v1/projects", headers=dev, json={**{
        "name": "又一次", "kind": "afforestation", "county": "西充县", "area_ha": "1",
        "forest_rights_holder": "某村", "crediting_start": "2021-01-01", "crediting_years": 30,
        # CCER-14-001-V01 land eligibility (issue 13)
        "vegetation": "bamboo", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False},
        "forest_rights_certificate": respelled.upper()}), 409, "forest_rights_certificate")
    assert gw.post(f"/api/v1/projects/{project}/submit", headers=dev).status_code == 200
    assert gw.post(f"/api/v1/projects/{project}/reviews", headers=reviewer, json={
        "decision": "approve", "buffer_pct": "20"}).status_code == 201
    path = f"/api/v1/projects/{project}/monitoring-reports"
    claim = {"baseline_sink_tco2e": "0", "leakage_tco2e": "0"}
    _refused(gw.post(path, headers=dev, json={**claim, "period_start": "2023-01-01",
                                              "period_end": "2023-01-02", "project_sink_tco2e": "4500"}),
             422, "period_end")
    _refused(gw.post(path, headers=dev, json={**claim, "period_start": "2023-01-01",
                                              "period_end": "2023-12-31",
                                              "project_sink_tco2e": "10000000"}),
             422, "project_sink_tco2e")


def test_trips_outside_the_claim_window_and_unlicensed_feeds_pay_nothing(gw):
    citizen, me = register_and_login(gw, "citizen")
    _, operator = accredit(gw, "transit_operator", modes=("bus", "metro"))
    long_ago = [datetime(year, 6, 1, 8, tzinfo=UTC) for year in (1980, 1990)]
    now = datetime.now(UTC)
    feed = [{"username": citizen["username"], "mode": "bus", "distance_km": "10",
             "started_at": start.isoformat(), "ended_at": (start + timedelta(minutes=30)).isoformat(),
             "external_id": f"old-{start.year}"} for start in long_ago]
    feed += [{"username": name, "mode": mode, "distance_km": "3",
              "started_at": (now - timedelta(hours=2)).isoformat(),
              "ended_at": (now - timedelta(hours=1, minutes=30)).isoformat(),
              "external_id": f"now-{mode}-{name}"}
             for name, mode in ((citizen["username"], "walk"), ("nobody-" + uuid.uuid4().hex[:6], "bus"))]
    fed = gw.post("/api/v1/trips/batch", headers=operator, json={"trips": feed})
    assert fed.status_code == 200, fed.text
    assert fed.json()["accepted"] == 0 and fed.json()["points_awarded"] == 0, fed.text
    reasons = [r["reason"] for r in fed.json()["rejected"]]
    assert len(reasons) == 4 and "licence" in reasons[2] and "unknown citizen" in reasons[3], reasons
    # issue 14: each record's outcome with a machine code, for the operator's console page
    assert [(r["index"], r["outcome"], r["code"]) for r in fed.json()["results"]] == [
        (0, "rejected", "outside-claim-window"), (1, "rejected", "outside-claim-window"),
        (2, "rejected", "mode-not-licensed"), (3, "rejected", "unknown-citizen")]
    # the console signs the operator in with client credentials (same origin: no CORS) and
    # reads its identity through the gateway
    who = gw.get("/api/v1/me", headers=operator)
    assert who.status_code == 200 and who.json()["role"] == "transit_operator", who.text
    year_one = datetime(1, 1, 2, tzinfo=UTC)
    _refused(gw.post("/api/v1/trips", headers=me, json={
        "mode": "walk", "distance_km": "1", "started_at": year_one.isoformat(),
        "ended_at": (year_one + timedelta(minutes=20)).isoformat(), "external_id": "year-one"}),
        422, "started_at")
    assert gw.get("/api/v1/me/carbon-account", headers=me).json()["balance"] == 0


def test_a_squatter_claiming_a_companys_credit_code_does_not_lock_the_company_out(gw):
    code = uscc()
    _, squatter = register_and_login(gw, "enterprise")
    _, company = register_and_login(gw, "enterprise")
    body = {"name": "南充炼化", "uscc": code, "county": "高坪区", "industry": "石油化工"}
    first = eventually(lambda: gw.post("/api/v1/enterprises", headers=squatter, json=body),
                       lambda r: r.status_code != 401, what="accounts accepting the token")
    second = gw.post("/api/v1/enterprises", headers=company, json=body)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["claim_status"] == second.json()["claim_status"] == "pending"
