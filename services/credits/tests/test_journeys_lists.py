"""Issue 14's lists in credits, on PostgreSQL: paginated, newest first, and owner-scoped (another
user never sees them)."""
from __future__ import annotations

import uuid

from tanhui_shared.contracts import RedemptionRequestedV2

EVENT = {"name": "南充马拉松", "start_date": "2025-10-26", "end_date": "2025-10-26",
         "venue": "Jialing riverside", "attendees": 100, "electricity_kwh": "1000"}


def _get(world, user, path: str, **params):  # noqa: ANN001
    return world.http.get(path, headers=user.headers if user else {}, params=params)


def _page(world, user, path: str, **params) -> dict:  # noqa: ANN001
    reply = _get(world, user, path, **params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    return body


def _retire(world, user, quantity: int, beneficiary: str) -> dict:  # noqa: ANN001
    reply = world.http.post("/api/v1/retirements", headers=user.headers, json={
        "quantity": quantity, "beneficiary": beneficiary, "purpose": "自愿减排 / pledge"})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_an_organizer_lists_its_own_events_a_page_at_a_time_and_by_neutrality(world):
    mine, other = world.user("organizer"), world.user("organizer")
    ids = [world.http.post("/api/v1/events", headers=mine.headers,
                           json={**EVENT, "name": f"活动 {i}"}).json()["id"] for i in range(3)]
    theirs = world.http.post("/api/v1/events", headers=other.headers, json=EVENT).json()["id"]
    first = _page(world, mine, "/api/v1/events", limit=2)
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    rest = _page(world, mine, "/api/v1/events", limit=2, offset=2)
    assert [e["id"] for e in first["items"] + rest["items"]] == ids[::-1]  # newest first
    assert first["items"][0]["estimate"]["credits_to_neutralise"] >= 0  # the full event view
    assert [e["id"] for e in _page(world, other, "/api/v1/events")["items"]] == [theirs]
    # 1,000 kWh on the national 2023 grid (0.5306 kg/kWh) is 0.53 t: 1 credit to neutralise
    seller = world.user()
    world.issue(seller, 5, project_number=1500)
    world.http.post("/api/v1/listings", headers=seller.headers,
                    json={"quantity": 5, "price_per_tonne": "30.00"})
    offset = world.http.post(f"/api/v1/events/{ids[1]}/offsets", headers=mine.headers, json={})
    assert offset.status_code == 201, offset.text
    neutral = _page(world, mine, "/api/v1/events", status="neutral")
    assert [e["id"] for e in neutral["items"]] == [ids[1]] and neutral["total"] == 1
    uncovered = _page(world, mine, "/api/v1/events", status="uncovered", limit=1, offset=1)
    assert [e["id"] for e in uncovered["items"]] == [ids[0]] and uncovered["total"] == 2
    assert _get(world, world.user("enterprise"), "/api/v1/events").status_code == 403
    assert _get(world, None, "/api/v1/events").status_code == 401
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"status": "done"}):
        assert _get(world, mine, "/api/v1/events", **bad).status_code == 422, bad


def test_a_seller_lists_its_own_listings_in_every_status(world):
    seller, other = world.user(), world.user()
    world.issue(seller, 30, project_number=1501)
    world.issue(other, 5, project_number=1502)
    kept = world.http.post("/api/v1/listings", headers=seller.headers,
                           json={"quantity": 10, "price_per_tonne": "40.00"}).json()
    dropped = world.http.post("/api/v1/listings", headers=seller.headers,
                              json={"quantity": 10, "price_per_tonne": "41.00"}).json()
    world.http.post(f"/api/v1/listings/{dropped['id']}/cancel", headers=seller.headers)
    world.http.post("/api/v1/listings", headers=other.headers,
                    json={"quantity": 5, "price_per_tonne": "39.00"})
    every = _page(world, seller, "/api/v1/listings", mine="true")
    assert [(x["id"], x["status"]) for x in every["items"]] == \
        [(dropped["id"], "cancelled"), (kept["id"], "open")]
    assert [x["id"] for x in _page(world, seller, "/api/v1/listings", mine="true",
                                   status="open")["items"]] == [kept["id"]]
    assert _page(world, seller, "/api/v1/listings", mine="true", limit=1)["total"] == 2
    assert {x["seller_user_id"] for x in _page(world, other, "/api/v1/listings",
                                               mine="true")["items"]} == {other.id}
    anonymous = _get(world, None, "/api/v1/listings", mine="true")
    assert anonymous.status_code == 401
    assert isinstance(_get(world, None, "/api/v1/listings").json(), list)  # the public market
    no_mine = _get(world, seller, "/api/v1/listings", status="open")
    assert (no_mine.status_code, no_mine.json()["field"]) == (422, "status")


def test_retirements_and_certificates_are_the_callers_own(world):
    firm, other, citizen = world.user("enterprise"), world.user("enterprise"), world.user("citizen")
    for holder, number in ((firm, 1503), (other, 1504)):
        world.issue(holder, 20, project_number=number)
    old = _retire(world, firm, 3, "嘉陵江造纸厂")
    new = _retire(world, firm, 4, "嘉陵江造纸厂")
    theirs = _retire(world, other, 5, "Other Co")
    retirements = _page(world, firm, "/api/v1/retirements", mine="true")
    assert [(r["certificate_id"], r["quantity"]) for r in retirements["items"]] == \
        [(new["certificate_id"], 4), (old["certificate_id"], 3)]
    assert retirements["total"] == 2
    certificates = _page(world, firm, "/api/v1/certificates", mine="true", limit=1, offset=1)
    assert certificates["total"] == 2
    [item] = certificates["items"]
    assert item == {"certificate_id": old["certificate_id"], "beneficiary": "嘉陵江造纸厂",
                    "quantity": 3, "retired_at": old["retired_at"],
                    "purpose": "自愿减排 / pledge", "report_id": None, "event_id": None,
                    "redemption_id": None, "content_hash": old["content_hash"]}
    assert [c["certificate_id"] for c in _page(world, other, "/api/v1/certificates")["items"]] \
        == [theirs["certificate_id"]]
    # a citizen's redemption is retired by the city's pool, in the citizen's name: still theirs
    donor = world.user()
    world.issue(donor, 3, project_number=1505)
    world.http.post("/api/v1/transfers", headers=donor.headers,
                    json={"to_username": "city-inclusion-pool", "quantity": 2})
    asked = RedemptionRequestedV2(redemption_id=f"red-{uuid.uuid4()}", user_id=citizen.id,
                                  username=citizen.username, points=5000, kg=50)
    assert world.deliver(asked) == "applied"
    [redeemed] = _page(world, citizen, "/api/v1/certificates")["items"]
    assert (redeemed["redemption_id"], redeemed["quantity"]) == (asked.redemption_id, "0.05")
    assert _page(world, citizen, "/api/v1/retirements")["total"] == 0  # the pool retired it
    for path in ("/api/v1/retirements", "/api/v1/certificates"):
        refused = _get(world, firm, path, mine="false")
        assert (refused.status_code, refused.json()["code"]) == (422, "mine-only")
        assert _get(world, None, path).status_code == 401
