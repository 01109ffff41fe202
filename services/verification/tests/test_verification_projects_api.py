"""Filing, submission, review and reading of projects through the HTTP API (real PostgreSQL)."""
from __future__ import annotations

import pytest

from verification_support import AUDITOR, DEV, OTHER_DEV, REVIEWER, accredit, filing, sha

PROBLEM = "application/problem+json"


def _nothing_written(svc) -> None:
    assert svc.count("project") == 0
    assert svc.count("project_timeline") == 0
    assert svc.count("document") == 0


def test_filing_starts_a_draft_with_its_documents_and_a_first_timeline_step(svc):
    project = svc.filed()
    assert project["state"] == "draft" and project["project_number"] is None
    assert project["area_ha"] == "1250.5" and project["crediting_end"] == "2051-01-01"
    assert project["developer_username"] == "lin.forest"
    detail = svc.get(f"/api/v1/projects/{project['id']}", DEV).json()
    assert detail["documents"] == [{"name": "design.pdf", "sha256": sha("design")}]
    assert [(s["step"], s["actor_user_id"]) for s in detail["timeline"]] == [("filed", "dev-1")]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kind": "mangrove"}, "kind"),
    ({"area_ha": "0"}, "area_ha"),
    ({"area_ha": "-3"}, "area_ha"),
    ({"area_ha": "100000.0001"}, "area_ha"),
    ({"area_ha": "NaN"}, "area_ha"),
    ({"crediting_years": 19}, "crediting_years"),
    ({"crediting_years": 41}, "crediting_years"),  # CCER-14-001-V01: at most 40 (was 60)
    ({"kind": "bamboo"}, "kind"),  # bamboo is a vegetation of afforestation now
    ({"kind": "forest_management"}, "kind"),  # no current CCER methodology
    ({"vegetation": "grass"}, "vegetation"),
    # land eligibility (CCER-14-001-V01): non-forest since 2018-01-01 at the latest for a
    # 2021-01-01 start (2021 - 3 = 2018)
    ({"non_forest_since": "2018-01-02"}, "non_forest_since"),
    ({"smallest_parcel_m2": "399.99"}, "smallest_parcel_m2"),
    ({"smallest_parcel_m2": "12505001"}, "smallest_parcel_m2"),  # 1250.5 ha = 12,505,000 m2
    ({"land_is_wetland": True}, "land_is_wetland"),
    ({"burning_site_preparation": True}, "burning_site_preparation"),
    ({"land_is_wetland": "no"}, "land_is_wetland"),
    ({"documents": [{"name": "x.pdf", "sha256": "abc"}]}, "documents[0].sha256"),
    ({"documents": [{"name": "x.pdf", "sha256": "g" * 64}]}, "documents[0].sha256"),
])
def test_bad_filings_are_422_naming_the_field_and_write_nothing(svc, overrides, field):
    reply = svc.post("/api/v1/projects", DEV, filing(**overrides))
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body.get("field") == field or field in [e["field"] for e in body.get("errors", [])]
    _nothing_written(svc)


def test_only_developers_file_projects(svc):
    reply = svc.post("/api/v1/projects", REVIEWER, filing())
    assert reply.status_code == 403 and reply.headers["content-type"] == PROBLEM
    assert svc.client.post("/api/v1/projects", json=filing()).status_code == 401
    _nothing_written(svc)


def test_a_certificate_belongs_to_one_active_project_until_it_is_rejected(svc):
    first = svc.submitted()
    reply = svc.post("/api/v1/projects", OTHER_DEV, filing(name="copy"))
    assert reply.status_code == 409 and reply.json()["field"] == "forest_rights_certificate"
    assert svc.count("project") == 1
    rejected = svc.post(f"/api/v1/projects/{first['id']}/reviews", REVIEWER,
                        {"decision": "reject", "comments": "the certificate is disputed"})
    assert rejected.status_code == 201 and rejected.json()["state"] == "rejected"
    assert svc.post("/api/v1/projects", OTHER_DEV, filing(name="again")).status_code == 201


def test_only_the_owner_submits_and_only_from_draft_or_changes_requested(svc):
    project = svc.filed()
    path = f"/api/v1/projects/{project['id']}/submit"
    assert svc.post(path, OTHER_DEV).status_code == 403
    assert svc.post(path, DEV).json()["state"] == "submitted"
    again = svc.post(path, DEV)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert again.json()["field"] == "state" and again.json()["state"] == "submitted"
    assert svc.post("/api/v1/projects/nope/submit", DEV).status_code == 404


def test_a_developer_cannot_review_their_own_project(svc):
    project = svc.submitted()
    path = f"/api/v1/projects/{project['id']}/reviews"
    approve = {"decision": "approve", "comments": "fine by me", "buffer_pct": "15"}
    # with their developer token: wrong role
    assert svc.post(path, DEV, approve).status_code == 403
    # the same person holding a verifier token (and an accreditation): conflict of interest
    same_person = ("dev-1", "verifier", "lin.forest")
    accredit(svc, same_person)
    reply = svc.post(path, same_person, approve)
    assert reply.status_code == 403 and reply.headers["content-type"] == PROBLEM
    assert reply.json()["code"] == "conflict-of-interest"
    assert svc.get(f"/api/v1/projects/{project['id']}", REVIEWER).json()["state"] == "submitted"
    assert svc.count("project_timeline") == 2  # filed, submitted: nothing from the refusals


@pytest.mark.parametrize(("buffer_pct", "status"), [(None, 422), ("9.5", 422), ("30.5", 422),
                                                    ("12.345", 422), ("12.5", 201)])
def test_approval_needs_a_buffer_in_range(svc, buffer_pct, status):
    project = svc.submitted()
    body = {"decision": "approve", "comments": "ok"}
    if buffer_pct is not None:
        body["buffer_pct"] = buffer_pct
    reply = svc.post(f"/api/v1/projects/{project['id']}/reviews", REVIEWER, body)
    assert reply.status_code == status, reply.text
    if status == 422:
        assert reply.headers["content-type"] == PROBLEM
        assert svc.count("project", "state = 'submitted' AND project_number IS NULL") == 1
    else:
        assert reply.json()["buffer_pct"] == "12.5"


def test_reviewing_a_registered_project_is_409_naming_the_state(svc):
    project = svc.registered()
    reply = svc.post(f"/api/v1/projects/{project['id']}/reviews", AUDITOR,
                     {"decision": "reject", "comments": "too late"})
    assert reply.status_code == 409
    assert reply.json()["state"] == "registered" and reply.json()["field"] == "state"


def test_request_changes_needs_comments_and_allows_resubmission(svc):
    project = svc.submitted()
    path = f"/api/v1/projects/{project['id']}/reviews"
    assert svc.post(path, REVIEWER, {"decision": "request_changes"}).json()["field"] == "comments"
    assert svc.post(path, REVIEWER, {"decision": "request_changes",
                                     "comments": "add the baseline survey"}).status_code == 201
    assert svc.post(f"/api/v1/projects/{project['id']}/submit", DEV).json()["state"] == "submitted"


def test_registration_numbers_are_sequential_in_approval_order(svc):
    first = svc.submitted()
    second = svc.registered(forest_rights_certificate="ZJ-LQ-2021-000999")
    approved = svc.post(f"/api/v1/projects/{first['id']}/reviews", REVIEWER,
                        {"decision": "approve", "comments": "ok", "buffer_pct": "10"}).json()
    assert (second["project_number"], approved["project_number"]) == (1, 2)


def test_drafts_are_private_to_their_developer_and_verifiers(svc):
    registered = svc.registered(county="Suichang")
    draft = svc.filed(forest_rights_certificate="C-2", vegetation="bamboo", crediting_years=25)
    other = svc.filed(OTHER_DEV, forest_rights_certificate="C-3")

    def ids(actor, **params):
        page = svc.get("/api/v1/projects", actor, **params).json()
        return {p["id"] for p in page["items"]}, page["total"]

    assert ids(None) == ({registered["id"]}, 1)
    assert ids(DEV) == ({registered["id"], draft["id"]}, 2)
    assert ids(OTHER_DEV) == ({registered["id"], other["id"]}, 2)
    assert ids(REVIEWER) == ({registered["id"], draft["id"], other["id"]}, 3)
    assert ids(REVIEWER, state="draft", kind="forest_management") == (set(), 0)
    assert ids(REVIEWER, county="Suichang") == ({registered["id"]}, 1)
    assert svc.get(f"/api/v1/projects/{draft['id']}", OTHER_DEV).status_code == 404
    assert svc.get(f"/api/v1/projects/{draft['id']}").status_code == 404
    assert svc.get(f"/api/v1/projects/{registered['id']}").status_code == 200
    assert svc.get("/api/v1/projects", None, state="frozen").status_code == 422


def test_listing_is_paginated_with_a_total(svc):
    for n in range(5):
        svc.filed(forest_rights_certificate=f"C-{n}")
    page = svc.get("/api/v1/projects", DEV, limit=2, offset=4).json()
    assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (1, 5, 2, 4)
    assert svc.get("/api/v1/projects", DEV, limit=0).status_code == 422


def test_an_idempotency_key_replays_the_first_filing(svc):
    key = {"Idempotency-Key": "file-once"}
    first = svc.post("/api/v1/projects", DEV, filing(), **key)
    again = svc.post("/api/v1/projects", DEV, filing(), **key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert svc.count("project") == 1
    different = svc.post("/api/v1/projects", DEV, filing(name="another"), **key)
    assert different.status_code == 422 and different.json()["field"] == "Idempotency-Key"
