"""Input that used to reach the database or date arithmetic and answer 500 is a 422 naming the
field: times out of datetime's range, non-ASCII digits in periods and codes, text PostgreSQL
cannot store."""
from __future__ import annotations

import json

import pytest

from accounts_support import CITY_DAY, PROBLEM, ride
from tanhui_accounts.domain.uscc import check_character
from test_enterprises_api import MIXED, enterprise


@pytest.fixture(scope="module")
def people(accounts) -> dict[str, dict]:
    """Headers of one user per role this module needs (logins are slow on purpose)."""
    return {role: accounts.user(role)[1]
            for role in ("citizen", "transit_operator", "enterprise", "regulator")}


def fields_of(reply) -> list[str]:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    return [e["field"] for e in body.get("errors", [])] or [body["field"]]


@pytest.mark.parametrize(("field", "moment"), [
    ("started_at", "0001-01-01T00:00:00+14:00"),  # in UTC this is year 0: the conversion overflows
    ("ended_at", "0001-01-01T00:00:00+14:00"),
    ("ended_at", "9999-12-31T23:59:59-14:00"),  # year 10000 in UTC
    # representable times outside the claim window are the trip rules' (test_trip_window.py)
])
def test_a_trip_time_out_of_range_is_422_naming_it(accounts, people, field, moment):
    headers, operator = people["citizen"], people["transit_operator"]
    body = {**ride(CITY_DAY), field: moment}
    assert fields_of(accounts.http.post("/api/v1/trips", headers=headers, json=body)) == [field]
    batch = {"trips": [{**body, "username": "someone"}]}
    assert fields_of(accounts.http.post("/api/v1/trips/batch", headers=operator, json=batch)) == \
        [f"trips[0].{field}"]


@pytest.mark.parametrize("period", ["２０２４", "٢٠٢٤", "२०२४", "2024-Q１", "２０２４-03", "2024\n"])
def test_periods_are_ascii_digits_only(accounts, people, period):
    headers, regulator = people["enterprise"], people["regulator"]
    firm = enterprise(accounts, headers)
    filed = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                               json={"period": period, "activities": MIXED[:1]})
    assert fields_of(filed) == ["period"]
    assert fields_of(accounts.http.get("/api/v1/disclosures", params={"period": period})) == \
        ["period"]
    if len(period) == 4:  # a year, in some other script's digits
        assert fields_of(accounts.http.get("/api/v1/stats/city", headers=regulator,
                                           params={"period": period})) == ["period"]


def test_a_uscc_with_other_scripts_digits_is_422_naming_it(accounts, people):
    headers = people["enterprise"]
    body = "91" + "３５０１００" + "M000100Y4"  # full-width region code
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": "x", "uscc": body + check_character("91350100M000100Y4"), "county": "x",
        "industry": "x"})
    assert fields_of(reply) == ["uscc"] and "region code" in reply.text


def test_text_postgresql_cannot_store_is_422_naming_the_field(accounts, people):
    citizen, firm_user = people["citizen"], people["enterprise"]
    as_json = {"content-type": "application/json"}
    cases = [
        ("/api/v1/trips", citizen, {**ride(CITY_DAY), "external_id": "\ud800"}, "external_id"),
        ("/api/v1/trips", citizen, {**ride(CITY_DAY), "external_id": "card\x00"}, "external_id"),
        ("/api/v1/auth/register", {}, {"username": "nul", "password": "pass\x00word!",
                                       "role": "citizen"}, "password"),
        ("/api/v1/enterprises", firm_user, {"name": "\ud83d", "uscc": "91350100M000100Y43",
                                            "county": "x", "industry": "x"}, "name"),
    ]
    for path, headers, body, field in cases:
        reply = accounts.http.post(path, headers={**headers, **as_json}, content=json.dumps(body))
        assert fields_of(reply) == [field], (path, body)
    for path in ("/api/v1/reports/%00", "/api/v1/enterprises/%00/reports",
                 "/api/v1/me/redemptions/%00"):
        headers = citizen if "redemptions" in path else firm_user
        assert len(fields_of(accounts.http.get(path, headers=headers))) == 1
    token = accounts.http.post("/api/v1/auth/token", data={"username": "a\x00b", "password": "x" * 9})
    assert token.status_code == 401  # no user has such a name: the usual answer, not a 500
