"""Monitoring reports and their verification through the HTTP API (real PostgreSQL)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from verification_support import (AUDITOR, DEV, OTHER_DEV, REVIEWER, accredit, make_service,
                                  monitoring)

PROBLEM = "application/problem+json"
VERIFIED_TYPE = "cn.tanhui.verification.monitoring_verified.v1"


def _report_path(project) -> str:
    return f"/api/v1/projects/{project['id']}/monitoring-reports"


def _verify_path(report) -> str:
    return f"/api/v1/monitoring-reports/{report['id']}/verifications"


def _writes(svc) -> tuple[int, int, int]:
    return (svc.count("monitoring_report"), svc.count("document"), svc.count("project_timeline"))


def test_a_report_computes_its_claim_and_awaits_verification(svc):
    project = svc.registered()
    report = svc.reported(project)
    assert report["state"] == "submitted" and report["claim_tco2e"] == "4300.25"
    assert report["vintage"] == 2022 and report["issuance_id"] is None
    assert svc.get(f"/api/v1/monitoring-reports/{report['id']}").json() == report


@pytest.mark.parametrize(("overrides", "status", "field"), [
    ({"period_start": "2020-06-01", "period_end": "2021-05-31"}, 422, "period_start"),
    ({"period_start": "2050-06-01", "period_end": "2051-05-31"}, 422, "period_end"),
    ({"period_start": "2022-06-01", "period_end": "2022-06-01"}, 422, "period_end"),
    # a net of zero (5200.5 - 5000 - 200.5) is no report; a negative one is a reversal
    ({"baseline_sink_tco2e": "5000", "leakage_tco2e": "200.5"}, 422, "project_sink_tco2e"),
    ({"leakage_tco2e": "-1"}, 422, "leakage_tco2e"),
    ({"project_sink_tco2e": "1.00001"}, 422, "project_sink_tco2e"),
    ({"project_sink_tco2e": 1e300}, 422, "project_sink_tco2e"),
    ({"period_start": "2022-12-31", "period_end": "2023-12-30"}, 409, "period_start"),
    ({"period_start": "2021-06-01", "period_end": "2023-06-30"}, 409, "period_start"),
])
def test_bad_reports_are_refused_naming_the_field_and_write_nothing(svc, overrides, status, field):
    project = svc.registered()
    svc.reported(project)  # 2022-01-01 .. 2022-12-31
    before = _writes(svc)
    reply = svc.post(_report_path(project), DEV, monitoring(**overrides))
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body.get("field") == field or field in [e["field"] for e in body.get("errors", [])]
    assert _writes(svc) == before


def test_adjacent_periods_do_not_overlap(svc):
    project = svc.registered()
    svc.reported(project)
    svc.reported(project, period_start="2023-01-01", period_end="2023-12-31")
    assert svc.count("monitoring_report") == 2


def test_only_the_owner_of_a_registered_project_reports(svc):
    submitted = svc.submitted()
    reply = svc.post(_report_path(submitted), DEV, monitoring())
    assert reply.status_code == 409 and reply.json()["state"] == "submitted"
    registered = svc.registered(forest_rights_certificate="C-2")
    assert svc.post(_report_path(registered), OTHER_DEV, monitoring()).status_code == 403
    assert svc.post(_report_path(registered), REVIEWER, monitoring()).status_code == 403
    assert svc.count("monitoring_report") == 0


def test_verification_publishes_monitoring_verified_with_every_field(svc):
    project = svc.registered(buffer_pct="17.5")
    report = svc.reported(project)
    reply = svc.post(_verify_path(report), AUDITOR,
                     {"decision": "verified", "verified_tco2e": "4000.5", "comments": "site visit ok"})
    assert reply.status_code == 201, reply.text
    verified = reply.json()
    assert verified["state"] == "verified" and verified["verified_tco2e"] == "4000.5"
    with svc.engine.connect() as conn:
        envelope = json.loads(conn.execute(sa.text("SELECT envelope FROM outbox")).scalar_one())
        verification_id = conn.execute(sa.text("SELECT id FROM verification")).scalar_one()
    assert envelope["type"] == VERIFIED_TYPE and envelope["subject"] == project["id"]
    assert envelope["data"] == {
        "issuance_id": verified["issuance_id"], "project_id": project["id"],
        "project_number": 1, "project_name": project["name"], "project_kind": "afforestation",
        "county": "Longquan", "owner_user_id": "dev-1", "owner_username": "lin.forest",
        "monitoring_report_id": report["id"], "verification_id": verification_id,
        "verifier_user_id": "ver-2", "period_start": "2022-01-01", "period_end": "2022-12-31",
        "vintage": 2022, "verified_tco2e": "4000.5000", "buffer_pct": "17.50",
    }


@pytest.mark.parametrize(("quantity", "status"), [("0", 422), ("4300.2501", 422), (None, 422),
                                                  ("4300.25", 201)])
def test_verified_quantity_is_positive_and_at_most_the_claim(svc, quantity, status):
    report = svc.reported(svc.registered())
    body = {"decision": "verified", "comments": "checked"}
    if quantity is not None:
        body["verified_tco2e"] = quantity
    reply = svc.post(_verify_path(report), AUDITOR, body)
    assert reply.status_code == status, reply.text
    assert svc.count("outbox") == (1 if status == 201 else 0)
    assert svc.count("verification") == (1 if status == 201 else 0)


def test_a_report_is_verified_once_and_published_once(svc):
    report = svc.reported(svc.registered())
    body = {"decision": "verified", "verified_tco2e": "4000", "comments": "ok"}
    assert svc.post(_verify_path(report), AUDITOR, body).status_code == 201
    again = svc.post(_verify_path(report), AUDITOR, body)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert again.json()["state"] == "verified" and again.json()["field"] == "state"
    late = ("ver-3", "verifier", "sun")
    accredit(svc, late)
    rejected_after = svc.post(_verify_path(report), late, {"decision": "rejected", "comments": "no"})
    assert rejected_after.status_code == 409
    assert svc.count("outbox", "envelope LIKE :t", t=f'%"{VERIFIED_TYPE}"%') == 1


def test_a_rejected_report_publishes_nothing_and_frees_its_period(svc):
    project = svc.registered()
    report = svc.reported(project)
    reply = svc.post(_verify_path(report), AUDITOR, {"decision": "rejected",
                                                     "comments": "plots not measured"})
    assert reply.status_code == 201 and reply.json()["state"] == "rejected"
    assert svc.count("outbox") == 0
    assert svc.post(_report_path(project), DEV, monitoring()).status_code == 201


def test_conflicts_of_interest_in_verification(svc):
    report = svc.reported(svc.registered())
    body = {"decision": "verified", "verified_tco2e": "4000", "comments": "mine"}
    assert svc.post(_verify_path(report), DEV, body).status_code == 403  # developer role
    own_token = ("dev-1", "verifier", "lin.forest")
    accredit(svc, own_token)  # accredited, still refused: it is their own project
    own = svc.post(_verify_path(report), own_token, body)
    assert own.status_code == 403 and own.headers["content-type"] == PROBLEM
    assert own.json()["code"] == "conflict-of-interest"
    approver = svc.post(_verify_path(report), REVIEWER, body)  # approved the design
    assert approver.status_code == 403 and approver.json()["code"] == "conflict-of-interest"
    assert svc.count("verification") == 0 and svc.count("outbox") == 0


def test_the_approver_may_verify_when_conflicts_are_not_strict(migrated_database, signing_key):
    lenient = make_service(migrated_database("verification"), signing_key,
                           conflict_of_interest_strict=False)
    report = lenient.reported(lenient.registered())
    reply = lenient.post(_verify_path(report), REVIEWER,
                         {"decision": "verified", "verified_tco2e": "4000", "comments": "ok"})
    assert reply.status_code == 201
    own_token = ("dev-1", "verifier", "x")
    accredit(lenient, own_token)
    own = lenient.post(_verify_path(lenient.reported(lenient.registered(
        forest_rights_certificate="C-9"))), own_token,
        {"decision": "verified", "verified_tco2e": "1", "comments": "ok"})
    assert own.status_code == 403  # the developer is refused whatever the setting
    assert own.json()["code"] == "conflict-of-interest"
    lenient.engine.dispose()


def test_the_queue_leaves_out_the_verifiers_own_conflicts(svc):
    pending_review = svc.submitted(forest_rights_certificate="C-1")
    registered = svc.registered(forest_rights_certificate="C-2")  # approved by REVIEWER
    report = svc.reported(registered)
    own_project = svc.submitted(("ver-2", "project_developer", "qian"),
                                forest_rights_certificate="C-3")

    def queue(actor):
        body = svc.get("/api/v1/verifiers/queue", actor).json()
        return ({p["id"] for p in body["projects"]}, {r["id"] for r in body["monitoring_reports"]})

    assert queue(REVIEWER) == ({pending_review["id"], own_project["id"]}, set())
    assert queue(AUDITOR) == ({pending_review["id"]}, {report["id"]})
    assert svc.get("/api/v1/verifiers/queue", DEV).status_code == 403
    # drafts and pending reports are for verifiers accredited today only
    unaccredited = svc.get("/api/v1/verifiers/queue", ("ver-x", "verifier", "unaccredited"))
    assert unaccredited.status_code == 403 and unaccredited.json()["code"] == "not-accredited"
