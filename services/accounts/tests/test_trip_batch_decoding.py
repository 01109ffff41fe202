"""A transit operator's feed is decoded with the collector paused: a bad field deep in a full feed
is still a 422 naming it by index, the limits hold, and the collector is on again afterwards."""
from __future__ import annotations

import gc
import json
import uuid
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


def test_a_refused_feed_reads_as_a_declared_body_would(accounts, operator):
    """The feed is validated from its bytes; whatever that refuses is answered as FastAPI answers
    a declared body: a lone surrogate (invalid JSON to pydantic-core, a field's error to
    FastAPI), invalid JSON, another content type, no body. Who asks is checked first."""
    citizen, headers = accounts.user("citizen")
    trips = feed(citizen["username"], 3)
    trips[1]["external_id"] = "\ud800"
    as_json = {"content-type": "application/json"}

    def refusal(content, headers=operator, content_type=as_json) -> dict:
        reply = accounts.http.post("/api/v1/trips/batch", headers={**headers, **content_type},
                                   content=content)
        assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM, reply.text
        return reply.json()

    surrogate = refusal(json.dumps({"trips": trips}))
    assert [(e["field"], e["kind"]) for e in surrogate["errors"]] == [
        ("trips[1].external_id", "string_unicode")]
    broken = refusal(b'{"trips": [')["errors"]
    assert [(e["field"], e["kind"], e["message"]) for e in broken] == [
        ("[11]", "json_invalid", "JSON decode error")]
    plain = refusal(json.dumps({"trips": feed(citizen["username"], 1)}).encode(),
                    content_type={"content-type": "text/plain"})
    assert [e["kind"] for e in plain["errors"]] == ["model_attributes_type"]
    assert refusal(b"")["field"] == "body"
    anonymous = accounts.http.post("/api/v1/trips/batch", headers=as_json, content=b'{"trips": [')
    assert anonymous.status_code == 401, anonymous.text
    assert accounts.http.get("/api/v1/me/trips", headers=headers).json()["total"] == 0


def test_the_feed_is_documented_as_a_trip_batch(accounts):
    """No body parameter is declared: the OpenAPI document still says TripBatch, with its models."""
    document = accounts.http.get("/openapi.json").json()
    assert document["paths"]["/api/v1/trips/batch"]["post"]["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TripBatch"}}}}
    schemas = document["components"]["schemas"]
    trips = schemas["TripBatch"]["properties"]["trips"]
    assert (trips["items"], trips["maxItems"]) == ({"$ref": "#/components/schemas/OperatorTripIn"},
                                                   10_000)
    record = schemas["OperatorTripIn"]
    assert record["properties"]["mode"] == {"$ref": "#/components/schemas/Mode"}
    assert set(record["required"]) == {"mode", "distance_km", "started_at", "ended_at",
                                       "external_id", "username"}


def test_a_keyed_feed_is_replayed_with_its_first_answer(accounts, operator):
    """The answer is written by pydantic-core (sent and stored): a replay reads it back unchanged."""
    citizen, headers = accounts.user("citizen")
    trips = feed(citizen["username"], 3)
    trips[0]["external_id"] = "南充公交-卡-1"
    keyed = {**operator, "Idempotency-Key": uuid.uuid4().hex}
    first = accounts.http.post("/api/v1/trips/batch", headers=keyed, json={"trips": trips})
    assert first.status_code == 200 and first.json()["accepted"] == 3, first.text
    again = accounts.http.post("/api/v1/trips/batch", headers=keyed, json={"trips": trips})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["results"][0]["external_id"] == "南充公交-卡-1"
    other = accounts.http.post("/api/v1/trips/batch", headers=keyed, json={"trips": trips[:2]})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert accounts.http.get("/api/v1/me/trips", headers=headers).json()["total"] == 3
