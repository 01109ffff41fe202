"""Enterprise carbon accounts through the API, on PostgreSQL."""
from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from functools import cache

from sqlalchemy import func
from sqlmodel import Session, select

from accounts_support import every_disclosure
from tanhui_accounts.domain.uscc import ALPHABET, check_character
from tanhui_accounts.events.handlers import on_credits_retired
from tanhui_accounts.store.tables import CarbonReport, Enterprise, ReportLineRow
from tanhui_accounts.usecases.enterprises import publish_factor
from tanhui_shared.contracts import CreditsRetired, ReportFiled
from tanhui_shared.methodology import EmissionFactor
from tanhui_shared.messaging import OutboxMessage
from tanhui_shared.uow import in_unit_of_work

MIXED = [
    {"factor_code": "fuel.raw_coal", "quantity": "100", "unit": "t"},
    {"factor_code": "fuel.diesel", "quantity": "2000", "unit": "kg"},
    {"factor_code": "fuel.natural_gas", "quantity": "50000", "unit": "m3"},
    {"factor_code": "grid.sichuan.2023", "quantity": "1000", "unit": "MWh"},
]


def fresh_uscc() -> str:
    body = "913213" + "".join(random.choice("0123456789") for _ in range(3)) + \
        "".join(random.choice(ALPHABET) for _ in range(8))
    return body + check_character(body)


def enterprise(accounts, headers, county="顺庆区", industry="cement") -> dict:
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": f"南充建材 {random.randint(1, 10**6)}", "uscc": fresh_uscc(),
        "county": county, "industry": industry})
    assert reply.status_code == 201, reply.text
    return reply.json()


@cache
def regulator(accounts) -> dict:
    """One regulator's headers per test module's accounts (made by the CLI; logins are slow)."""
    return accounts.user("regulator")[1]


def confirm(accounts, firm: dict) -> dict:
    """The regulator confirms the enterprise's claim to its code: it is disclosed from now on."""
    reply = accounts.http.post(f"/api/v1/enterprise-claims/{firm['id']}/decision",
                               headers=regulator(accounts), json={"decision": "confirm"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def confirmed_enterprise(accounts, headers, **where) -> dict:
    firm = enterprise(accounts, headers, **where)
    confirm(accounts, firm)
    return firm


def count(accounts, model) -> int:
    with Session(accounts.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_a_report_is_computed_with_every_line_derived_and_published(accounts):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    reply = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                               json={"period": "2025", "activities": MIXED})
    assert reply.status_code == 201, reply.text
    report = reply.json()
    assert (report["scope1_tco2e"], report["scope2_tco2e"], report["total_tco2e"]) == \
        ("304.3311", "156.4000", "460.7311")
    assert [line["factor_version"] for line in report["lines"]] == ["2015", "2015", "2015", "2023"]
    assert all(line["factor_source"] and line["derivation"] for line in report["lines"])
    assert announced(accounts, report["id"]) == 0  # a draft while the claim is pending
    assert confirm(accounts, firm)["reports_announced"] == 1
    assert announced(accounts, report["id"]) == 1


def announced(accounts, report_id: str) -> int:
    """How many `ReportFiled` events name the report (in accounts' outbox)."""
    with Session(accounts.engine) as session:
        return sum(ReportFiled.TYPE in m.envelope and report_id in m.envelope
                   for m in session.exec(select(OutboxMessage)).all())


def test_the_same_period_twice_is_409_and_a_revision_keeps_the_old_one_visible(accounts):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    first = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                               json={"period": "2025-Q1", "activities": MIXED[:1]}).json()
    again = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                               json={"period": "2025-Q1", "activities": MIXED})
    assert again.status_code == 409 and again.json()["field"] == "period"
    revised = accounts.http.post(f"/api/v1/reports/{first['id']}/revisions", headers=headers,
                                 json={"activities": MIXED})
    assert revised.status_code == 201
    assert revised.json()["revision"] == 2 and revised.json()["supersedes_id"] == first["id"]
    history = accounts.http.get(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers).json()
    assert [(r["revision"], r["is_current"]) for r in history] == [(2, True), (1, False)]
    assert accounts.http.get(f"/api/v1/reports/{first['id']}", headers=headers).json()["total_tco2e"] \
        == "190.0299"


def test_bad_input_is_422_naming_the_field_and_writes_nothing(accounts):
    _, headers = accounts.user("enterprise")
    bad_uscc = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": "x", "uscc": "91350100M000100Y44", "county": "嘉陵区", "industry": "textile"})
    assert bad_uscc.status_code == 422
    assert bad_uscc.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad_uscc.json()["errors"]] == ["uscc"]
    firm = enterprise(accounts, headers)
    before = (count(accounts, CarbonReport), count(accounts, ReportLineRow))
    cases = [
        ({"factor_code": "fuel.unobtainium", "quantity": "1", "unit": "t"}, "activities[1].factor_code"),
        ({"factor_code": "fuel.diesel", "quantity": "-5", "unit": "t"}, "activities[1].quantity"),
        ({"factor_code": "fuel.diesel", "quantity": "NaN", "unit": "t"}, "activities[1].quantity"),
        ({"factor_code": "grid.sichuan.2023", "quantity": "5", "unit": "t"}, "activities[1].unit"),
    ]
    for line, field in cases:
        reply = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                                   json={"period": "2024", "activities": [MIXED[0], line]})
        assert reply.status_code == 422, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        body = reply.json()
        fields = [e["field"] for e in body.get("errors", [])] or [body["field"]]
        assert fields == [field], body
    assert (count(accounts, CarbonReport), count(accounts, ReportLineRow)) == before


def test_a_registrant_claims_a_code_once_while_the_claim_is_open(accounts):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    with Session(accounts.engine) as session:
        code = session.get(Enterprise, firm["id"]).uscc
    twin = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": "twin", "uscc": code, "county": "高坪区", "industry": "cement"})
    assert twin.status_code == 409 and twin.json()["field"] == "uscc"
    assert twin.json()["enterprise_id"] == firm["id"]


def test_another_enterprise_gets_404_and_the_regulator_may_read(accounts):
    _, owner = accounts.user("enterprise")
    _, stranger = accounts.user("enterprise")
    _, regulator = accounts.user("regulator")
    firm = enterprise(accounts, owner)
    report = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=owner,
                                json={"period": "2023", "activities": MIXED[:2]}).json()
    assert accounts.http.get(f"/api/v1/reports/{report['id']}", headers=stranger).status_code == 404
    assert accounts.http.get(f"/api/v1/enterprises/{firm['id']}/reports",
                             headers=stranger).status_code == 404
    assert accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=stranger,
                              json={"period": "2022", "activities": MIXED[:1]}).status_code == 404
    assert accounts.http.get(f"/api/v1/reports/{report['id']}", headers=regulator).status_code == 200
    citizen_user, citizen = accounts.user("citizen")
    assert accounts.http.post("/api/v1/enterprises", headers=citizen, json={
        "name": "x", "uscc": fresh_uscc(), "county": "x", "industry": "x"}).status_code == 403


def test_a_new_factor_version_never_changes_a_filed_report(accounts):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    line = [{"factor_code": "grid.national.2023", "quantity": "1000", "unit": "kWh"}]
    old = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                             json={"period": "2023-01", "activities": line}).json()
    in_unit_of_work(accounts.engine, lambda uow: publish_factor(uow, EmissionFactor(
        "grid.national.2023", "National grid average electricity 2023", "energy", 2, "kWh",
        Decimal("0.0006"), "a hypothetical correction notice", "2023-r1", date(2023, 1, 1))))
    try:
        new = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                                 json={"period": "2023-02", "activities": line}).json()
        again = accounts.http.get(f"/api/v1/reports/{old['id']}", headers=headers).json()
        assert (old["total_tco2e"], again["total_tco2e"], new["total_tco2e"]) == \
            ("0.5306", "0.5306", "0.6000")
        assert again["lines"][0]["factor_version"] == "2023"
        assert new["lines"][0]["factor_version"] == "2023-r1"
        versions = accounts.http.get("/api/v1/factors?code=grid.national.2023").json()
        # every version is listed, the corrected one marked superseded
        assert [(v["version"], v["superseded_at"] is None) for v in versions] == [
            ("2023", False), ("2023-r1", True)]
        live = accounts.http.get("/api/v1/factors?code=grid.national.2023&valid_on=2023-06-30")
        assert [v["version"] for v in live.json()] == ["2023-r1"]
    finally:  # restore the published version for the other tests of this module
        in_unit_of_work(accounts.engine, lambda uow: publish_factor(uow, EmissionFactor(
            "grid.national.2023", "National grid average electricity 2023", "energy", 2, "kWh",
            Decimal("0.0005306"), "MEE & NBS 2023 electricity CO2 emission factors (published 2025)",
            "2023-r2", date(2023, 1, 1))))


def test_disclosures_show_gross_and_net_once_credits_are_retired_against_a_report(accounts):
    _, headers = accounts.user("enterprise")
    firm = confirmed_enterprise(accounts, headers, county="阆中市", industry="chemicals")
    report = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                                json={"period": "2023-Q4", "activities": MIXED}).json()
    retired = CreditsRetired(retirement_id="ret-1-" + report["id"], certificate_id="cert-1",
                             retired_by_user_id="u", beneficiary=firm["name"], purpose="neutrality",
                             quantity=60, serial_ranges=["NC-FS-0001-2025-000000001-000000060"],
                             report_id=report["id"], retired_at="2026-01-01T00:00:00Z")
    for _ in range(2):  # delivered twice: counted once
        in_unit_of_work(accounts.engine, lambda uow: on_credits_retired(uow, None, retired))
    public = [d for d in every_disclosure(accounts.http, period="2023-Q4")
              if d["report_id"] == report["id"]]
    assert public == [public[0]] and public[0]["retired_tco2e"] == 60
    assert public[0]["net_tco2e"] == "400.7311" and public[0]["county"] == "阆中市"
    assert public[0]["gross_tco2e"] == report["total_tco2e"]  # beside net, never reduced


def test_the_regulator_sees_city_figures_beside_the_plan_targets(accounts):
    _, headers = accounts.user("enterprise")
    _, regulator = accounts.user("regulator")
    firm = confirmed_enterprise(accounts, headers, county="营山县", industry="glass")
    accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                       json={"period": "2026", "activities": MIXED})
    stats = accounts.http.get("/api/v1/stats/city?period=2026", headers=regulator)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert {"key": "营山县", "reports": 1, "total_tco2e": "460.7311"} in body["by_county"]
    assert body["targets"]["2025"]["co2_per_gdp_reduction_vs_2020_pct"] == 19.0
    assert accounts.http.get("/api/v1/stats/city?period=2026", headers=headers).status_code == 403
