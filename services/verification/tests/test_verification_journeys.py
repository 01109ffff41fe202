"""A developer's and a verifier's whole journey (issue 14), through the HTTP API on the real
PostgreSQL: editing a filing after changes are requested and resubmitting it, withdrawing a
project, listing one's own projects, and a verifier's own past decisions."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from verification_support import AUDITOR, DEV, OTHER_DEV, REVIEWER, sha

FIRE = {"cause": "fire", "occurred_on": "2023-07-14", "area_ha": "40.5",
        "estimated_tco2e": "350.4", "description": "a hillside burnt"}


def _patch(svc, project: dict, actor, body: dict):
    return svc.client.patch(f"/api/v1/projects/{project['id']}", json=body,
                            headers=svc.as_(actor))


def _steps(svc, project: dict) -> list[str]:
    return [s["step"] for s in svc.get(f"/api/v1/projects/{project['id']}", DEV)
            .json()["timeline"]]


def _review(svc, project: dict, decision: str, **extra):
    reply = svc.post(f"/api/v1/projects/{project['id']}/reviews", REVIEWER,
                     {"decision": decision, **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_a_draft_is_edited_by_its_developer_and_the_timeline_names_the_changes(svc):
    project = svc.filed()
    reply = _patch(svc, project, DEV, {
        "name": "Longquan afforestation phase II", "area_ha": "900",
        "documents": [{"name": "map-v2.pdf", "sha256": sha("map-v2")}],
        "comments": "area re-surveyed"})
    assert reply.status_code == 200, reply.text
    edited = reply.json()
    assert (edited["name"], edited["area_ha"], edited["state"]) == (
        "Longquan afforestation phase II", "900", "draft")
    detail = svc.get(f"/api/v1/projects/{project['id']}", DEV).json()
    assert [d["name"] for d in detail["documents"]] == ["design.pdf", "map-v2.pdf"]
    step = detail["timeline"][-1]
    assert (step["step"], step["from_state"], step["to_state"]) == ("edited", "draft", "draft")
    assert step["comments"] == ("changed: area_ha, name; 1 document(s) added. "
                                "area re-surveyed")


@pytest.mark.parametrize("change, field", [
    # CCER-14-001-V01: non-forest for at least 3 years before the start (2021-01-01)
    ({"non_forest_since": "2018-01-02"}, "non_forest_since"),
    # the merged filing is checked: a parcel larger than the whole (now smaller) area
    ({"area_ha": "0.2"}, "smallest_parcel_m2"),
    ({"crediting_years": 41}, "crediting_years"),
    ({"land_is_wetland": True}, "land_is_wetland"),
    ({"name": None}, "name"),
    ({"area_ha": "-1"}, "area_ha"),
])
def test_an_edit_the_rules_refuse_is_422_naming_the_field_and_changes_nothing(svc, change,
                                                                              field):
    project = svc.filed()
    reply = _patch(svc, project, DEV, change)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field
    after = svc.get(f"/api/v1/projects/{project['id']}", DEV).json()
    assert {k: after[k] for k in project if k in after} == project
    assert _steps(svc, project) == ["filed"]


def test_an_edit_cannot_take_another_active_projects_certificate(svc):
    svc.filed(forest_rights_certificate="SC-NC-2020-000777")
    mine = svc.filed(forest_rights_certificate="SC-NC-2020-000778")
    # the same certificate in another spelling (full-width digits) is the same certificate
    reply = _patch(svc, mine, DEV, {"forest_rights_certificate": "SC-NC-2020-０００７７７"})
    assert reply.status_code == 409 and reply.json()["field"] == "forest_rights_certificate"
    # its own certificate, respelled, is no conflict with itself
    respelled = _patch(svc, mine, DEV, {"forest_rights_certificate": "sc-nc-2020-000778"})
    assert respelled.status_code == 200, respelled.text


def test_only_the_developer_edits_and_only_in_draft_or_changes_requested(svc):
    project = svc.filed()
    assert _patch(svc, project, OTHER_DEV, {"name": "mine now"}).status_code == 403
    assert _patch(svc, project, REVIEWER, {"name": "x"}).status_code == 403
    svc.post(f"/api/v1/projects/{project['id']}/submit", DEV)
    under_review = _patch(svc, project, DEV, {"name": "during review"})
    assert under_review.status_code == 409, under_review.text
    body = under_review.json()
    assert (body["code"], body["field"], body["state"]) == (
        "illegal-transition", "state", "submitted")
    _review(svc, project, "approve", buffer_pct="20", comments="ok")
    registered = _patch(svc, project, DEV, {"name": "after registration"})
    assert registered.status_code == 409 and registered.json()["state"] == "registered"


def test_changes_requested_then_edited_and_resubmitted_is_back_in_the_queue(svc):
    project = svc.submitted()
    _review(svc, project, "request_changes", comments="parcel map missing")
    queue = svc.get("/api/v1/verifiers/queue", REVIEWER).json()["projects"]
    assert project["id"] not in [p["id"] for p in queue]
    edited = _patch(svc, project, DEV, {
        "documents": [{"name": "parcels.pdf", "sha256": sha("parcels")}],
        "comments": "parcel map added"})
    assert edited.status_code == 200 and edited.json()["state"] == "changes_requested"
    resubmitted = svc.post(f"/api/v1/projects/{project['id']}/submit", DEV)
    assert resubmitted.status_code == 200 and resubmitted.json()["state"] == "submitted"
    queue = svc.get("/api/v1/verifiers/queue", REVIEWER).json()["projects"]
    assert project["id"] in [p["id"] for p in queue]
    assert _review(svc, project, "approve", buffer_pct="15", comments="ok")["state"] == (
        "registered")
    assert _steps(svc, project) == ["filed", "submitted", "changes_requested", "edited",
                                    "submitted", "registered"]


@pytest.mark.parametrize("stage", ["draft", "submitted", "changes_requested"])
def test_a_project_is_withdrawn_before_registration_and_stays_withdrawn(svc, stage):
    project = svc.filed() if stage == "draft" else svc.submitted()
    if stage == "changes_requested":
        _review(svc, project, "request_changes", comments="fix the map")
    path = f"/api/v1/projects/{project['id']}/withdraw"
    assert svc.post(path, OTHER_DEV).status_code == 403
    reply = svc.post(path, DEV, {"comments": "the land was sold"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "withdrawn"
    step = svc.get(f"/api/v1/projects/{project['id']}", DEV).json()["timeline"][-1]
    assert (step["step"], step["from_state"], step["to_state"], step["comments"]) == (
        "withdrawn", stage, "withdrawn", "the land was sold")
    # terminal: no second withdrawal, no edit, no submission, no review
    for refused in (svc.post(path, DEV),
                    svc.post(f"/api/v1/projects/{project['id']}/submit", DEV),
                    _patch(svc, project, DEV, {"name": "again"}),
                    svc.post(f"/api/v1/projects/{project['id']}/reviews", REVIEWER,
                             {"decision": "reject", "comments": "no"})):
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "illegal-transition"


def test_a_registered_or_rejected_project_is_not_withdrawn(svc):
    registered = svc.registered()
    reply = svc.post(f"/api/v1/projects/{registered['id']}/withdraw", DEV)
    assert reply.status_code == 409 and reply.json()["state"] == "registered"
    rejected = svc.submitted(forest_rights_certificate="SC-NC-2019-000001")
    _review(svc, rejected, "reject", comments="not eligible")
    reply = svc.post(f"/api/v1/projects/{rejected['id']}/withdraw", DEV)
    assert reply.status_code == 409 and reply.json()["state"] == "rejected"


def test_a_withdrawn_projects_certificate_is_free_and_the_database_keeps_it_single(svc):
    withdrawn = svc.filed()
    svc.post(f"/api/v1/projects/{withdrawn['id']}/withdraw", DEV)
    again = svc.filed()  # the same certificate, filed anew
    assert again["forest_rights_certificate"] == withdrawn["forest_rights_certificate"]
    # a path that revived the withdrawn filing would hold the certificate twice: refused
    with svc.engine.connect() as conn, pytest.raises(sa.exc.IntegrityError,
                                                     match="ux_project_active_certificate"):
        conn.execute(sa.text("UPDATE project SET state = 'draft' WHERE id = :id"),
                     {"id": withdrawn["id"]})


def test_the_database_knows_withdrawn_and_no_other_new_state(svc):
    project = svc.filed()
    with svc.engine.begin() as conn:
        conn.execute(sa.text("UPDATE project SET state = 'withdrawn' WHERE id = :id"),
                     {"id": project["id"]})
    with svc.engine.connect() as conn, pytest.raises(sa.exc.IntegrityError,
                                                     match="ck_project_state"):
        conn.execute(sa.text("UPDATE project SET state = 'cancelled' WHERE id = :id"),
                     {"id": project["id"]})


def test_mine_lists_the_callers_own_projects_in_any_state_filtered_by_status(svc):
    draft = svc.filed(forest_rights_certificate="A-1")
    submitted = svc.submitted(forest_rights_certificate="A-2")
    theirs = svc.filed(OTHER_DEV, forest_rights_certificate="B-1")
    page = svc.get("/api/v1/projects", DEV, mine="true").json()
    assert page["total"] == 2 and {p["id"] for p in page["items"]} == {draft["id"],
                                                                      submitted["id"]}
    only = svc.get("/api/v1/projects", DEV, mine="true", status="submitted").json()
    assert [p["id"] for p in only["items"]] == [submitted["id"]]
    assert [p["id"] for p in svc.get("/api/v1/projects", OTHER_DEV, mine="true")
            .json()["items"]] == [theirs["id"]]
    paged = svc.get("/api/v1/projects", DEV, mine="true", limit=1, offset=1).json()
    assert (paged["total"], len(paged["items"]), paged["limit"], paged["offset"]) == (2, 1, 1, 1)
    # a verifier sees every project, but files none of its own
    assert svc.get("/api/v1/projects", REVIEWER, mine="true").json()["total"] == 0
    anonymous = svc.get("/api/v1/projects", mine="true")
    assert anonymous.status_code == 401 and anonymous.json()["field"] == "mine"
    # without mine, the public list stays as it was: registered projects only
    assert svc.get("/api/v1/projects").json()["total"] == 0
    assert svc.get("/api/v1/projects", DEV, status="nonsense").status_code == 422


def test_a_verifier_lists_its_own_decisions_newest_first_by_kind(svc):
    project = svc.submitted()
    _review(svc, project, "request_changes", comments="add the parcel map")
    svc.post(f"/api/v1/projects/{project['id']}/submit", DEV)
    _review(svc, project, "approve", buffer_pct="20", comments="design conforms")
    report = svc.reported(project)
    verified = svc.post(f"/api/v1/monitoring-reports/{report['id']}/verifications", AUDITOR,
                        {"decision": "verified", "verified_tco2e": "4100", "comments": "ok"})
    assert verified.status_code == 201, verified.text
    loss = svc.post(f"/api/v1/projects/{project['id']}/loss-events", DEV, FIRE).json()
    decided = svc.post(f"/api/v1/loss-events/{loss['id']}/verifications", AUDITOR,
                       {"decision": "confirmed", "verified_tco2e": "300.5",
                        "comments": "burnt area measured"})
    assert decided.status_code == 201, decided.text

    reviews = svc.get("/api/v1/verifiers/me/decisions", REVIEWER).json()
    assert reviews["total"] == 2
    assert [(d["kind"], d["outcome"], d["comment"], d["quantity"]) for d in reviews["items"]] == [
        ("review", "approved", "design conforms", None),
        ("review", "changes_requested", "add the parcel map", None)]
    first = reviews["items"][0]
    assert (first["project_id"], first["subject_id"], first["project_name"]) == (
        project["id"], project["id"], project["name"])
    assert first["accreditation_number"].startswith("CNCA-V-")

    audits = svc.get("/api/v1/verifiers/me/decisions", AUDITOR).json()
    assert [(d["kind"], d["outcome"], d["subject_id"], d["quantity"]) for d in audits["items"]] == [
        ("loss", "confirmed", loss["id"], "300.5"),
        ("verification", "verified", report["id"], "4100")]
    only = svc.get("/api/v1/verifiers/me/decisions", AUDITOR, kind="verification").json()
    assert only["total"] == 1 and only["items"][0]["subject_id"] == report["id"]
    assert svc.get("/api/v1/verifiers/me/decisions", REVIEWER, kind="loss").json()["total"] == 0
    paged = svc.get("/api/v1/verifiers/me/decisions", AUDITOR, limit=1, offset=1).json()
    assert [d["kind"] for d in paged["items"]] == ["verification"] and paged["total"] == 2
    assert svc.get("/api/v1/verifiers/me/decisions", DEV).status_code == 403
    assert svc.get("/api/v1/verifiers/me/decisions", AUDITOR, kind="x").status_code == 422
