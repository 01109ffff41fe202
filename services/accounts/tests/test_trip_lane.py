"""POST /api/v1/trips' lane (api/trip_lane.py): ordinary trips past FastAPI's routing, every other
request FastAPI's, with the same answers either way."""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import Depends

from tanhui_accounts.api import citizens
from tanhui_accounts.api.trip_lane import TripLane


def lane_of(accounts) -> TripLane:
    lane = accounts.app.router.routes[0]
    assert isinstance(lane, TripLane)  # first: asked before any of FastAPI's routes
    return lane


def ride(external_id: str, hours_ago: int, **changes) -> dict:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
    return {"mode": "bus", "distance_km": "4.2", "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=20)).isoformat(), "external_id": external_id,
            **changes}


def counts(lane: TripLane) -> tuple[int, int]:
    return lane.answered, lane.passed


def test_an_ordinary_trip_is_answered_by_the_lane_as_by_fastapi(accounts):
    lane = lane_of(accounts)
    _, headers = accounts.user("citizen")
    before = counts(lane)
    trip = ride("lane-1", 5)  # one body for all three (made again, a second may have ticked)
    by_lane = accounts.http.post("/api/v1/trips", headers=headers, json=trip)
    assert counts(lane) == (before[0] + 1, before[1])
    # the same trip's duplicate, sent as FastAPI alone takes it (a charset in the content type)
    by_fastapi = accounts.http.post(
        "/api/v1/trips", content=json.dumps(trip),
        headers={**headers, "Content-Type": "application/json; charset=utf-8"})
    assert counts(lane) == (before[0] + 1, before[1] + 1)
    assert by_lane.status_code == 201 and by_fastapi.status_code == 201
    first, again = by_lane.json(), by_fastapi.json()
    assert first["status"] == "accepted" and again["status"] == "duplicate"
    assert {**first, "status": "duplicate"} == again
    assert by_lane.headers["content-type"] == by_fastapi.headers["content-type"]
    # and the lane's duplicate reads as FastAPI's
    assert accounts.http.post("/api/v1/trips", headers=headers, json=trip).json() == again


def test_every_refusal_is_fastapis_own(accounts):
    lane = lane_of(accounts)
    _, citizen = accounts.user("citizen")
    _, enterprise = accounts.user("enterprise")
    refused = [
        ({}, ride("r-1", 7), 401),
        ({"Authorization": "Bearer not.a.token"}, ride("r-2", 7), 401),
        ({"Authorization": "Basic abc"}, ride("r-3", 7), 401),
        # a valid token under another scheme is no bearer token
        ({"Authorization": "Token " + citizen["Authorization"].split(" ", 1)[1]},
         ride("r-8", 7), 401),
        (enterprise, ride("r-4", 7), 403),  # a valid token of another role
        (citizen, ride("r-5", 7, distance_km="-1"), 422),
        (citizen, ride("r-6", 7, mode="plane"), 422),
        (citizen, {"mode": "bus"}, 422),
        (citizen, ride("r-7", 7, ended_at="2001-01-01T00:00:00+00:00"), 422),
    ]
    before = counts(lane)
    for headers, body, status in refused:
        reply = accounts.http.post("/api/v1/trips", headers=headers, json=body)
        assert reply.status_code == status, (body, reply.text)
        assert reply.headers["content-type"] == "application/problem+json"
    assert counts(lane) == (before[0], before[1] + len(refused))
    # nothing was written for them: the account has no entry
    mine = accounts.http.get("/api/v1/me/carbon-account", headers=citizen).json()
    assert mine["entries_total"] == 0


def test_an_idempotency_key_and_a_query_go_fastapis_way(accounts):
    lane = lane_of(accounts)
    _, headers = accounts.user("citizen")
    before = counts(lane)
    keyed = {**headers, "Idempotency-Key": "lane-key"}
    trip = ride("k-1", 9)  # one body: made twice, a second's tick between made them differ (422)
    first = accounts.http.post("/api/v1/trips", headers=keyed, json=trip)
    replay = accounts.http.post("/api/v1/trips", headers=keyed, json=trip)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == first.json()
    query = accounts.http.post("/api/v1/trips?x=%00", headers=headers, json=ride("k-2", 9))
    assert query.status_code == 422 and query.json()["code"] == "nul-character"
    assert counts(lane) == (before[0], before[1] + 3)


def test_a_body_read_in_pieces_reaches_fastapi_whole(accounts):
    """A request the lane hands on after reading its body (a refused token here) is read by
    FastAPI from the first piece, as if the lane had not read it."""
    _, citizen = accounts.user("citizen")
    _, enterprise = accounts.user("enterprise")

    def call(headers: dict, body: bytes) -> tuple[int, bytes]:
        pieces = [body[:7], body[7:20], body[20:]]
        messages = [{"type": "http.request", "body": p, "more_body": i < 2}
                    for i, p in enumerate(pieces)]
        sent: list[dict] = []

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/api/v1/trips",
                 "raw_path": b"/api/v1/trips", "root_path": "", "query_string": b"",
                 "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
                 "headers": [(b"content-type", b"application/json")] +
                            [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
        # on a thread of its own: a test process that ran a console test before keeps
        # Playwright's event loop running on this one (its browser is session-scoped)
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, accounts.app(scope, receive, send)).result()
        start = next(m for m in sent if m["type"] == "http.response.start")
        return start["status"], b"".join(m.get("body", b"") for m in sent
                                         if m["type"] == "http.response.body")

    lane = lane_of(accounts)
    before = counts(lane)
    status, answer = call(enterprise, json.dumps(ride("p-1", 11)).encode())
    assert status == 403, answer
    status, answer = call(citizen, json.dumps(ride("p-2", 11, mode="plane")).encode())
    assert status == 422 and json.loads(answer)["errors"][0]["field"] == "mode", answer
    status, answer = call(citizen, json.dumps(ride("p-3", 11)).encode())
    assert status == 201 and json.loads(answer)["status"] == "accepted", answer
    assert counts(lane) == (before[0] + 1, before[1] + 2)


def test_the_lane_refuses_to_start_when_the_endpoint_declares_more_than_it_checks(accounts):
    route = lane_of(accounts).route

    def another_check() -> None:
        pass

    route.dependencies.append(Depends(another_check))
    try:
        with pytest.raises(RuntimeError, match="update the lane"):
            TripLane(accounts.app)
    finally:
        route.dependencies.pop()
    assert TripLane(accounts.app).route is route
    assert route.endpoint is citizens.record_trip
    # the app's URLs are still found past the lane
    assert accounts.app.url_path_for("record_trip") == "/api/v1/trips"
