"""Parallel duplicates through the real HTTP stack (uvicorn, one connection per request, released
together by a barrier): exactly one applies; the others answer 409 problem+json naming the
conflict, never 500.

Behind each stand the row lock (losers queue, then see the new state) and the conditional
update (a state is left once); behind a report's decision, its period, its issuance and a
review's verdict also a constraint. With every layer removed these tests fail (duplicates
applied), which is how they were checked."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tanhui_shared.testing.live_server import live_server, race
from verification_support import (DEV, accredit, consumer_runner, credits_issued, kafka_record,
                                  monitoring, verified_report)

RACERS = 20
PROBLEM = "application/problem+json"
VERIFIED_TYPE = "cn.tanhui.verification.monitoring_verified.v1"


@pytest.fixture
def live(svc) -> str:
    with live_server(svc.client.app) as base_url:
        yield base_url


def _one_applied(replies, created: int = 201) -> None:
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [created] + [409] * (len(replies) - 1), [r.text for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            body = reply.json()
            assert reply.headers["content-type"] == PROBLEM and body["status"] == 409
            assert body["detail"] and (body.get("field") or body.get("constraint")), body


def test_one_report_verified_by_many_verifiers_at_once_is_verified_once(svc, live):
    report = svc.reported(svc.registered())
    path = f"/api/v1/monitoring-reports/{report['id']}/verifications"

    def verifier(n: int):
        accredit(svc, (f"ver-race-{n}", "verifier", f"racer{n}"))
        headers = svc.signing_key.headers(f"ver-race-{n}", "verifier", f"racer{n}")
        body = {"decision": "verified", "verified_tco2e": "4000", "comments": f"verifier {n}"}
        return lambda client: client.post(path, json=body, headers=headers)

    replies = race([verifier(n) for n in range(RACERS)], live)
    _one_applied(replies)
    winner = next(r.json() for r in replies if r.status_code == 201)
    assert winner["state"] == "verified" and winner["issuance_id"]
    assert svc.count("verification") == 1
    assert svc.count("outbox", "envelope LIKE :t", t=f'%"{VERIFIED_TYPE}"%') == 1
    assert svc.count("project_timeline", "step = 'monitoring_verified'") == 1
    assert svc.count("monitoring_report", "issuance_id = :i", i=winner["issuance_id"]) == 1


@pytest.mark.parametrize(("decision", "state"), [("approve", "registered"),
                                                 ("reject", "rejected"),
                                                 ("request_changes", "changes_requested")])
def test_many_identical_reviews_of_one_project_at_once_apply_once(svc, live, decision, state):
    project = svc.submitted()
    path = f"/api/v1/projects/{project['id']}/reviews"
    body = {"decision": decision, "comments": "looked at it",
            **({"buffer_pct": "20"} if decision == "approve" else {})}

    def reviewer(n: int):
        accredit(svc, (f"ver-review-{n}", "verifier", f"reviewer{n}"))
        headers = svc.signing_key.headers(f"ver-review-{n}", "verifier", f"reviewer{n}")
        return lambda client: client.post(path, json=body, headers=headers)

    replies = race([reviewer(n) for n in range(RACERS)], live)
    _one_applied(replies)
    assert svc.count("project", "state = :s", s=state) == 1
    assert svc.count("project_timeline", "step = :s", s=state) == 1
    registered = 1 if decision == "approve" else 0
    assert svc.count("registry_counter", "value = :v", v=registered) == 1  # no number burnt
    assert svc.count("project", "project_number IS NOT NULL") == registered


def test_one_period_reported_many_times_at_once_is_reported_once(svc, live):
    project = svc.registered()
    path = f"/api/v1/projects/{project['id']}/monitoring-reports"
    headers = svc.as_(DEV)
    replies = race([lambda client: client.post(path, json=monitoring(), headers=headers)
                    for _ in range(RACERS)], live)
    _one_applied(replies)
    assert all(r.json()["field"] == "period_start" for r in replies if r.status_code == 409)
    assert svc.count("monitoring_report") == 1
    assert svc.count("project_timeline", "step = 'monitoring_reported'") == 1


def test_many_credits_issued_events_for_one_report_at_once_are_applied_once(svc):
    report = verified_report(svc)
    runner = consumer_runner(svc)
    # distinct event ids: the inbox does not deduplicate them, the report's state must
    records = [kafka_record(credits_issued(report, quantity=3000 + n)) for n in range(RACERS)]
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        outcomes = list(pool.map(runner.apply, records))
    assert outcomes == ["applied"] * RACERS  # the later ones changed nothing, by design
    assert svc.count("project_timeline", "step = 'credits_issued'") == 1
    assert svc.count("monitoring_report", "state = 'issued'") == 1
    assert svc.count("inbox") == RACERS
