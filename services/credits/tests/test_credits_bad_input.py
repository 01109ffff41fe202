"""Input PostgreSQL cannot store, and listings' cancellation rules: 4xx naming the field or the
rule, never a 500."""
from __future__ import annotations

import base64
import json

import pytest
from sqlmodel import Session

from tanhui_credits.store.reconcile import registry_discrepancies

LONE_SURROGATE = "\\ud800"  # JSON's escape for a lone surrogate: valid JSON, not UTF-8 text
OPTIONAL_IDS = [
    ("/api/v1/transfers", '{"to_username": "RECEIVER", "quantity": 1, %s}', "project_id"),
    ("/api/v1/retirements", '{"quantity": 1, "beneficiary": "b", "purpose": "p", %s}',
     "project_id"),
    ("/api/v1/retirements", '{"quantity": 1, "beneficiary": "b", "purpose": "p", %s}',
     "report_id"),
    ("/api/v1/listings", '{"quantity": 1, "price_per_tonne": "5.00", %s}', "project_id"),
    ("/api/v1/transfers", '{"quantity": 1, %s}', "to_username"),
]


@pytest.mark.parametrize(("path", "template", "field"), OPTIONAL_IDS)
def test_a_lone_surrogate_is_refused_naming_the_field(world, path, template, field):
    dev, receiver = world.user(), world.user()  # a real receiver: the request gets that far
    world.issue(dev, 5)
    raw = (template % f'"{field}": "{LONE_SURROGATE}"').replace("RECEIVER", receiver.username)
    reply = world.http.post(path, content=raw.encode("ascii"),
                            headers={**dev.headers, "Content-Type": "application/json"})
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert world.holdings(dev)["total"] == 5


def test_a_nul_character_is_refused_too(world):
    dev = world.user()
    reply = world.http.post("/api/v1/listings", headers=dev.headers, json={
        "quantity": 1, "price_per_tonne": "5.00", "project_id": "p\x00"})
    assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "project_id"


def test_only_the_seller_cancels_an_open_listing_once(world):
    seller, stranger = world.user(), world.user()
    world.issue(seller, 30, project_number=700)
    listing = world.http.post("/api/v1/listings", headers=seller.headers,
                              json={"quantity": 12, "price_per_tonne": "9.90"}).json()
    assert world.holdings(seller)["available"] == 18
    path = f"/api/v1/listings/{listing['id']}/cancel"
    assert world.http.post(path, headers=stranger.headers).status_code == 403
    assert world.http.post("/api/v1/listings/no-such/cancel",
                           headers=seller.headers).status_code == 404
    keyed = {**seller.headers, "Idempotency-Key": "cancel-1"}
    first = world.http.post(path, headers=keyed)
    assert first.status_code == 200, first.text
    assert first.json() | {"id": None} == {**first.json(), "id": None, "status": "cancelled",
                                           "remaining": 0, "quantity": 12}
    replay = world.http.post(path, headers=keyed)
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    again = world.http.post(path, headers=seller.headers)
    assert again.status_code == 409 and again.json()["code"] == "listing-not-open"
    assert world.holdings(seller)["available"] == 30
    assert listing["id"] not in [l["id"] for l in world.http.get("/api/v1/listings").json()]
    lineage = world.http.get("/api/v1/registry/serials/NC-FS-0700-2025-000000030").json()
    assert [s["created_by"]["kind"] for s in lineage["steps"]] == \
        ["issue", "split", "reserve", "release"]


def test_a_sold_out_listing_cannot_be_cancelled(world):
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 5)
    assert world.http.get("/api/v1/listings").json() == []  # ours will be the one bought from
    listing = world.http.post("/api/v1/listings", headers=seller.headers,
                              json={"quantity": 5, "price_per_tonne": "0.01"}).json()
    event = world.http.post("/api/v1/events", headers=organizer.headers, json={
        "name": "Small fair", "start_date": "2025-05-01", "end_date": "2025-05-01",
        "venue": "Jinjiang", "attendees": 10}).json()
    bought = world.http.post(f"/api/v1/events/{event['id']}/offsets", headers=organizer.headers,
                             json={"quantity": 5})
    assert bought.status_code == 201, bought.text
    reply = world.http.post(f"/api/v1/listings/{listing['id']}/cancel", headers=seller.headers)
    assert reply.status_code == 409 and reply.json()["field"] == "listing_id"
    with Session(world.engine) as session:
        assert registry_discrepancies(session) == []


def _cursor(key) -> str:  # noqa: ANN001
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("query", "field"), [
    ("project_id=p&limit=0", "limit"), ("project_id=p&limit=201", "limit"),
    ("project_id=p&offset=-1", "offset"), ("project_id=p&after=", "after"),
    ("project_id=p&after=!!", "after"), ("project_id=p&after=bm90IGpzb24", "after"),  # not json
    (f"project_id=p&after={_cursor([2025])}", "after"),
    (f"project_id=p&after={_cursor([2025, '1'])}", "after"),
    (f"project_id=p&after={_cursor([2025, 2**40])}", "after"),
    (f"project_id=p&after={_cursor([2025, True])}", "after"),
    (f"project_id=p&after={_cursor({'vintage': 2025})}", "after"),
    (f"project_id=p&after={_cursor([2025, 1])}&offset=2", "offset")])
def test_bad_paging_of_the_registrys_blocks_is_a_422_naming_the_field(world, query, field):
    reply = world.http.get(f"/api/v1/registry/blocks?{query}")
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in reply.json()["errors"]] == [field]


@pytest.mark.parametrize("key", [["2025-01-01T00:00:00"], ["yesterday", "loss"],
                                 ["2025-01-01T00:00:00", "loss"],  # no zone: not one handed out
                                 ["2025-01-01T00:00:00+00:00", ""], [1, "loss"]])
def test_a_compensations_cursor_not_handed_out_is_a_422_naming_after(world, key):
    reply = world.http.get(f"/api/v1/registry/compensations?after={_cursor(key)}")
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["after"]
