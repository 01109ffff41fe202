"""CreditsIssued through the real consumer path, the full project cycle, and racing verifiers."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tanhui_shared.messaging.consumer import DeadLetter

from verification_support import (AUDITOR, DEV, REVIEWER, accredit, consumer_runner,
                                  credits_issued, filing, kafka_record, verified_report)

VERIFIED_TYPE = "cn.tanhui.verification.monitoring_verified.v1"


def test_credits_issued_delivered_twice_is_applied_once(svc):
    report = verified_report(svc)
    runner = consumer_runner(svc)
    record = kafka_record(credits_issued(report))
    assert runner.apply(record) == "applied"
    assert runner.apply(record) == "duplicate"
    issued = svc.get(f"/api/v1/monitoring-reports/{report['id']}").json()
    assert issued["state"] == "issued" and issued["issued_quantity"] == 3300
    assert issued["buffer_quantity"] == 800
    assert (issued["serial_first"], issued["serial_last"]) == ("NC-FS-0001-2022-000000001",
                                                               "NC-FS-0001-2022-000003300")
    assert svc.count("project_timeline", "step = 'credits_issued'") == 1
    assert svc.count("inbox") == 1


def test_a_second_credits_issued_for_an_issued_report_changes_nothing(svc):
    report = verified_report(svc)
    runner = consumer_runner(svc)
    assert runner.apply(kafka_record(credits_issued(report))) == "applied"
    # another event (new id, different figures) for the same issuance: the business key holds
    assert runner.apply(kafka_record(credits_issued(report, quantity=9999))) == "applied"
    issued = svc.get(f"/api/v1/monitoring-reports/{report['id']}").json()
    assert issued["issued_quantity"] == 3300
    assert svc.count("project_timeline", "step = 'credits_issued'") == 1


def test_credits_issued_for_an_unknown_issuance_is_dead_lettered_and_writes_nothing(svc):
    report = verified_report(svc)
    stranger = credits_issued({**report, "issuance_id": "00000000-0000-0000-0000-000000000000"})
    with pytest.raises(DeadLetter):
        consumer_runner(svc).apply(kafka_record(stranger))
    assert svc.count("inbox") == 0
    assert svc.count("monitoring_report", "state = 'verified'") == 1


def test_the_timeline_of_a_full_cycle_lists_every_step_in_order(svc):
    project = svc.filed()
    path = f"/api/v1/projects/{project['id']}"
    assert svc.post(f"{path}/submit", DEV).status_code == 200
    assert svc.post(f"{path}/reviews", REVIEWER, {"decision": "request_changes",
                                                  "comments": "add the survey"}).status_code == 201
    assert svc.post(f"{path}/submit", DEV).status_code == 200
    assert svc.post(f"{path}/reviews", REVIEWER, {"decision": "approve", "comments": "conforms",
                                                  "buffer_pct": "20"}).status_code == 201
    report = svc.reported(project)
    verified = svc.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", AUDITOR,
                        {"decision": "verified", "verified_tco2e": "4100", "comments": "ok"}).json()
    assert consumer_runner(svc).apply(kafka_record(credits_issued(verified))) == "applied"

    detail = svc.get(path).json()  # public now: the project is registered
    steps = [(s["step"], s["from_state"], s["to_state"], s["actor_user_id"], s["actor_role"])
             for s in detail["timeline"]]
    assert steps == [
        ("filed", None, "draft", "dev-1", "project_developer"),
        ("submitted", "draft", "submitted", "dev-1", "project_developer"),
        ("changes_requested", "submitted", "changes_requested", "ver-1", "verifier"),
        ("submitted", "changes_requested", "submitted", "dev-1", "project_developer"),
        ("registered", "submitted", "registered", "ver-1", "verifier"),
        ("monitoring_reported", None, "submitted", "dev-1", "project_developer"),
        ("monitoring_verified", "submitted", "verified", "ver-2", "verifier"),
        ("credits_issued", "verified", "issued", "service:credits", "system"),
    ]
    timeline = detail["timeline"]
    assert timeline[2]["comments"] == "add the survey"
    assert timeline[1]["actor_username"] == "lin.forest"
    assert all(a["seq"] < b["seq"] and a["occurred_at"] <= b["occurred_at"]
               for a, b in zip(timeline, timeline[1:]))
    assert [r["state"] for r in detail["monitoring_reports"]] == ["issued"]
    assert detail["project_number"] == 1 and detail["buffer_pct"] == "20"


def test_concurrent_verifications_of_one_report_succeed_once(svc):
    report = svc.reported(svc.registered())
    path = f"/api/v1/monitoring-reports/{report['id']}/verifications"
    for n in range(20):
        accredit(svc, (f"ver-race-{n}", "verifier", f"racer{n}"))

    def verify(n: int) -> int:
        verifier = (f"ver-race-{n}", "verifier", f"racer{n}")
        return svc.post(path, verifier, {"decision": "verified", "verified_tco2e": "4000",
                                         "comments": f"verifier {n}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(verify, range(20)))
    assert sorted(statuses) == [201] + [409] * 19
    assert svc.count("verification") == 1
    assert svc.count("outbox", "envelope LIKE :t", t=f'%"{VERIFIED_TYPE}"%') == 1
    assert svc.count("project_timeline", "step = 'monitoring_verified'") == 1


def test_racing_filings_of_one_certificate_and_racing_approvals(svc):
    def file(n: int) -> int:
        return svc.post("/api/v1/projects", (f"dev-race-{n}", "project_developer", f"d{n}"),
                        filing(name=f"race {n}")).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(file, range(10)))
    assert sorted(statuses) == [201] + [409] * 9
    assert svc.count("project") == 1

    projects = [svc.submitted(forest_rights_certificate=f"C-{n}") for n in range(10)]

    def approve(project: dict) -> int:
        reply = svc.post(f"/api/v1/projects/{project['id']}/reviews", REVIEWER,
                         {"decision": "approve", "comments": "ok", "buffer_pct": "15"})
        assert reply.status_code == 201, reply.text
        return reply.json()["project_number"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        numbers = list(pool.map(approve, projects))
    assert sorted(numbers) == list(range(1, 11))  # gap-free and unique

