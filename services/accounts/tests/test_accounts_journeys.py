"""Every user's own lists and the operator's per-record feed results (issue 14), through the API
on PostgreSQL: each list is paginated, filtered and owner-scoped (another user never sees what is
not theirs); a transit operator signed in with client credentials reads its own identity."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

from accounts_client import AccountsClient
from accounts_support import CITY_DAY, grant_points, ride
from tanhui_accounts.domain.uscc import ALPHABET, check_character


def _uscc() -> str:
    body = "915113" + "".join(random.choice("0123456789") for _ in range(3)) + \
        "".join(random.choice(ALPHABET) for _ in range(8))
    return body + check_character(body)


def _enterprise(accounts: AccountsClient, headers: dict, name: str) -> dict:
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": name, "uscc": _uscc(), "county": "顺庆区", "industry": "cement"})
    assert reply.status_code == 201, reply.text
    return reply.json()


def _get(accounts: AccountsClient, path: str, headers: dict, **params):
    return accounts.http.get(path, headers=headers, params=params)


def test_an_enterprise_lists_its_own_enterprises_and_the_regulator_all(accounts):
    _, mine = accounts.user("enterprise")
    _, theirs = accounts.user("enterprise")
    first = _enterprise(accounts, mine, "南充丝绸 1")
    second = _enterprise(accounts, mine, "南充丝绸 2")
    other = _enterprise(accounts, theirs, "阆中醋业")
    page = _get(accounts, "/api/v1/enterprises", mine).json()
    assert (page["total"], [e["id"] for e in page["items"]]) == (2, [second["id"], first["id"]])
    assert page["items"][0] == second  # the same view as POST and GET /enterprises/{id}
    assert [e["id"] for e in _get(accounts, "/api/v1/enterprises", theirs)
            .json()["items"]] == [other["id"]]
    one = _get(accounts, "/api/v1/enterprises", mine, limit=1, offset=1).json()
    assert (one["total"], one["limit"], one["offset"], [e["id"] for e in one["items"]]) == (
        2, 1, 1, [first["id"]])

    _, regulator = accounts.user("regulator")
    decided = accounts.http.post(f"/api/v1/enterprise-claims/{first['id']}/decision",
                                 headers=regulator,
                                 json={"decision": "confirm", "reason": "licence checked"})
    assert decided.status_code == 200, decided.text
    assert [e["id"] for e in _get(accounts, "/api/v1/enterprises", mine,
                                  claim_status="confirmed").json()["items"]] == [first["id"]]
    everyone = _get(accounts, "/api/v1/enterprises", regulator, limit=200).json()
    assert {first["id"], second["id"], other["id"]} <= {e["id"] for e in everyone["items"]}
    pending = _get(accounts, "/api/v1/enterprises", regulator, claim_status="pending",
                   limit=200).json()["items"]
    assert first["id"] not in {e["id"] for e in pending}
    assert {e["claim_status"] for e in pending} == {"pending"}

    _, citizen = accounts.user("citizen")
    assert _get(accounts, "/api/v1/enterprises", citizen).status_code == 403
    assert _get(accounts, "/api/v1/enterprises", mine, claim_status="x").status_code == 422
    assert _get(accounts, "/api/v1/enterprises", mine, limit=201).status_code == 422


def test_a_citizen_lists_its_trips_with_mode_distance_points_and_source(accounts):
    citizen, headers = accounts.user("citizen")
    other, other_headers = accounts.user("citizen")
    operator, operator_headers = accounts.user("transit_operator")
    walk = accounts.http.post("/api/v1/trips", headers=headers,
                              json=ride(CITY_DAY, mode="walk", km="2", minutes=30))
    assert walk.status_code == 201, walk.text
    # seven 20 km metro rides 40 minutes apart on the next day: the metro cap cuts the last ones
    next_day = CITY_DAY + timedelta(days=1)
    fed = accounts.http.post("/api/v1/trips/batch", headers=operator_headers, json={"trips": [
        {**ride(next_day + timedelta(minutes=40 * i), mode="metro"),
         "username": citizen["username"]} for i in range(7)]})
    assert fed.status_code == 200 and fed.json()["accepted"] == 7, fed.text

    page = _get(accounts, "/api/v1/me/trips", headers).json()
    assert page["total"] == 8
    newest, oldest = page["items"][0], page["items"][-1]
    assert (newest["mode"], newest["distance_km"], newest["source"]) == (
        "metro", "20.000", operator["username"])
    assert newest["status"] == "capped" and newest["capped_by"]
    assert (oldest["trip_id"], oldest["mode"], oldest["distance_km"], oldest["source"],
            oldest["status"], oldest["points"]) == (walk.json()["id"], "walk", "2.000", "app",
                                                     "credited", walk.json()["points"])
    starts = [t["started_at"] for t in page["items"]]
    assert starts == sorted(starts, reverse=True)
    # the ledger's earn entries name these trips
    ledger = _get(accounts, "/api/v1/me/carbon-account", headers).json()["entries"]
    earned = {e["trip_id"] for e in ledger if e["kind"] == "earn"}
    assert earned <= {t["trip_id"] for t in page["items"]}
    assert sum(t["points"] for t in page["items"]) == sum(
        e["points"] for e in ledger if e["kind"] == "earn")

    assert _get(accounts, "/api/v1/me/trips", headers, mode="walk").json()["total"] == 1
    day = next_day.date().isoformat()
    assert _get(accounts, "/api/v1/me/trips", headers, since=day, until=day).json()["total"] == 7
    assert _get(accounts, "/api/v1/me/trips", headers,
                until=CITY_DAY.date().isoformat()).json()["total"] == 1
    reversed_range = _get(accounts, "/api/v1/me/trips", headers, since=day,
                          until=CITY_DAY.date().isoformat())
    assert reversed_range.status_code == 422 and reversed_range.json()["field"] == "until"
    assert _get(accounts, "/api/v1/me/trips", other_headers).json()["total"] == 0
    assert _get(accounts, "/api/v1/me/trips", operator_headers).status_code == 403
    assert other["id"] != citizen["id"]


def test_a_citizen_lists_its_redemptions_by_status_and_never_anothers(accounts):
    citizen, headers = accounts.user("citizen")
    _, other_headers = accounts.user("citizen")
    grant_points(accounts.engine, citizen["id"], 3000)
    made = []
    for _ in range(2):
        reply = accounts.http.post("/api/v1/me/redemptions", headers={
            **headers, "Idempotency-Key": str(uuid.uuid4())}, json={"points": 1000})
        assert reply.status_code == 202, reply.text
        made.append(reply.json())
    page = _get(accounts, "/api/v1/me/redemptions", headers).json()
    assert page["total"] == 2 and {r["id"] for r in page["items"]} == {r["id"] for r in made}
    assert page["items"][0] in made and page["items"][0]["state"] == "pending"
    assert _get(accounts, "/api/v1/me/redemptions", headers, status="pending").json()["total"] == 2
    assert _get(accounts, "/api/v1/me/redemptions", headers,
                status="completed").json()["total"] == 0
    assert _get(accounts, "/api/v1/me/redemptions", other_headers).json()["total"] == 0
    assert _get(accounts, "/api/v1/me/redemptions", headers, status="x").status_code == 422


def test_the_admin_lists_users_by_role_and_name_with_their_standing(accounts):
    verifier, _ = accounts.user("verifier")
    revoked, _ = accounts.user("verifier")
    reply = accounts.http.post(f"/api/v1/accreditations/{revoked['grant']['id']}/revoke",
                               headers=accounts.admin, json={"reason": "audit failed"})
    assert reply.status_code == 200, reply.text
    citizen, citizen_headers = accounts.user("citizen")

    verifiers = _get(accounts, "/api/v1/users", accounts.admin, role="verifier",
                     limit=200).json()
    standing = {u["username"]: u["accreditation_status"] for u in verifiers["items"]}
    assert standing[verifier["username"]] == "active"
    assert standing[revoked["username"]] == "revoked"
    assert {u["role"] for u in verifiers["items"]} == {"verifier"}

    found = _get(accounts, "/api/v1/users", accounts.admin,
                 q=citizen["username"][-10:].upper()).json()
    assert [(u["user_id"], u["role"], u["accreditation_status"]) for u in found["items"]] == [
        (citizen["id"], "citizen", None)]
    assert "password_hash" not in str(found)
    # % and _ in q match themselves, not any text
    assert _get(accounts, "/api/v1/users", accounts.admin, q="%").json()["total"] == 0
    newest = _get(accounts, "/api/v1/users", accounts.admin, limit=1).json()
    assert newest["total"] >= 4 and newest["items"][0]["user_id"] == citizen["id"]
    assert _get(accounts, "/api/v1/users", citizen_headers).status_code == 403
    assert _get(accounts, "/api/v1/users", accounts.admin, role="wizard").status_code == 422


def test_each_record_of_a_feed_says_accepted_duplicate_or_rejected_with_a_code(accounts):
    citizen, _ = accounts.user("citizen")
    _, operator = accounts.user("transit_operator", modes=("bus",))
    start = CITY_DAY + timedelta(days=2)

    def record(offset: int, **kw) -> dict:
        return {**ride(start + timedelta(minutes=offset), **kw), "username": citizen["username"]}

    first = record(0, mode="bus", km="5", external_id="card-1")
    records = [
        first,
        {**first},  # the same card tap again
        {**record(60, mode="bus", km="5"), "username": "nobody-here"},
        record(120, mode="metro", km="5"),  # not in the licence
        record(180, mode="bus", km="200", minutes=10),  # 200 km in 10 min: 1,200 km/h
    ]
    reply = accounts.http.post("/api/v1/trips/batch", headers=operator,
                               json={"trips": records})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    results = body["results"]
    assert [(r["index"], r["external_id"], r["outcome"], r["code"]) for r in results] == [
        (0, "card-1", "accepted", "credited"),
        (1, "card-1", "duplicate", "duplicate-external-id"),
        (2, records[2]["external_id"], "rejected", "unknown-citizen"),
        (3, records[3]["external_id"], "rejected", "mode-not-licensed"),
        (4, records[4]["external_id"], "rejected", "implausible-speed")]
    # the duplicate names the trip recorded first; a rejection names none and says why
    assert results[0]["trip_id"] and results[1]["trip_id"] == results[0]["trip_id"]
    assert all(r["trip_id"] is None and r["reason"] for r in results[2:])
    assert "nobody-here" in results[2]["reason"] and "1200.0 km/h" in results[4]["reason"]
    assert (results[0]["points"], results[1]["points"]) == (body["points_awarded"], 0)
    # the summary fields stay as they were, with the code beside each reason
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (2, "unknown-citizen"), (3, "mode-not-licensed"), (4, "implausible-speed")]

    # fed again later: every record already recorded is a duplicate naming its first trip
    again = accounts.http.post("/api/v1/trips/batch", headers=operator,
                               json={"trips": records[:1]}).json()["results"]
    assert [(r["outcome"], r["trip_id"]) for r in again] == [
        ("duplicate", results[0]["trip_id"])]


def test_a_transit_operator_signed_in_with_client_credentials_reads_its_identity(accounts):
    operator, headers = accounts.user("transit_operator")
    me = _get(accounts, "/api/v1/me", headers)
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["username"], me.json()["role"]) == (
        operator["id"], operator["grant"]["username"], "transit_operator")
    # its own licence is in the public list the console shows beside it
    grants = accounts.http.get("/api/v1/accreditations", params={"role": "transit_operator",
                                                                 "limit": 200}).json()["items"]
    assert operator["grant"]["id"] in {g["id"] for g in grants}
    # a citizen's lists are not its own
    assert _get(accounts, "/api/v1/me/trips", headers).status_code == 403
