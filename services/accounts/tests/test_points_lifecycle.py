"""Points expiry and small-unit redemptions (issue 13): worked examples from the cited rules,
the API, and races against PostgreSQL."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from accounts_support import grant_points, ledger_mismatches, scalar
from tanhui_accounts.domain.points import (EntryKind, Lot, due_for_expiry, expires_at, expiring,
                                           open_lots)
from tanhui_accounts.store.points import post_entry
from tanhui_accounts.usecases.expiry import expire_all, expire_points
from tanhui_shared.errors import Conflict
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.testing.live_server import live_server, race
from tanhui_shared.uow import in_unit_of_work

TEN_YEARS_AGO = "created_at - interval '10 years' - interval '2 days'"


@pytest.fixture(scope="module")
def server(accounts):
    with live_server(accounts.app) as base_url:
        yield base_url


def at(*ymd: int) -> datetime:
    return datetime(*ymd, tzinfo=UTC)


# --- worked examples: Shenzhen's 10-year validity, FIFO by earning date ----------------------

def test_points_expire_ten_years_after_they_were_earned_oldest_first():
    # 300 points earned 2016-01-10, 500 on 2016-06-01, 200 on 2017-03-01 (1,000 in all); 100
    # were spent and 300 are on hold since: 400 consumed, taken from the oldest lots first.
    lots = [Lot(at(2016, 6, 1), 500), Lot(at(2016, 1, 10), 300), Lot(at(2017, 3, 1), 200)]
    # the 2016-01-10 lot is used up (300), 100 comes off the 2016-06-01 lot: 400 and 200 left
    assert open_lots(lots, 400) == [Lot(at(2016, 6, 1), 400), Lot(at(2017, 3, 1), 200)]
    # 10 years on (深圳市碳普惠管理办法 2022: at most 10 years): 2026-06-01
    assert expires_at(at(2016, 6, 1)) == at(2026, 6, 1)
    assert due_for_expiry(lots, 400, at(2026, 5, 31)) == 0
    assert due_for_expiry(lots, 400, at(2026, 7, 1)) == 400
    # applied, the 400 expired count as consumed: running again finds nothing more
    assert due_for_expiry(lots, 400 + 400, at(2026, 7, 1)) == 0
    # 30 days' notice: on 2027-02-10 the 200 of 2017-03-01 are announced for 2027-03-01
    assert expiring(lots, 800, at(2027, 2, 10)) == [(at(2027, 3, 1), 200)]
    assert expiring(lots, 800, at(2027, 1, 10)) == []
    # a leap day's points last until 28 February ten years later
    assert expires_at(at(2024, 2, 29)) == at(2034, 2, 28)


def test_held_points_are_consumed_first_so_a_pending_redemption_keeps_them():
    lots = [Lot(at(2016, 1, 1), 1000), Lot(at(2020, 1, 1), 1000)]
    # 1,000 on hold: the old lot is the held one, nothing of it is left to expire
    assert due_for_expiry(lots, 1000, at(2026, 6, 1)) == 0
    # the hold released (consumed back to 0): the old 1,000 are due
    assert due_for_expiry(lots, 0, at(2026, 6, 1)) == 1000


# --- the API ------------------------------------------------------------------------------------

def _age_earnings(accounts, user_id: str) -> None:
    """Backdate the citizen's earnings past the 10-year validity (test set-up only)."""
    with accounts.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE points_entry SET created_at = {TEN_YEARS_AGO} "
                             "WHERE user_id = :u AND kind = 'earn'"), {"u": user_id})


def _account(accounts, headers) -> dict:
    reply = accounts.http.get("/api/v1/me/carbon-account", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_methodology_is_public_and_cites_every_parameter(accounts):
    reply = accounts.http.get("/api/v1/methodology")
    assert reply.status_code == 200, reply.text
    params = {p["key"]: p for p in reply.json()["parameters"]}
    assert params["reduction.bike"]["value"] == "46.7" and params["reduction.metro"]["value"] == "46.7"
    assert params["reduction.bus"]["value"] == "26.9"
    assert params["ev.grid"]["value"] == "0.1564" and "Sichuan" in params["ev.grid"]["source"]
    assert params["points.validity"]["value"] == 10
    assert params["redemption.unit"]["value"] == 1000
    for p in params.values():  # a source, or a platform assumption saying why
        assert p["source"] and (not p["assumption"] or p["note"]), p


def test_a_redemption_is_whole_units_of_1000_points_for_10_kg(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts.engine, user["id"], 2_500)
    odd = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 1_500})
    assert odd.status_code == 422 and odd.json()["field"] == "points"
    small = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 2_000})
    assert small.status_code == 202, small.text
    assert (small.json()["kg"], small.json()["quantity"], small.json()["state"]) == (20, None, "pending")
    too_much = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 1_000})
    assert too_much.status_code == 409  # 500 available


def test_old_points_are_announced_then_expired_once_but_held_ones_never(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts.engine, user["id"], 3_000)
    held = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 1_000})
    assert held.status_code == 202
    _age_earnings(accounts, user["id"])
    # the view shows what is due (already past) before anything is written
    mine = _account(accounts, headers)
    assert (mine["balance"], mine["available"]) == (3_000, 2_000)
    assert [e["points"] for e in mine["expiring"]] == [2_000] and mine["expiring_within_days"] == 30
    assert datetime.fromisoformat(mine["expiring"][0]["expires_at"]) < utcnow()
    # the job, twice (a restart): 2,000 expire once, the 1,000 on hold stay
    now = utcnow()
    assert in_unit_of_work(accounts.engine, lambda uow: expire_points(uow, user["id"], now)) == 2_000
    assert in_unit_of_work(accounts.engine, lambda uow: expire_points(uow, user["id"], now)) == 0
    mine = _account(accounts, headers)
    assert (mine["balance"], mine["on_hold"], mine["available"]) == (1_000, 1_000, 0)
    assert mine["entries"][0]["kind"] == "expire" and mine["entries"][0]["points"] == 2_000
    assert mine["expiring"] == []
    assert ledger_mismatches(accounts.engine) == []


def test_a_redemption_never_spends_expired_points(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts.engine, user["id"], 1_000)
    _age_earnings(accounts, user["id"])
    grant_points(accounts.engine, user["id"], 1_000)  # fresh
    refused = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 2_000})
    assert refused.status_code == 409, refused.text
    mine = _account(accounts, headers)  # the refusal wrote nothing, the expiry included
    assert (mine["balance"], mine["available"]) == (2_000, 2_000)
    taken = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 1_000})
    assert taken.status_code == 202
    mine = _account(accounts, headers)
    assert [e["kind"] for e in mine["entries"]] == ["hold", "expire", "earn", "earn"]
    assert (mine["balance"], mine["on_hold"]) == (1_000, 1_000)


def test_the_schema_writes_one_expiry_per_computation(accounts):
    user, _ = accounts.user("citizen")
    grant_points(accounts.engine, user["id"], 500)

    def expire_twice(uow):  # a run that skipped the lock and read the same expired total (0)
        post_entry(uow.session, user["id"], EntryKind.EXPIRE, 100, expired_before=0)
        post_entry(uow.session, user["id"], EntryKind.EXPIRE, 100, expired_before=0)

    with pytest.raises(Conflict, match="expired by another run"):  # a 409, never a 500
        in_unit_of_work(accounts.engine, expire_twice)
    assert scalar(accounts.engine, "SELECT balance FROM points_account WHERE user_id = :u",
                  u=user["id"]) == 500


def test_concurrent_expiry_runs_and_redemptions_never_overdraw(accounts, server):
    citizens = [accounts.user("citizen") for _ in range(4)]
    for user, _ in citizens:
        grant_points(accounts.engine, user["id"], 5_000)
        _age_earnings(accounts, user["id"])
        grant_points(accounts.engine, user["id"], 3_000)  # fresh: redeemable
    now = utcnow()
    errors: list[BaseException] = []

    def job():
        try:
            expire_all(accounts.engine, now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    jobs = [threading.Thread(target=job) for _ in range(6)]
    for t in jobs:
        t.start()
    shots = [lambda client, h=h: client.post("/api/v1/me/redemptions", json={"points": 1_000},
                                              headers={**h, "Idempotency-Key": uuid.uuid4().hex})
             for _, h in citizens for _ in range(5)]
    replies = race(shots, server)
    for t in jobs:
        t.join()
    # a job that lost a race to the schema's unique expiry key is the only error allowed
    assert all(isinstance(e, Conflict) and "expired by another run" in str(e)
               for e in errors), errors
    assert {r.status_code for r in replies} <= {202, 409}
    for user, headers in citizens:
        mine = _account(accounts, headers)
        # 5,000 old points expired exactly once; of the fresh 3,000, 3 redemptions held
        assert (mine["balance"], mine["on_hold"], mine["available"]) == (3_000, 3_000, 0)
        assert scalar(accounts.engine, "SELECT sum(points) FROM points_entry WHERE user_id = :u "
                      "AND kind = 'expire'", u=user["id"]) == 5_000
    assert sum(r.status_code == 202 for r in replies) == 12
    assert ledger_mismatches(accounts.engine) == []
