"""Many requests at once through the HTTP API on a real server, for every path that spends
credits: exactly what the holding allows succeeds, the rest is 409 problem+json, never a 500,
and the reconciliation finds nothing afterwards."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from sqlmodel import Session

from tanhui_credits.store.reconcile import registry_discrepancies
from tanhui_shared.contracts import (CloudEvent, RedemptionCompleted, RedemptionRejected,
                                     RedemptionRequested)
from tanhui_shared.testing.live_server import live_server, race

PARALLEL = 20  # the API's connection pool holds 20: every request gets its own connection
EVENT = {"name": "Chengdu Expo", "start_date": "2025-10-26", "end_date": "2025-10-26",
         "venue": "Tianfu Square", "attendees": 3000}


@pytest.fixture(scope="module")
def served(world):
    """One server and database for the module: each test leaves no listing open, and the
    reconciliation must find nothing across all of them."""
    with live_server(world.app) as base_url:
        yield world, base_url


def _project(world, number: int) -> dict:  # noqa: ANN001
    [row] = [r for r in world.http.get("/api/v1/registry/projects").json()
             if r["project_number"] == number]
    return row


def _outcome(responses, won: int) -> list:  # noqa: ANN001
    """The responses that succeeded, after checking every other one is a 409 problem."""
    codes = [r.status_code for r in responses]
    assert codes.count(won) + codes.count(409) == len(codes), codes
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 409 and refused.json()["detail"]
    return [r for r in responses if r.status_code == won]


def _reconciled(world) -> None:  # noqa: ANN001
    with Session(world.engine) as session:
        assert registry_discrepancies(session) == []
    report = world.http.get("/api/v1/registry/audit/verify").json()
    assert report["ok"] is True, report


def test_parallel_transfers_of_most_of_a_holding(served):
    world, base_url = served
    dev = world.user()
    receivers = [world.user("enterprise") for _ in range(4)]
    world.issue(dev, 100)
    responses = race([lambda c, i=i: c.post("/api/v1/transfers", headers=dev.headers, json={
        "to_username": receivers[i % 4].username, "quantity": 60}) for i in range(PARALLEL)],
        base_url)
    assert len(_outcome(responses, 201)) == 1
    assert world.holdings(dev)["total"] == 40
    assert sum(world.holdings(r)["total"] for r in receivers) == 60
    _reconciled(world)


def test_parallel_retirements_of_a_whole_holding(served):
    world, base_url = served
    dev = world.user()
    issued = world.issue(dev, 100)
    body = {"quantity": 100, "beneficiary": "Longquan", "purpose": "pledge"}
    responses = race([lambda c: c.post("/api/v1/retirements", headers=dev.headers, json=body)]
                     * PARALLEL, base_url)
    [won] = _outcome(responses, 201)
    assert won.json()["quantity"] == 100 and world.holdings(dev)["total"] == 0
    assert _project(world, issued.project_number)["retired"] == 100
    _reconciled(world)


def test_parallel_listings_of_a_whole_holding(served):
    world, base_url = served
    dev = world.user()
    world.issue(dev, 100)
    body = {"quantity": 100, "price_per_tonne": "50.00"}
    responses = race([lambda c: c.post("/api/v1/listings", headers=dev.headers, json=body)]
                     * PARALLEL, base_url)
    [won] = _outcome(responses, 201)
    assert [l["id"] for l in world.http.get("/api/v1/listings").json()] == [won.json()["id"]]
    assert world.holdings(dev)["available"] == 0
    _reconciled(world)
    cancelled = world.http.post(f"/api/v1/listings/{won.json()['id']}/cancel", headers=dev.headers)
    assert cancelled.status_code == 200 and world.holdings(dev)["available"] == 100


def test_parallel_offsets_against_one_listing(served):
    world, base_url = served
    seller, organizer = world.user(), world.user("organizer")
    issued = world.issue(seller, 400)
    assert world.http.get("/api/v1/listings").json() == []  # ours will be the only one
    listed = world.http.post("/api/v1/listings", headers=seller.headers,
                             json={"quantity": 400, "price_per_tonne": "60.00"})
    assert listed.status_code == 201, listed.text
    events = [world.http.post("/api/v1/events", headers=organizer.headers,
                              json={**EVENT, "name": f"Expo day {i}"}).json()["id"]
              for i in range(PARALLEL)]
    responses = race([lambda c, e=e: c.post(f"/api/v1/events/{e}/offsets",
                                            headers=organizer.headers, json={"quantity": 100})
                      for e in events], base_url)
    won = _outcome(responses, 201)
    assert len(won) == 4
    assert sorted(r.json()["certificate"]["serials"][0] for r in won) == [
        f"NC-FS-{issued.project_number:04d}-2025-{first:09d}-{first + 99:09d}"
        for first in (1, 101, 201, 301)]
    assert world.http.get("/api/v1/listings").json() == []
    assert world.holdings(seller)["total"] == 0
    _reconciled(world)


def test_parallel_cancels_of_one_listing(served):
    world, base_url = served
    seller = world.user()
    world.issue(seller, 100)
    listing = world.http.post("/api/v1/listings", headers=seller.headers,
                              json={"quantity": 70, "price_per_tonne": "50.00"}).json()
    responses = race([lambda c: c.post(f"/api/v1/listings/{listing['id']}/cancel",
                                       headers=seller.headers)] * PARALLEL, base_url)
    [won] = _outcome(responses, 200)
    assert (won.json()["status"], won.json()["remaining"]) == ("cancelled", 0)
    holdings = world.holdings(seller)
    assert (holdings["total"], holdings["available"]) == (100, 100)
    _reconciled(world)


def test_parallel_purchases_from_one_listing(served):
    """Issue 14: 20 buyers at once ask 3 of a listing's 10: three win (9 sold), every other
    one is 409 listing-exhausted, and the 1 left goes back to the seller on cancelling."""
    world, base_url = served
    seller = world.user()
    buyers = [world.user("enterprise" if i % 2 else "organizer") for i in range(PARALLEL)]
    world.issue(seller, 10)
    listing = world.http.post("/api/v1/listings", headers=seller.headers,
                              json={"quantity": 10, "price_per_tonne": "50.00"}).json()
    responses = race([lambda c, b=b: c.post(f"/api/v1/listings/{listing['id']}/purchases",
                                            headers=b.headers, json={"quantity": 3})
                      for b in buyers], base_url)
    won = _outcome(responses, 201)
    assert [r.json()["price_total"] for r in won] == ["150.00"] * 3
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"listing-exhausted"}
    assert sum(world.holdings(b)["total"] for b in buyers) == 9
    cancelled = world.http.post(f"/api/v1/listings/{listing['id']}/cancel",
                                headers=seller.headers)
    assert (cancelled.status_code, world.holdings(seller)["available"]) == (200, 1)
    _reconciled(world)


def test_parallel_redemptions_from_a_small_inclusion_pool(served):
    world, _ = served  # (the consumer's path: no HTTP)
    dev, citizen = world.user(), world.user("citizen")
    issued = world.issue(dev, 50)
    pooled = world.http.post("/api/v1/transfers", headers=dev.headers,
                             json={"to_username": "city-inclusion-pool", "quantity": 7})
    assert pooled.status_code == 201, pooled.text
    barrier = threading.Barrier(PARALLEL)

    def deliver(i: int) -> str:
        request = RedemptionRequested(redemption_id=f"red-{uuid.uuid4()}", user_id=citizen.id,
                                      username=citizen.username, points=1000, quantity=1)
        envelope = CloudEvent(type=request.TYPE, source=request.SOURCE,
                              data=request.model_dump(mode="json"))
        barrier.wait(timeout=30)
        return world.runner.apply(SimpleNamespace(topic=request.TOPIC, value=envelope.to_json()))

    with ThreadPoolExecutor(PARALLEL) as pool:
        assert list(pool.map(deliver, range(PARALLEL))) == ["applied"] * PARALLEL
    completed = [e for e in world.outbox(RedemptionCompleted.TYPE) if e["user_id"] == citizen.id]
    rejected = [e for e in world.outbox(RedemptionRejected.TYPE) if e["user_id"] == citizen.id]
    assert (len(completed), len(rejected)) == (7, PARALLEL - 7)
    assert _project(world, issued.project_number)["retired"] == 7
    _reconciled(world)
