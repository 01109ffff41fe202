"""Reversals and loss events through the HTTP API (issue 13), on the real PostgreSQL: a negative
monitoring period is recorded and verified as a reversal that issues nothing and becomes a loss;
a reported loss is decided by an accredited, independent verifier; credits' BufferCompensated
marks it compensated once."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from tanhui_shared.contracts import BufferCompensated
from verification_support import AUDITOR, DEV, OTHER_DEV, REVIEWER, consumer_runner, kafka_record

LOSS_TYPE = "cn.tanhui.verification.loss_verified.v1"
FIRE = {"cause": "fire", "occurred_on": "2023-07-14", "area_ha": "40.5",
        "estimated_tco2e": "350.4", "description": "a hillside burnt"}


def _published(svc, event_type: str) -> list[dict]:
    with svc.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT envelope FROM outbox ORDER BY seq")).all()
    events = [json.loads(row[0]) for row in rows]
    return [e["data"] for e in events if e["type"] == event_type]


def test_a_negative_period_is_a_reversal_verified_issuing_nothing(svc):
    project = svc.registered()
    # 1000 - 1200 - 50 = -250 t: the period lost carbon
    report = svc.reported(project, project_sink_tco2e="1000", baseline_sink_tco2e="1200",
                          leakage_tco2e="50")
    assert report["claim_tco2e"] == "-250" and report["reversal"] is True
    path = f"/api/v1/monitoring-reports/{report['id']}/verifications"
    refused = svc.post(path, AUDITOR, {"decision": "verified", "verified_tco2e": "250"})
    assert refused.status_code == 422 and refused.json()["field"] == "verified_tco2e"
    # the verifier finds a larger loss than reported: -260 t
    verified = svc.post(path, AUDITOR, {"decision": "verified", "verified_tco2e": "-260",
                                        "comments": "plots re-measured"})
    assert verified.status_code == 201, verified.text
    assert verified.json()["state"] == "verified" and verified.json()["issuance_id"] is None
    assert _published(svc, "cn.tanhui.verification.monitoring_verified.v1") == []
    [loss] = _published(svc, LOSS_TYPE)
    assert (loss["cause"], loss["verified_tco2e"], loss["monitoring_report_id"]) == (
        "reversal", "260.0000", report["id"])
    detail = svc.get(f"/api/v1/projects/{project['id']}").json()
    [recorded] = detail["loss_events"]
    assert recorded["state"] == "verified" and recorded["verified_tco2e"] == "260"


def test_a_loss_is_reported_confirmed_at_a_corrected_figure_and_compensated_once(svc):
    project = svc.registered()
    reply = svc.post(f"/api/v1/projects/{project['id']}/loss-events", DEV, FIRE)
    assert reply.status_code == 201, reply.text
    loss = reply.json()
    assert loss["state"] == "reported"
    assert [l["id"] for l in svc.get("/api/v1/verifiers/queue", AUDITOR).json()
            ["loss_events"]] == [loss["id"]]
    path = f"/api/v1/loss-events/{loss['id']}/verifications"
    # the developer may not judge their own loss; the design's approver may not either (strict)
    assert svc.post(path, DEV, {"decision": "confirmed", "verified_tco2e": "1"}).status_code == 403
    assert svc.post(path, REVIEWER, {"decision": "confirmed",
                                     "verified_tco2e": "1"}).status_code == 403
    decided = svc.post(path, AUDITOR, {"decision": "confirmed", "verified_tco2e": "380",
                                       "comments": "burn scar mapped"})
    assert decided.status_code == 201, decided.text
    assert decided.json()["state"] == "verified" and decided.json()["verified_tco2e"] == "380"
    again = svc.post(path, AUDITOR, {"decision": "rejected"})
    assert again.status_code == 409
    [published] = _published(svc, LOSS_TYPE)
    assert published["verified_tco2e"] == "380.0000" and published["cause"] == "fire"

    answer = BufferCompensated(loss_id=loss["id"], project_id=project["id"], required=380,
                               from_pool=300, from_developer=79, shortfall=1,
                               serial_ranges=["NC-FS-0001-2022-000000001-000000379"],
                               compensated_at=datetime(2023, 9, 1, tzinfo=UTC))
    runner = consumer_runner(svc)
    runner.apply(kafka_record(answer))
    runner.apply(kafka_record(answer))  # a redelivery under another event id
    shown = svc.get(f"/api/v1/loss-events/{loss['id']}").json()
    assert (shown["state"], shown["from_pool"], shown["from_developer"], shown["shortfall"]) == (
        "compensated", 300, 79, 1)
    steps = [s["step"] for s in svc.get(f"/api/v1/projects/{project['id']}").json()["timeline"]]
    assert steps.count("loss_compensated") == 1


def test_bad_loss_reports_are_refused_naming_the_field(svc):
    project = svc.registered()
    path = f"/api/v1/projects/{project['id']}/loss-events"
    cases = [({"occurred_on": "2020-06-01"}, "occurred_on"),  # before the crediting start
             ({"occurred_on": "2999-01-01"}, "occurred_on"),  # in the future
             ({"area_ha": "1250.6"}, "area_ha"),  # larger than the project
             ({"estimated_tco2e": "0"}, "estimated_tco2e"),
             ({"cause": "reversal"}, "cause")]  # only a verified report makes a reversal
    for overrides, field in cases:
        reply = svc.post(path, DEV, {**FIRE, **overrides})
        assert reply.status_code == 422, (overrides, reply.text)
        body = reply.json()
        assert body.get("field") == field or field in [e["field"] for e in body.get("errors", [])]
    assert svc.post(path, OTHER_DEV, FIRE).status_code == 403
    assert svc.count("loss_event") == 0
