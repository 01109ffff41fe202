"""A transit operator's feed is decoded with the collector paused: a bad field deep in a full feed
is still a 422 naming it by index, the limits hold, and the collector is on again afterwards."""
from __future__ import annotations

import gc
from datetime import timedelta

import pytest

from accounts_support import CITY_DAY, PROBLEM, ride


@pytest.fixture(scope="module")
def operator(accounts) -> dict:
    return accounts.user("transit_operator")[1]


def feed(username: str, count: int) -> list[dict]:
    return [{**ride(CITY_DAY + timedelta(minutes=40 * i)), "username": username}
            for i in range(count)]


def test_bad_fields_deep_in_a_full_feed_are_422_naming_each_by_index(accounts, operator):
    assert gc.isenabled()
    citizen, headers = accounts.user("citizen")
    trips = feed(citizen["username"], 10_000)
    trips[9876]["distance_km"] = "0"
    trips[4321]["external_id"] = "card\x00"
    trips[9999]["ended_at"] = trips[9999]["started_at"]
    reply = accounts.http.post("/api/v1/trips/batch", headers=operator, json={"trips": trips})
    assert reply.status_code == 422, reply.text[:500]
    assert reply.headers["content-type"] == PROBLEM
    errors = reply.json()["errors"]
    assert [(e["field"], e["kind"]) for e in errors] == [
        ("trips[4321].external_id", "value_error"), ("trips[9876].distance_km", "greater_than"),
        ("trips[9999].ended_at", "value_error")]
    assert gc.isenabled()  # the refused feed gave the collector back
    assert accounts.http.get("/api/v1/me/trips", headers=headers).json()["total"] == 0


def test_the_feed_limits_hold(accounts, operator):
    citizen, _ = accounts.user("citizen")
    too_many = accounts.http.post("/api/v1/trips/batch", headers=operator,
                                  json={"trips": feed(citizen["username"], 10_001)})
    assert too_many.status_code == 422 and too_many.json()["field"] == "trips"
    empty = accounts.http.post("/api/v1/trips/batch", headers=operator, json={"trips": []})
    assert empty.status_code == 422 and empty.json()["field"] == "trips"
    assert gc.isenabled()


def test_a_recorded_feed_gives_the_collector_back(accounts, operator):
    citizen, _ = accounts.user("citizen")
    reply = accounts.http.post("/api/v1/trips/batch", headers=operator,
                               json={"trips": feed(citizen["username"], 3)})
    assert reply.status_code == 200 and reply.json()["accepted"] == 3, reply.text
    assert gc.isenabled()
