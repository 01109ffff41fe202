"""Plausible monitoring claims through the HTTP API (real PostgreSQL): the issue's one-hectare
bamboo project cannot claim 4,500 t in two days nor 10,000,000 t at all, a report filed before
the bounds cannot be verified above them, and the bounds are settings."""
from __future__ import annotations

from decimal import Decimal

import pydantic
import pytest
import sqlalchemy as sa

from tanhui_verification.settings import VerificationSettings
from verification_support import AUDITOR, DEV, make_service, monitoring

PROBLEM = "application/problem+json"
ONE_HA_BAMBOO = {"vegetation": "bamboo", "area_ha": "1", "crediting_years": 20,
                 "name": "one hectare of bamboo"}
TWO_DAYS = {"period_start": "2022-01-01", "period_end": "2022-01-02"}
A_YEAR = {"period_start": "2022-01-01", "period_end": "2022-12-31"}
# a report as it was accepted before this change: inserted as it stood, to be verified now
LEGACY_REPORT = """
    INSERT INTO monitoring_report (id, project_id, period_start, period_end, project_sink_tco2e,
                                   baseline_sink_tco2e, leakage_tco2e, claim_tco2e, state,
                                   submitted_by_user_id, created_at)
    VALUES (:id, :project, :start, :end, :claim, 0, 0, :claim, 'submitted', 'dev-1', now())"""


def _claim(tonnes: str, **period: str) -> dict:
    return monitoring(**period, project_sink_tco2e=tonnes, baseline_sink_tco2e="0",
                      leakage_tco2e="0")


def _refused(reply, field: str) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == PROBLEM
    assert reply.json()["field"] == field, reply.json()


def _report_path(project: dict) -> str:
    return f"/api/v1/projects/{project['id']}/monitoring-reports"


def _verify(svc, report_id: str, tonnes: str | None, decision: str = "verified"):
    body = {"decision": decision, "comments": "site visit"}
    if tonnes is not None:
        body["verified_tco2e"] = tonnes
    return svc.post(f"/api/v1/monitoring-reports/{report_id}/verifications", AUDITOR, body)


def test_the_issues_claims_on_one_hectare_of_bamboo_are_refused(svc):
    project = svc.registered(**ONE_HA_BAMBOO)
    path = _report_path(project)
    _refused(svc.post(path, DEV, _claim("4500", **TWO_DAYS)), "period_end")
    _refused(svc.post(path, DEV, _claim("4500", **A_YEAR)), "project_sink_tco2e")
    _refused(svc.post(path, DEV, _claim("10000000", **A_YEAR)), "project_sink_tco2e")
    whole_window = {"period_start": "2021-01-01", "period_end": "2040-12-31"}
    _refused(svc.post(path, DEV, _claim("10000000", **whole_window)), "project_sink_tco2e")
    assert svc.count("monitoring_report") == 0 and svc.count("outbox") == 0
    # the ceiling itself (27.87 t CO2e per hectare per year) is plausible
    assert svc.post(path, DEV, _claim("27.87", **A_YEAR)).status_code == 201


def test_the_net_claim_is_bounded_not_the_gross_sink(svc):
    project = svc.registered(**ONE_HA_BAMBOO)
    # 100 t sink - 80 t baseline - 0 leakage = 20 t net: plausible, though the sink is not
    reply = svc.post(_report_path(project), DEV, monitoring(
        **A_YEAR, project_sink_tco2e="100", baseline_sink_tco2e="80", leakage_tco2e="0"))
    assert reply.status_code == 201 and reply.json()["claim_tco2e"] == "20"


def test_a_report_filed_before_the_bounds_is_not_verified_above_them(svc):
    project = svc.registered(**ONE_HA_BAMBOO)
    with svc.engine.begin() as conn:
        for report_id, period in [("issue-2-days", ("2022-01-01", "2022-01-02")),
                                  ("issue-a-year", ("2023-01-01", "2023-12-31"))]:
            conn.execute(sa.text(LEGACY_REPORT),
                         {"id": report_id, "project": project["id"], "start": period[0],
                          "end": period[1], "claim": Decimal(4500)})
    _refused(_verify(svc, "issue-2-days", "4500"), "period_end")
    _refused(_verify(svc, "issue-a-year", "4500"), "verified_tco2e")
    assert svc.count("verification") == 0 and svc.count("outbox") == 0
    # a verifier may still reject them, or verify what the hectare can have removed
    assert _verify(svc, "issue-2-days", None, "rejected").status_code == 201
    verified = _verify(svc, "issue-a-year", "27.87")
    assert verified.status_code == 201 and verified.json()["verified_tco2e"] == "27.87"


def test_the_bounds_are_settings(migrated_database, signing_key):
    strict = make_service(migrated_database("verification"), signing_key,
                          max_removal_tree=Decimal("3"), min_monitoring_period_days=730)
    project = strict.registered()  # 1,250.5 ha of afforestation
    path = _report_path(project)
    _refused(strict.post(path, DEV, monitoring()), "period_end")  # a year < 730 days
    two_years = {"period_start": "2022-01-01", "period_end": "2023-12-31"}
    # 4,300.25 t <= 1,250.5 ha x 2 years x 3 t = 7,503 t; 8,000 t is not
    _refused(strict.post(path, DEV, monitoring(**two_years, project_sink_tco2e="8900.25")),
             "project_sink_tco2e")
    assert strict.post(path, DEV, monitoring(**two_years)).status_code == 201
    strict.engine.dispose()

    lenient = make_service(migrated_database("verification"), signing_key,
                           min_monitoring_period_days=1)
    project = lenient.registered(**ONE_HA_BAMBOO)
    assert lenient.post(_report_path(project), DEV, _claim("0.1", **TWO_DAYS)).status_code == 201
    lenient.engine.dispose()


@pytest.mark.parametrize("setting", [{"max_removal_bamboo": "0"},
                                     {"max_removal_tree": "-1"},
                                     {"max_removal_shrub": "1000.0001"},
                                     {"min_monitoring_period_days": 0}])
def test_a_bound_no_claim_could_meet_is_refused_at_startup(setting):
    with pytest.raises(pydantic.ValidationError):
        VerificationSettings(env="test", database_url="postgresql+psycopg://x/y", **setting)
