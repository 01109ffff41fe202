"""The CCER forestry, reversal and loss-event invariants hold past the application (issue 13):
raw SQL that breaks one is refused by PostgreSQL under the constraint's name."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tanhui_shared.contracts import BufferCompensated
from tanhui_verification.store.constraints import CONSTRAINTS
from verification_support import AUDITOR, DEV, consumer_runner, kafka_record, make_service

# a second loss for the same verified reversal: it would be compensated twice
SECOND_REVERSAL_LOSS = """
    INSERT INTO loss_event
    SELECT gen_random_uuid()::text, project_id, cause, occurred_on, area_ha, estimated_tco2e,
           description, state, reported_by_user_id, created_at, monitoring_report_id,
           verified_tco2e, decided_by_user_id, decided_by_username, accreditation_id,
           accreditation_number, decision_comments, decided_at, required_credits, from_pool,
           from_developer, shortfall, compensated_at
    FROM loss_event WHERE monitoring_report_id = :report"""


def _refused(svc, sql: str, **params) -> str:
    with pytest.raises(sa.exc.IntegrityError) as refused, svc.engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    name = refused.value.orig.diag.constraint_name
    assert name in CONSTRAINTS
    return name


@pytest.fixture(scope="module")
def world(migrated_database, signing_key):
    """A registered CCER project with a verified reversal (its loss recorded) and a reported
    fire, and a compensated fire on a second project."""
    svc = make_service(migrated_database("verification"), signing_key)
    project = svc.registered()
    report = svc.reported(project, project_sink_tco2e="100", baseline_sink_tco2e="300",
                          leakage_tco2e="0")
    reply = svc.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", AUDITOR,
                     {"decision": "verified", "verified_tco2e": "-200"})
    assert reply.status_code == 201, reply.text
    fire = {"cause": "fire", "occurred_on": "2022-05-01", "area_ha": "3",
            "estimated_tco2e": "40"}
    reported = svc.post(f"/api/v1/projects/{project['id']}/loss-events", DEV, fire).json()
    other = svc.registered(forest_rights_certificate="C-2")
    loss = svc.post(f"/api/v1/projects/{other['id']}/loss-events", DEV, fire).json()
    svc.post(f"/api/v1/loss-events/{loss['id']}/verifications", AUDITOR,
             {"decision": "confirmed", "verified_tco2e": "40"})
    consumer_runner(svc).apply(kafka_record(BufferCompensated(
        loss_id=loss["id"], project_id=other["id"], required=40, from_pool=30,
        from_developer=10, shortfall=0, serial_ranges=[],
        compensated_at=datetime(2023, 1, 1, tzinfo=UTC))))
    yield svc, project, report, reported, loss
    svc.engine.dispose()


@pytest.mark.parametrize(("sql", "constraint"), [
    # CCER-14-001-V01: the land non-forest 3 years before the 2021-01-01 start, 400 m2 parcels,
    # no wetland, no burning, a 20-40 year crediting period
    ("UPDATE project SET non_forest_since = DATE '2018-01-02'", "ck_project_ccer_eligibility"),
    ("UPDATE project SET smallest_parcel_m2 = 399", "ck_project_ccer_eligibility"),
    ("UPDATE project SET land_is_wetland = true", "ck_project_ccer_eligibility"),
    ("UPDATE project SET burning_site_preparation = true", "ck_project_ccer_eligibility"),
    ("UPDATE project SET crediting_years = 41", "ck_project_ccer_eligibility"),
    ("UPDATE project SET kind = 'forest_management'", "ck_project_kind"),
    ("UPDATE project SET kind = 'bamboo'", "ck_project_kind"),
    ("UPDATE project SET vegetation = 'grass'", "ck_project_vegetation"),
    # a reversal issues nothing: never an issuance id, never a positive verified figure
    ("UPDATE monitoring_report SET issuance_id = 'i-1' WHERE claim_tco2e < 0",
     "ck_monitoring_verified_state"),
    ("UPDATE monitoring_report SET verified_tco2e = 1 WHERE claim_tco2e < 0",
     "ck_monitoring_verified_quantity"),
    ("UPDATE monitoring_report SET project_sink_tco2e = 300, claim_tco2e = 0 "
     "WHERE claim_tco2e < 0", "ck_monitoring_claim_nonzero"),
    # loss events along their state machine
    ("UPDATE loss_event SET state = 'verified' WHERE state = 'reported'", "ck_loss_event_decided"),
    ("UPDATE loss_event SET state = 'compensated' WHERE cause = 'reversal'",
     "ck_loss_event_compensated"),
    ("UPDATE loss_event SET shortfall = shortfall + 1 WHERE state = 'compensated'",
     "ck_loss_event_compensation_split"),
    ("UPDATE loss_event SET verified_tco2e = 0 WHERE cause = 'reversal'",
     "ck_loss_event_verified"),
    ("UPDATE loss_event SET cause = 'flood'", "ck_loss_event_cause"),
    ("UPDATE loss_event SET monitoring_report_id = NULL WHERE cause = 'reversal'",
     "ck_loss_event_cause"),
])
def test_rows_outside_the_methodology_are_refused(world, sql, constraint):
    assert _refused(world[0], sql) == constraint


def test_a_reversal_becomes_one_loss_only(world):
    svc, _, report, _, _ = world
    assert _refused(svc, SECOND_REVERSAL_LOSS, report=report["id"]) == \
        "loss_event_monitoring_report_id_key"
    assert svc.count("loss_event", "cause = 'reversal'") == 1
