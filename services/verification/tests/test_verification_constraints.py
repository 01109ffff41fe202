"""The invariants hold past the application: raw SQL that breaks one is refused by PostgreSQL,
by the named constraint, and the same violation from application code answers a 409 that
names it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work
from tanhui_verification.store.constraints import CONSTRAINTS
from tanhui_verification.store.tables import Verification
from verification_support import (AUDITOR, consumer_runner, credits_issued, kafka_record,
                                  make_service, verified_report)

# under the first decision's accreditation, so that only the one-decision key refuses it
SECOND_VERIFICATION = """
    INSERT INTO verification (id, monitoring_report_id, decision, verified_tco2e, comments,
                              verifier_user_id, verifier_username, created_at, accreditation_id,
                              accreditation_number)
    SELECT gen_random_uuid()::text, monitoring_report_id, 'rejected', NULL, 'again', 'ver-9', 'x',
           now(), accreditation_id, accreditation_number
    FROM verification WHERE monitoring_report_id = :report"""
# a copy of the report, one year later (no overlap), under the same issuance id
SECOND_REPORT_OF_THE_ISSUANCE = """
    INSERT INTO monitoring_report
    SELECT gen_random_uuid()::text, project_id, period_start + 365, period_end + 365,
           project_sink_tco2e, baseline_sink_tco2e, leakage_tco2e, claim_tco2e, state,
           submitted_by_user_id, created_at, verified_tco2e, issuance_id, issued_quantity,
           buffer_quantity, serial_first, serial_last, issued_at
    FROM monitoring_report WHERE id = :report"""
SECOND_CREDITS_ISSUED_STEP = """
    INSERT INTO project_timeline (project_id, step, from_state, to_state, monitoring_report_id,
                                  actor_user_id, actor_username, actor_role, comments, occurred_at)
    SELECT project_id, 'credits_issued', 'verified', 'issued', id, 'service:credits', 'credits',
           'system', 'again', now() FROM monitoring_report WHERE id = :report"""
OVERLAPPING_REPORT = """
    INSERT INTO monitoring_report (id, project_id, period_start, period_end, project_sink_tco2e,
                                   baseline_sink_tco2e, leakage_tco2e, claim_tco2e, state,
                                   submitted_by_user_id, created_at)
    SELECT gen_random_uuid()::text, project_id, period_end, period_end + 30, 10, 0, 0, 10,
           :state, submitted_by_user_id, now() FROM monitoring_report WHERE id = :report"""
SECOND_APPROVAL_STEP = """
    INSERT INTO project_timeline (project_id, step, from_state, to_state, actor_user_id,
                                  actor_username, actor_role, comments, occurred_at,
                                  accreditation_id, accreditation_number,
                                  accreditation_organisation)
    SELECT project_id, 'registered', 'submitted', 'registered', 'ver-9', 'x', 'verifier', '', now(),
           accreditation_id, accreditation_number, accreditation_organisation
    FROM project_timeline WHERE project_id = :project AND step = 'registered'"""


def _refused(svc, sql: str, **params) -> str:
    """Run `sql` on its own connection; returns the name of the constraint that refused it."""
    with pytest.raises(sa.exc.IntegrityError) as refused, svc.engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    name = refused.value.orig.diag.constraint_name
    assert name in CONSTRAINTS
    return name


@pytest.fixture(scope="module")
def refusals(migrated_database, signing_key):
    """One service for the tests below whose writes are all refused (so they share its rows):
    a registered project with a verified report, and a draft beside it."""
    service = make_service(migrated_database("verification"), signing_key)
    report = verified_report(service)
    service.filed(forest_rights_certificate="C-draft")
    yield service, report
    service.engine.dispose()


def test_a_second_verification_of_a_report_is_refused(refusals):
    svc, report = refusals
    assert _refused(svc, SECOND_VERIFICATION, report=report["id"]) == \
        "verification_monitoring_report_id_key"
    assert svc.count("verification") == 1


def test_a_second_report_under_one_issuance_is_refused(refusals):
    svc, report = refusals
    assert _refused(svc, SECOND_REPORT_OF_THE_ISSUANCE, report=report["id"]) == \
        "monitoring_report_issuance_id_key"


def test_credits_issued_is_applied_at_most_once_per_report(svc):
    report = verified_report(svc)
    assert consumer_runner(svc).apply(kafka_record(credits_issued(report))) == "applied"
    assert _refused(svc, SECOND_CREDITS_ISSUED_STEP, report=report["id"]) == \
        "ux_project_timeline_credits_issued"


def test_a_project_is_decided_once(refusals):
    svc, report = refusals
    assert _refused(svc, SECOND_APPROVAL_STEP, project=report["project_id"]) == \
        "ux_project_timeline_decided"


def test_overlapping_periods_of_one_project_are_refused_unless_rejected(svc):
    report = verified_report(svc)
    assert _refused(svc, OVERLAPPING_REPORT, report=report["id"], state="submitted") == \
        "ex_monitoring_report_period"
    with svc.engine.begin() as conn:  # a rejected report frees its period
        conn.execute(sa.text(OVERLAPPING_REPORT), {"report": report["id"], "state": "rejected"})


@pytest.mark.parametrize(("sql", "constraint"), [
    ("UPDATE monitoring_report SET state = 'approved'", "ck_monitoring_report_state"),
    ("UPDATE monitoring_report SET verified_tco2e = claim_tco2e + 1",
     "ck_monitoring_verified_quantity"),
    ("UPDATE monitoring_report SET state = 'issued'", "ck_monitoring_issued_state"),
    ("UPDATE monitoring_report SET state = 'submitted'", "ck_monitoring_verified_state"),
    ("UPDATE monitoring_report SET leakage_tco2e = leakage_tco2e + 1", "ck_monitoring_figures"),
    ("UPDATE monitoring_report SET period_end = period_start", "ck_monitoring_period"),
    ("UPDATE project SET state = 'frozen' WHERE state = 'draft'", "ck_project_state"),
    ("UPDATE project SET project_number = NULL", "ck_project_registration"),
    ("UPDATE project SET crediting_start = DATE '9980-01-01'", "ck_project_crediting_window"),
    ("UPDATE project SET buffer_pct = 31", "ck_project_buffer_pct"),
    ("UPDATE verification SET verified_tco2e = NULL", "ck_verification_decision"),
    ("UPDATE document SET sha256 = upper(sha256)", "ck_document_sha256"),
    ("UPDATE registry_counter SET value = -1", "ck_registry_counter_value"),
])
def test_rows_outside_the_rules_are_refused(refusals, sql, constraint):
    assert _refused(refusals[0], sql) == constraint


def test_a_violation_from_application_code_is_a_409_naming_the_constraint(refusals):
    svc, report = refusals
    first = svc.get(f"/api/v1/monitoring-reports/{report['id']}").json()

    def second_decision(uow) -> None:
        uow.session.add(Verification(monitoring_report_id=report["id"], decision="rejected",
                                     comments="again", verifier_user_id="ver-9",
                                     verifier_username="x",
                                     accreditation_id=first["accreditation_id"],
                                     accreditation_number=first["accreditation_number"]))

    with pytest.raises(Conflict) as conflict:
        in_unit_of_work(svc.engine, second_decision)
    name = "verification_monitoring_report_id_key"
    assert conflict.value.extensions["constraint"] == name
    assert (conflict.value.detail, conflict.value.field) == CONSTRAINTS[name]
    again = svc.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", AUDITOR,
                     {"decision": "rejected", "comments": "no"})
    assert again.status_code == 409  # the lock's answer: the state has moved on
