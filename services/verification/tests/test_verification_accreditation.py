"""Only accredited verifiers decide: accounts' AccreditationGranted / AccreditationRevoked through
the real consumer path, decisions refused without a standing grant, and each decision naming
the accreditation it was made under on the public record (real PostgreSQL)."""
from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tanhui_shared.contracts import AccreditationGranted, AccreditationRevoked
from tanhui_shared.messaging.consumer import DeadLetter
from tanhui_shared.uow import in_unit_of_work
from tanhui_shared.web.auth import Principal
from tanhui_verification.domain.accreditation import CITY_TZ
from tanhui_verification.store.constraints import CONSTRAINTS
from tanhui_verification.usecases.accreditation import (accreditation_for_decision,
                                                        record_accreditation_granted,
                                                        record_accreditation_revoked)
from verification_support import (AUDITOR, REVIEWER, accredit, consumer_runner, grant,
                                  kafka_record)

PROBLEM = "application/problem+json"
# a verifier token as anyone could hold one before accreditation (the issue: self-registered)
NEWCOMER = ("ver-new", "verifier", "zhou.newcomer")


def _revocation(granted: AccreditationGranted, reason: str = "suspended by the accreditor",
                at: datetime | None = None) -> AccreditationRevoked:
    return AccreditationRevoked(accreditation_id=granted.accreditation_id,
                                user_id=granted.user_id, role=granted.role, reason=reason,
                                revoked_at=at or datetime.now(UTC))


def _verify(svc, report: dict, actor, quantity: str = "4000"):
    return svc.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", actor,
                    {"decision": "verified", "verified_tco2e": quantity, "comments": "checked"})


def _approve(svc, project: dict, actor):
    return svc.post(f"/api/v1/projects/{project['id']}/reviews", actor,
                    {"decision": "approve", "comments": "conforms", "buffer_pct": "20"})


def _refused(reply, code: str, says: str) -> dict:
    assert reply.status_code == 403, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body["code"] == code and says in body["detail"], body
    return body


def _row(svc, accreditation_id: str) -> dict | None:
    with svc.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM verifier_accreditation "
                                   "WHERE accreditation_id = :id"),
                           {"id": accreditation_id}).mappings().first()
    return dict(row) if row else None


def test_a_verifier_token_without_an_accreditation_decides_nothing(svc):
    submitted = svc.submitted(forest_rights_certificate="C-1")
    report = svc.reported(svc.registered(forest_rights_certificate="C-2"))
    before = (svc.count("project_timeline"), svc.count("outbox"))
    _refused(_approve(svc, submitted, NEWCOMER), "not-accredited", "no verifier accreditation")
    _refused(_verify(svc, report, NEWCOMER), "not-accredited", "no verifier accreditation")
    assert (svc.count("project_timeline"), svc.count("outbox")) == before
    assert svc.count("verification") == 0
    assert svc.count("project", "state = 'submitted'") == 1


def test_grant_then_verify_then_revoke_through_events(svc):
    runner = consumer_runner(svc)
    granted = grant(NEWCOMER, number="CNCA-V-2025-017", organisation="Lishui Carbon Audit")
    record = kafka_record(granted)
    assert runner.apply(record) == "applied"
    assert runner.apply(record) == "duplicate"  # a redelivery: the inbox absorbs it

    project = svc.registered(forest_rights_certificate="C-1")
    verified = _verify(svc, svc.reported(project), NEWCOMER)
    assert verified.status_code == 201, verified.text
    assert verified.json()["accreditation_number"] == "CNCA-V-2025-017"

    revoked_at = datetime.now(UTC)
    revocation = kafka_record(_revocation(granted, at=revoked_at))
    assert runner.apply(revocation) == "applied"
    assert runner.apply(revocation) == "duplicate"
    report = svc.reported(project, period_start="2023-01-01", period_end="2023-12-31")
    body = _refused(_verify(svc, report, NEWCOMER), "accreditation-revoked",
                    f"revoked on {revoked_at.astimezone(CITY_TZ).date()}")
    assert body["accreditation_number"] == "CNCA-V-2025-017"
    assert svc.count("verification") == 1
    # the decision made while accredited keeps its accreditation on the public record
    steps = svc.get(f"/api/v1/projects/{project['id']}").json()["timeline"]
    step = next(s for s in steps if s["step"] == "monitoring_verified")
    assert (step["accreditation_id"], step["accreditation_number"],
            step["accreditation_organisation"]) == (granted.accreditation_id, "CNCA-V-2025-017",
                                                    "Lishui Carbon Audit")


def test_a_second_event_for_a_recorded_grant_or_revocation_changes_nothing(svc):
    runner = consumer_runner(svc)
    granted = grant(NEWCOMER, number="CNCA-V-1")
    assert runner.apply(kafka_record(granted)) == "applied"
    first = _row(svc, granted.accreditation_id)
    # another event (a new id) for the same accreditation, with other figures: the first stays
    changed = granted.model_copy(update={"number": "CNCA-V-2", "valid_to": date(2100, 1, 1)})
    assert runner.apply(kafka_record(changed)) == "applied"
    assert _row(svc, granted.accreditation_id) == first

    earlier = datetime(2025, 1, 1, tzinfo=UTC)
    assert runner.apply(kafka_record(_revocation(granted, "first", earlier))) == "applied"
    revoked = _row(svc, granted.accreditation_id)
    assert runner.apply(kafka_record(_revocation(granted, "second"))) == "applied"
    assert _row(svc, granted.accreditation_id) == revoked
    assert (revoked["revoked_at"], revoked["revocation_reason"]) == (earlier, "first")


def test_a_revocation_before_its_grant_still_ends_revoked(svc):
    runner = consumer_runner(svc)
    granted = grant(NEWCOMER)
    assert runner.apply(kafka_record(_revocation(granted, "revoked at once"))) == "applied"
    assert runner.apply(kafka_record(granted)) == "applied"
    row = _row(svc, granted.accreditation_id)
    assert row["number"] == granted.number and row["revocation_reason"] == "revoked at once"
    report = svc.reported(svc.registered())
    _refused(_verify(svc, report, NEWCOMER), "accreditation-revoked", "was revoked on")


def test_an_expired_or_future_accreditation_decides_nothing(svc):
    accredit(svc, NEWCOMER, valid_from=date(2015, 1, 1), valid_to=date(2020, 12, 31),
             number="CNCA-V-2015-003")
    project = svc.submitted(forest_rights_certificate="C-1")
    _refused(_approve(svc, project, NEWCOMER), "accreditation-expired",
             "CNCA-V-2015-003 expired on 2020-12-31")
    later = ("ver-later", "verifier", "later")
    starts = date.today() + timedelta(days=60)
    accredit(svc, later, valid_from=starts, valid_to=starts + timedelta(days=365))
    _refused(_approve(svc, project, later), "accreditation-not-yet-valid", f"valid from {starts}")
    # a renewal valid today lets the first one decide again
    accredit(svc, NEWCOMER, number="CNCA-V-2025-101")
    approved = _approve(svc, project, NEWCOMER)
    assert approved.status_code == 201, approved.text
    step = svc.get(f"/api/v1/projects/{project['id']}").json()["timeline"][-1]
    assert (step["step"], step["accreditation_number"]) == ("registered", "CNCA-V-2025-101")


def test_grants_and_revocations_of_other_roles_are_ignored(svc):
    runner = consumer_runner(svc)
    operator = grant(("op-1", "transit_operator", "metro"), role="transit_operator")
    assert runner.apply(kafka_record(operator)) == "applied"
    assert runner.apply(kafka_record(_revocation(operator))) == "applied"
    assert _row(svc, operator.accreditation_id) is None


def test_an_event_giving_an_accreditation_to_another_user_is_dead_lettered(svc):
    runner = consumer_runner(svc)
    granted = grant(NEWCOMER)
    assert runner.apply(kafka_record(granted)) == "applied"
    inbox = svc.count("inbox")
    for forged in [granted.model_copy(update={"user_id": "ver-evil"}),
                   _revocation(granted).model_copy(update={"user_id": "ver-evil"})]:
        with pytest.raises(DeadLetter, match="another user"):
            runner.apply(kafka_record(forged))
    assert svc.count("inbox") == inbox
    assert _row(svc, granted.accreditation_id)["user_id"] == NEWCOMER[0]
    assert _row(svc, granted.accreditation_id)["revoked_at"] is None


def test_every_decision_names_its_accreditation_publicly(svc):
    project = svc.registered()  # approved by REVIEWER
    report = svc.reported(project)
    verified = _verify(svc, report, AUDITOR).json()
    with svc.engine.connect() as conn:
        numbers = dict(conn.execute(sa.text(
            "SELECT user_id, number FROM verifier_accreditation")).all())
        decision = conn.execute(sa.text(
            "SELECT accreditation_number FROM verification")).scalar_one()
    assert verified["accreditation_number"] == decision == numbers[AUDITOR[0]]
    public = svc.get(f"/api/v1/projects/{project['id']}").json()  # anonymous reader
    named = {s["step"]: s["accreditation_number"] for s in public["timeline"]}
    assert named == {"filed": None, "submitted": None, "registered": numbers[REVIEWER[0]],
                     "monitoring_reported": None, "monitoring_verified": numbers[AUDITOR[0]]}
    assert public["monitoring_reports"][0]["verifier_username"] == AUDITOR[2]


def test_a_revocation_waits_for_a_decision_in_flight(svc):
    """The decision holds its grant FOR SHARE: a revocation arriving meanwhile is applied after
    the decision commits, never under it."""
    granted = accredit(svc, NEWCOMER)
    runner = consumer_runner(svc)
    holding, release = threading.Event(), threading.Event()
    newcomer = Principal(user_id=NEWCOMER[0], role=NEWCOMER[1], username=NEWCOMER[2])

    def decide(uow):
        accreditation_for_decision(uow, newcomer)
        holding.set()
        release.wait(10)

    decision = threading.Thread(target=in_unit_of_work, args=(svc.engine, decide))
    decision.start()
    assert holding.wait(10)
    outcome: list[str] = []
    revoking = threading.Thread(target=lambda: outcome.append(
        runner.apply(kafka_record(_revocation(granted)))))
    revoking.start()
    time.sleep(1.0)
    assert revoking.is_alive() and _row(svc, granted.accreditation_id)["revoked_at"] is None
    release.set()
    decision.join(10)
    revoking.join(10)
    assert outcome == ["applied"] and _row(svc, granted.accreditation_id)["revoked_at"]


def _refused_by(svc, sql: str, **params) -> str:
    with pytest.raises(sa.exc.IntegrityError) as refused, svc.engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    name = refused.value.orig.diag.constraint_name
    assert name in CONSTRAINTS
    return name


def test_the_database_refuses_decisions_without_an_accreditation(svc):
    project = svc.registered()
    report = svc.reported(project)
    assert _refused_by(svc, """
        INSERT INTO verification (id, monitoring_report_id, decision, verified_tco2e, comments,
                                  verifier_user_id, verifier_username, created_at)
        VALUES ('v-1', :report, 'rejected', NULL, 'no', 'ver-9', 'x', now())""",
                       report=report["id"]) == "ck_verification_accreditation"
    step = """INSERT INTO project_timeline (project_id, step, from_state, to_state, actor_user_id,
                                            actor_username, actor_role, comments, occurred_at,
                                            accreditation_id, accreditation_number,
                                            accreditation_organisation)
              SELECT :project, 'note', NULL, 'registered', 'x', 'x', :role, '', now(), {}
              FROM verifier_accreditation LIMIT 1"""
    assert _refused_by(svc, step.format("NULL, NULL, NULL"), project=project["id"],
                       role="verifier") == "ck_project_timeline_accreditation"
    assert _refused_by(svc, step.format("accreditation_id, number, organisation"),
                       project=project["id"], role="project_developer") == \
        "ck_project_timeline_accreditation"
    assert _verify(svc, report, AUDITOR).status_code == 201
    assert _refused_by(svc, "UPDATE verification SET accreditation_id = 'no-such-grant'") == \
        "verification_accreditation_id_fkey"


@pytest.mark.parametrize(("sql", "constraint"), [
    ("INSERT INTO verifier_accreditation (accreditation_id, user_id, number, recorded_at) "
     "VALUES ('a-1', 'u', 'N', now())", "ck_verifier_accreditation_grant"),
    ("UPDATE verifier_accreditation SET valid_to = valid_from - 1",
     "ck_verifier_accreditation_validity"),
    ("UPDATE verifier_accreditation SET revoked_at = now()",
     "ck_verifier_accreditation_revocation"),
    ("INSERT INTO verifier_accreditation (accreditation_id, user_id, recorded_at) "
     "VALUES ('a-2', 'u', now())", "ck_verifier_accreditation_recorded"),
])
def test_accreditation_rows_outside_the_rules_are_refused(svc, sql, constraint):
    assert _refused_by(svc, sql) == constraint


def test_the_use_cases_say_whether_anything_changed(svc):
    granted = grant(NEWCOMER)
    revoked = _revocation(granted)

    def run(use_case, event) -> bool:
        return in_unit_of_work(svc.engine, lambda uow: use_case(uow, event))

    assert run(record_accreditation_revoked, revoked) is True  # before its grant
    assert run(record_accreditation_granted, granted) is True
    assert run(record_accreditation_granted, granted) is False
    assert run(record_accreditation_revoked, revoked) is False
    operator = grant(("op-1", "transit_operator", "bus"), role="transit_operator")
    assert run(record_accreditation_granted, operator) is False
