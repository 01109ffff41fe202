"""Input no rule can accept answers 422 naming the field, before anything is written; it never
reaches a date overflow or the database driver as a 500."""
from __future__ import annotations

import json

import pytest

from verification_support import AUDITOR, DEV, filing, make_service, monitoring

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def svc(migrated_database, signing_key):
    """One service for this module: every request below is refused, so the tests share its
    rows (a registered project with one report) and compare counts before and after."""
    service = make_service(migrated_database("verification"), signing_key)
    service.project = service.registered(forest_rights_certificate="C-registered")
    service.report = service.reported(service.project)
    yield service
    service.engine.dispose()


def _writes(svc) -> tuple[int, ...]:
    return tuple(svc.count(table) for table in ("project", "monitoring_report", "verification",
                                                "document", "project_timeline"))


def _names(reply, field: str) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body.get("field") == field or field in [e["field"] for e in body.get("errors", [])]


def _raw_post(svc, path: str, actor, text: str):
    """A body as raw JSON text: `\\ud800` is valid JSON that Python's client cannot send."""
    return svc.client.post(path, content=text.encode(), headers={
        **svc.as_(actor), "content-type": "application/json"})


@pytest.mark.parametrize("start", ["9980-01-01", "9999-12-31", "2101-01-01", "1989-12-31",
                                   "10000-01-01", "0001-01-01"])
def test_a_crediting_start_outside_1990_to_2100_is_422(svc, start):
    before = _writes(svc)
    _names(svc.post("/api/v1/projects", DEV, filing(crediting_start=start)), "crediting_start")
    assert _writes(svc) == before


def test_the_bounds_of_the_crediting_start_are_accepted(migrated_database, signing_key):
    fresh = make_service(migrated_database("verification"), signing_key)
    first = fresh.filed(crediting_start="1990-01-01", forest_rights_certificate="C-1",
                        non_forest_since="1987-01-01")
    last = fresh.filed(crediting_start="2100-12-31", crediting_years=40,
                       forest_rights_certificate="C-2")
    assert (first["crediting_end"], last["crediting_end"]) == ("2020-01-01", "2140-12-31")
    fresh.engine.dispose()


@pytest.mark.parametrize(("field", "value"), [
    ("name", "\\ud800"), ("county", "a\\udfffb"), ("description", "x\\u0000y"),
    ("forest_rights_certificate", "\\u0000"),
])
def test_text_postgresql_cannot_store_is_422(svc, field, value):
    before = _writes(svc)
    text = json.dumps({k: v for k, v in filing().items() if k != field})
    text = text[:-1] + f', "{field}": "{value}"}}'
    _names(_raw_post(svc, "/api/v1/projects", DEV, text), field)
    assert _writes(svc) == before


def test_a_lone_surrogate_in_a_document_review_or_verification_is_422(svc):
    before = _writes(svc)
    text = json.dumps(filing(forest_rights_certificate="C-9"))
    text = text.replace('"design.pdf"', '"\\ud800.pdf"')
    _names(_raw_post(svc, "/api/v1/projects", DEV, text), "documents[0].name")
    _names(_raw_post(svc, f"/api/v1/projects/{svc.project['id']}/reviews", AUDITOR,
                     '{"decision": "reject", "comments": "\\udc00"}'), "comments")
    _names(_raw_post(svc, f"/api/v1/monitoring-reports/{svc.report['id']}/verifications",
                     AUDITOR, '{"decision": "rejected", "comments": "\\ud800"}'), "comments")
    assert _writes(svc) == before


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/projects/%00", "project_id"),
    ("/api/v1/monitoring-reports/%00", "report_id"),
])
def test_a_nul_in_an_id_or_filter_is_422(svc, path, field):
    _names(svc.get(path, AUDITOR), field)
    _names(svc.get("/api/v1/projects", AUDITOR, county="a\x00"), "county")


def test_a_nul_in_an_id_of_a_write_is_422(svc):
    _names(svc.post("/api/v1/projects/a%00b/submit", DEV), "project_id")
    _names(svc.post("/api/v1/monitoring-reports/%00/verifications", AUDITOR,
                    {"decision": "rejected", "comments": "no"}), "report_id")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"period_start": "0001-01-01", "period_end": "0001-12-31"}, "period_start"),
    ({"period_start": "9999-01-01", "period_end": "9999-12-31"}, "period_end"),
    ({"period_start": "2022-01-01", "period_end": "99999-12-31"}, "period_end"),
    ({"leakage_tco2e": "1e300"}, "leakage_tco2e"),
    ({"baseline_sink_tco2e": "Infinity"}, "baseline_sink_tco2e"),
])
def test_monitoring_figures_out_of_any_range_are_422(svc, overrides, field):
    before = _writes(svc)
    reply = svc.post(f"/api/v1/projects/{svc.project['id']}/monitoring-reports", DEV,
                     monitoring(**overrides))
    _names(reply, field)
    assert _writes(svc) == before
