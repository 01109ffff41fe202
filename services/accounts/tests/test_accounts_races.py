"""Parallel requests through the real HTTP stack (uvicorn, one connection each, released together
by a barrier), 20 or more at a time: the rules hold, duplicates answer 409 problem+json naming
the conflict (or, for a trip, the first trip), never 500; every ledger still adds up afterwards.
Each test fails if both the lock and the schema's constraint behind it are taken away."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest

from accounts_support import (CITY_DAY, PROBLEM, cap_mismatches, grant_points, ledger_mismatches,
                              ride, scalar)
from tanhui_accounts.domain.travel import RULES, Mode
from tanhui_shared.testing.live_server import live_server, race
from test_enterprises_api import MIXED, enterprise, fresh_uscc

RACERS = 20


@pytest.fixture(scope="module")
def server(accounts):
    with live_server(accounts.app) as base_url:
        yield base_url


@pytest.fixture(autouse=True)
def ledgers_add_up(accounts):
    yield
    assert ledger_mismatches(accounts.engine) == []
    assert cap_mismatches(accounts.engine) == []


def post(path: str, headers: dict, body: dict):
    return lambda client: client.post(path, headers=headers, json=body)


def statuses(replies) -> Counter:
    return Counter(r.status_code for r in replies)


def conflicts_named(replies, field: str) -> None:
    for reply in replies:
        if reply.status_code == 409:
            body = reply.json()
            assert reply.headers["content-type"] == PROBLEM, reply.text
            assert body["status"] == 409 and body["detail"] and body["field"] == field, body


def test_20_same_day_metro_trips_at_once_never_pass_the_daily_cap(accounts, server):
    user, headers = accounts.user("citizen")
    # 20 km of metro earns 93 points: twenty of them would be 1,860 against a cap of 500
    rides = [ride(CITY_DAY + timedelta(minutes=40 * i)) for i in range(RACERS)]
    replies = race([post("/api/v1/trips", headers, r) for r in rides], server)
    assert statuses(replies) == {201: RACERS}, [r.text for r in replies]
    assert sum(r.json()["points"] for r in replies) == RULES.mode_cap(Mode.METRO)
    assert sum("cap" in (r.json()["capped_by"] or "") for r in replies) == RACERS - 5
    assert scalar(accounts.engine, "SELECT balance FROM points_account WHERE user_id = :u",
                  u=user["id"]) == RULES.mode_cap(Mode.METRO)


def test_20_operator_batches_at_once_across_modes_never_pass_the_days_total_cap(accounts, server):
    citizen, _ = accounts.user("citizen")
    # licensed for every mode, so the day's total cap is what stops the feed
    _, operator = accounts.user("transit_operator", modes=("walk", "bike", "bus", "metro", "ev"))
    # 25-minute rides at plausible speeds: uncapped they would earn 2,688 points that day
    kinds = [("walk", "4"), ("bike", "14"), ("bus", "30"), ("metro", "40"), ("ev", "50")]
    batches = [{"trips": [{**ride(CITY_DAY + timedelta(minutes=40 * i), mode=kinds[i % 5][0],
                                  km=kinds[i % 5][1]), "username": citizen["username"]}]}
               for i in range(RACERS)]
    replies = race([post("/api/v1/trips/batch", operator, b) for b in batches], server)
    assert statuses(replies) == {200: RACERS}, [r.text for r in replies]
    assert sum(r.json()["accepted"] for r in replies) == RACERS
    assert sum(r.json()["points_awarded"] for r in replies) == RULES.daily_cap_total


def test_the_same_trip_20_times_at_once_is_recorded_once(accounts, server):
    user, headers = accounts.user("citizen")
    tap = ride(CITY_DAY, km="8", external_id=f"card-{uuid.uuid4().hex}")
    replies = race([post("/api/v1/trips", headers, tap)] * RACERS, server)
    assert statuses(replies) == {201: RACERS}, [r.text for r in replies]
    answers = Counter(r.json()["status"] for r in replies)
    assert answers == {"accepted": 1, "duplicate": RACERS - 1}
    assert len({r.json()["id"] for r in replies}) == 1  # every duplicate names the first trip
    assert scalar(accounts.engine, "SELECT count(*) FROM green_trip WHERE user_id = :u",
                  u=user["id"]) == 1
    assert scalar(accounts.engine, "SELECT balance FROM points_account WHERE user_id = :u",
                  u=user["id"]) == replies[0].json()["points"] == 37


def test_25_redemptions_of_a_balance_covering_one_hold_it_once(accounts, server):
    user, headers = accounts.user("citizen")
    grant_points(accounts.engine, user["id"], RULES.points_per_credit)
    body = {"points": RULES.points_per_credit}
    replies = race([post("/api/v1/me/redemptions", headers, body)] * 25, server)
    assert statuses(replies) == {202: 1, 409: 24}, [r.text for r in replies]
    conflicts_named(replies, "points")
    assert scalar(accounts.engine, "SELECT array[balance, held] FROM points_account "
                  "WHERE user_id = :u", u=user["id"]) == [RULES.points_per_credit] * 2
    assert scalar(accounts.engine, "SELECT count(*) FROM redemption WHERE user_id = :u",
                  u=user["id"]) == 1
    assert scalar(accounts.engine, "SELECT count(*) FROM outbox WHERE envelope LIKE :e",
                  e=f"%redemption_requested%{user['id']}%") == 1


def test_20_claims_of_one_uscc_by_one_registrant_at_once_record_it_once(accounts, server):
    _, headers = accounts.user("enterprise")
    code = fresh_uscc()
    bodies = [{"name": f"南充化工 {n}", "uscc": code, "county": "顺庆区", "industry": "chemicals"}
              for n in range(RACERS)]
    replies = race([post("/api/v1/enterprises", headers, b) for b in bodies], server)
    assert statuses(replies) == {201: 1, 409: RACERS - 1}, [r.text for r in replies]
    conflicts_named(replies, "uscc")
    assert scalar(accounts.engine, "SELECT count(*) FROM enterprise WHERE uscc = :c", c=code) == 1


def test_20_filings_of_one_period_at_once_file_it_once(accounts, server):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    path = f"/api/v1/enterprises/{firm['id']}/reports"
    replies = race([post(path, headers, {"period": "2024", "activities": MIXED[:n % 4 + 1]})
                    for n in range(RACERS)], server)
    assert statuses(replies) == {201: 1, 409: RACERS - 1}, [r.text for r in replies]
    conflicts_named(replies, "period")
    assert scalar(accounts.engine, "SELECT count(*) FROM carbon_report WHERE enterprise_id = :e",
                  e=firm["id"]) == 1


def test_20_revisions_of_one_report_at_once_leave_one_current_report(accounts, server):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    first = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                               json={"period": "2024-Q2", "activities": MIXED[:1]}).json()
    path = f"/api/v1/reports/{first['id']}/revisions"
    replies = race([post(path, headers, {"activities": MIXED[:n % 4 + 1]})
                    for n in range(RACERS)], server)
    assert statuses(replies) == {201: 1, 409: RACERS - 1}, [r.text for r in replies]
    conflicts_named(replies, "report_id")
    history = accounts.http.get(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers).json()
    assert [(r["revision"], r["is_current"]) for r in history] == [(2, True), (1, False)]


def test_20_registrations_of_one_username_at_once_register_it_once(accounts, server):
    name = f"racer-{uuid.uuid4().hex[:10]}"
    body = {"username": name, "password": "correct horse battery", "role": "citizen"}
    replies = race([post("/api/v1/auth/register", {}, body)] * RACERS, server)
    assert statuses(replies) == {201: 1, 409: RACERS - 1}, [r.text for r in replies]
    conflicts_named(replies, "username")
    assert scalar(accounts.engine, "SELECT count(*) FROM user_account WHERE username = :n",
                  n=name) == 1
    assert scalar(accounts.engine, "SELECT count(*) FROM points_account a JOIN user_account u "
                  "ON u.id = a.user_id WHERE u.username = :n", n=name) == 1
