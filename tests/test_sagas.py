"""The platform's sagas end to end, through the gateway and real Kafka (docs/architecture.md §2)."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from e2e_support import confirm_enterprise, eventually, register_and_login

VERIFIED = "1250.25"  # floor(1250.25 x 0.8) = 1000 credits to the developer, 250 to the buffer


@pytest.fixture(scope="module")
def gw(own_platform):
    # A platform of its own: the rejection below needs a city inclusion pool nobody filled yet.
    with httpx.Client(base_url=own_platform.gateway_url, timeout=30) as client:
        yield client


def authorized(gw, method, path, headers, **kwargs):
    """The first call of a new service may race the signing key's arrival there: retry 401s."""
    return eventually(lambda: gw.request(method, path, headers=headers, **kwargs),
                      lambda r: r.status_code != 401, what=f"{method} {path} accepting the token")


@pytest.fixture(scope="module")
def issuance(gw):
    """A forestry project from filing to issued credits: the issuance saga (flow 2)."""
    developer, dev = register_and_login(gw, "project_developer")
    _, verifier = register_and_login(gw, "verifier")
    project = authorized(gw, "POST", "/api/v1/projects", dev, json={
        "name": "嘉陵江生态走廊造林", "kind": "afforestation", "county": "嘉陵区", "area_ha": "820.5",
        "forest_rights_holder": "嘉陵区林业合作社", "forest_rights_certificate": f"川(2024)嘉陵林权第{uuid.uuid4().hex[:8]}号",
        "crediting_start": "2020-01-01", "crediting_years": 30,
        # CCER-14-001-V01 land eligibility (issue 13)
        "vegetation": "tree", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False,
        "documents": [{"name": "PDD.pdf", "sha256": "ab" * 32}]})
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    assert gw.post(f"/api/v1/projects/{pid}/submit", headers=dev).status_code == 200
    approved = gw.post(f"/api/v1/projects/{pid}/reviews", headers=verifier,
                       json={"decision": "approve", "comments": "design sound", "buffer_pct": "20"})
    assert approved.status_code == 201, approved.text
    report = gw.post(f"/api/v1/projects/{pid}/monitoring-reports", headers=dev, json={
        "period_start": "2024-01-01", "period_end": "2024-12-31", "project_sink_tco2e": "1500.5",
        "baseline_sink_tco2e": "200", "leakage_tco2e": "50.25"})
    assert report.status_code == 201, report.text
    rid = report.json()["id"]
    # A second verifier: the one who approved the design may not verify (conflict of interest).
    _, auditor = register_and_login(gw, "verifier")
    verified = gw.post(f"/api/v1/monitoring-reports/{rid}/verifications", headers=auditor,
                       json={"decision": "verified", "verified_tco2e": VERIFIED, "comments": "ok"})
    assert verified.status_code == 201, verified.text
    issued = eventually(lambda: gw.get(f"/api/v1/monitoring-reports/{rid}", headers=dev),
                        lambda r: r.json().get("state") == "issued", what="CreditsIssued")
    return {"developer": developer, "dev": dev, "auditor": auditor, "project_id": pid,
            "report_id": rid, "report": issued.json()}


def test_a_verified_monitoring_report_is_issued_once_as_serial_blocks(gw, issuance):
    report = issuance["report"]
    assert (report["issued_quantity"], report["buffer_quantity"]) == (1000, 250)
    # the issuance's whole range: 1-1000 to the developer, 1001-1250 to the buffer pool
    assert re.fullmatch(r"NC-FS-\d{4}-2024-000000001", report["serial_first"]), report
    assert re.fullmatch(r"NC-FS-\d{4}-2024-000001250", report["serial_last"]), report
    holdings = authorized(gw, "GET", "/api/v1/holdings", issuance["dev"])
    assert holdings.json()["total"] == 1000
    again = gw.post(f"/api/v1/monitoring-reports/{issuance['report_id']}/verifications",
                    headers=issuance["auditor"], json={"decision": "verified", "verified_tco2e": VERIFIED})
    assert again.status_code == 409
    mine = [p for p in gw.get("/api/v1/registry/projects").json()
            if p["project_id"] == issuance["project_id"]]
    assert len(mine) == 1 and mine[0]["issued"] == 1250 and mine[0]["buffer"] == 250
    timeline = gw.get(f"/api/v1/projects/{issuance['project_id']}", headers=issuance["dev"]).json()["timeline"]
    assert timeline[-1]["step"] == "credits_issued"


def daily_trips(username: str, days: int) -> list[dict]:
    """What a transit operator feeds for a commuter who reaches the 1,000-point daily cap."""
    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days + 1)
    trips = []
    for day in range(days):
        start = first_day + timedelta(days=day)
        for n, mode in enumerate(["metro"] * 12 + ["bus"] * 12 + ["bike"] * 6):
            begin = start + timedelta(minutes=30 * n)
            trips.append({"username": username, "mode": mode, "distance_km": "10",
                          "started_at": begin.isoformat(),
                          "ended_at": (begin + timedelta(minutes=29)).isoformat(),
                          "external_id": f"{username}-{day}-{n}"})
    return trips


def test_a_redemption_is_rejected_by_an_empty_pool_then_completed_once_it_is_filled(gw, issuance):
    citizen, me = register_and_login(gw, "citizen")
    _, operator = register_and_login(gw, "transit_operator")
    fed = gw.post("/api/v1/trips/batch", headers=operator,
                  json={"trips": daily_trips(citizen["username"], 100)})
    assert fed.status_code == 200 and fed.json()["points_awarded"] == 100_000, fed.text
    pool = gw.get("/api/v1/registry/blocks", params={"project_id": issuance["project_id"]})
    assert pool.status_code == 200

    refused = gw.post("/api/v1/me/redemptions", headers=me, json={"points": 100_000})
    assert refused.status_code == 202, refused.text
    assert gw.get("/api/v1/me/carbon-account", headers=me).json()["available"] == 0
    final = eventually(lambda: gw.get(f"/api/v1/me/redemptions/{refused.json()['id']}", headers=me),
                       lambda r: r.json()["state"] != "pending", what="RedemptionRejected")
    assert final.json()["state"] == "rejected"
    assert gw.get("/api/v1/me/carbon-account", headers=me).json()["available"] == 100_000

    donated = authorized(gw, "POST", "/api/v1/transfers", issuance["dev"],
                         json={"to_username": "city-inclusion-pool", "quantity": 5})
    assert donated.status_code == 201, donated.text
    accepted = gw.post("/api/v1/me/redemptions", headers=me, json={"points": 100_000})
    done = eventually(lambda: gw.get(f"/api/v1/me/redemptions/{accepted.json()['id']}", headers=me),
                      lambda r: r.json()["state"] != "pending", what="RedemptionCompleted")
    assert done.json()["state"] == "completed" and done.json()["certificate_id"]
    account = gw.get("/api/v1/me/carbon-account", headers=me).json()
    assert (account["balance"], account["on_hold"]) == (0, 0)
    certificate = gw.get(f"/api/v1/certificates/{done.json()['certificate_id']}").json()
    # 100,000 points = 1,000 kg: a whole pooled tonne, retired at once, all of it the citizen's
    assert certificate["beneficiary"] == citizen["username"] and certificate["kg"] == 1000
    assert [share["kg"] for share in certificate["shares"]] == [1000]


def test_an_enterprise_retires_credits_against_its_report_and_discloses_net_emissions(gw, issuance):
    _, firm_user = register_and_login(gw, "enterprise")
    from tanhui_accounts.domain.uscc import check_character

    body = "91511300" + uuid.uuid4().hex[:9].upper().replace("I", "1").replace("O", "0")
    body = "".join(c if c not in "SVZ" else "7" for c in body)
    firm = gw.post("/api/v1/enterprises", headers=firm_user, json={
        "name": "南充炼化", "uscc": body + check_character(body), "county": "高坪区",
        "industry": "petrochemicals"})
    assert firm.status_code == 201, firm.text
    assert firm.json()["claim_status"] == "pending"  # disclosed once the regulator confirms it
    confirm_enterprise(gw, firm.json()["id"])
    report = gw.post(f"/api/v1/enterprises/{firm.json()['id']}/reports", headers=firm_user, json={
        "period": "2025", "activities": [{"factor_code": "fuel.diesel", "quantity": "100", "unit": "t"}]})
    assert report.status_code == 201 and report.json()["total_tco2e"] == "309.5910"
    firm_username = gw.get("/api/v1/me", headers=firm_user).json()["username"]
    bought = authorized(gw, "POST", "/api/v1/transfers", issuance["dev"],
                        json={"to_username": firm_username, "quantity": 300})
    assert bought.status_code == 201, bought.text
    retired = eventually(
        lambda: gw.post("/api/v1/retirements", headers=firm_user, json={
            "quantity": 300, "beneficiary": "南充炼化", "purpose": "2025 neutrality",
            "report_id": report.json()["id"]}),
        lambda r: r.status_code != 404, what="credits knowing the report (ReportFiled)")
    assert retired.status_code == 201, retired.text
    disclosed = eventually(
        lambda: [d for d in gw.get("/api/v1/disclosures",
                                   params={"period": "2025", "limit": 200}).json()["items"]
                 if d["report_id"] == report.json()["id"]],
        lambda found: found and found[0]["retired_tco2e"] == 300, what="CreditsRetired in accounts")
    # gross stays the inventory's figure, the retirement beside it, net their difference
    assert (disclosed[0]["gross_tco2e"], disclosed[0]["net_tco2e"]) == ("309.5910", "9.5910")
    assert [(r["revision"], r["quantity"]) for r in disclosed[0]["retirements"]] == [(1, 300)]
    audit = gw.get("/api/v1/registry/audit/verify").json()
    assert audit.get("intact") is True, audit
