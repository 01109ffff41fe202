"""Personal carbon accounts through the API, on PostgreSQL: trips, the ledger, redemptions."""
from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from tanhui_accounts.domain.points import EntryKind
from tanhui_accounts.domain.trip_batch import CITY_TZ
from tanhui_accounts.events.handlers import on_pooled_redemption_completed, on_redemption_rejected
from tanhui_accounts.store.points import post_entry
from tanhui_accounts.store.tables import GreenTrip, PointsAccount, PointsEntry, Redemption
from tanhui_shared.contracts import RedemptionCompletedV2, RedemptionRejected, RedemptionRequestedV2
from tanhui_shared.messaging import OutboxMessage
from tanhui_shared.uow import in_unit_of_work

# 12:00 in the city two days ago: inside the claim window, and the day's rides stay on that day
NOON = (datetime.now(CITY_TZ) - timedelta(days=2)).replace(hour=12, minute=0, second=0,
                                                           microsecond=0).astimezone(UTC)


def trip(minutes_after=0, minutes=30, mode="bike", km="6", external_id=None) -> dict:
    start = NOON + timedelta(minutes=minutes_after)
    return {"mode": mode, "distance_km": km, "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
            "external_id": external_id or uuid.uuid4().hex}


def account_of(accounts, user_id) -> PointsAccount:
    with Session(accounts.engine) as session:
        return session.get(PointsAccount, user_id)


def grant_points(accounts, user_id: str, points: int) -> None:
    in_unit_of_work(accounts.engine,
                    lambda uow: post_entry(uow.session, user_id, EntryKind.EARN, points))


def test_a_trip_earns_points_once_per_external_id(accounts):
    user, headers = accounts.user("citizen")
    ride = trip(km="6")
    first = accounts.http.post("/api/v1/trips", headers=headers, json=ride)
    again = accounts.http.post("/api/v1/trips", headers=headers, json=ride)
    assert first.status_code == 201, first.text
    # 6 km x 46.7 g/person-km (mixed-mode baseline) = 280.2 g -> 28 points
    assert first.json()["points"] == 28 and first.json()["reduction_g"] == "280.2"
    assert again.status_code == 201 and again.json()["status"] == "duplicate"
    assert again.json()["id"] == first.json()["id"]
    # the first answer reads as the duplicate's, which is the stored trip ("6.000", not "6")
    assert {**first.json(), "status": "duplicate"} == again.json()
    assert first.json()["distance_km"] == "6.000"
    mine = accounts.http.get("/api/v1/me/carbon-account", headers=headers).json()
    assert (mine["balance"], mine["on_hold"], mine["entries_total"]) == (28, 0, 1)
    assert mine["reduction_kg"] == "0.280"


def test_bad_and_fraudulent_trips_are_refused_with_a_reason_and_nothing_written(accounts):
    user, headers = accounts.user("citizen")
    assert accounts.http.post("/api/v1/trips", headers=headers, json=trip()).status_code == 201
    cases = [
        ({**trip(), "ended_at": NOON.isoformat(), "started_at": (NOON + timedelta(hours=1)).isoformat()},
         422, "ended_at: Value error, ended_at must be after started_at"),
        (trip(minutes_after=10), 422, "overlaps"),  # inside the first ride
        (trip(minutes_after=120, minutes=10, mode="walk", km="5"), 422, "implausible for walk"),
        ({**trip(minutes_after=200), "distance_km": "-3"}, 422, "distance_km"),
        ({**trip(minutes_after=200), "mode": "jetpack"}, 422, "mode"),
    ]
    for body, status, words in cases:
        reply = accounts.http.post("/api/v1/trips", headers=headers, json=body)
        assert reply.status_code == status, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        assert words in reply.text
    with Session(accounts.engine) as session:
        assert session.exec(select(func.count()).select_from(GreenTrip)
                            .where(GreenTrip.user_id == user["id"])).one() == 1


def test_an_operator_batch_counts_accepted_duplicates_and_rejections(accounts):
    alice, _ = accounts.user("citizen")
    bob, _ = accounts.user("citizen")
    _, operator = accounts.user("transit_operator")
    records = [{**trip(minutes_after=i * 40, mode="metro", km="8"), "username": alice["username"]}
               for i in range(10)]
    records += [{**trip(minutes_after=i * 40, mode="bus", km="5"), "username": bob["username"]}
                for i in range(5)]
    records.append({**records[0], "external_id": records[0]["external_id"]})  # repeated card tap
    records.append({**trip(), "username": "nobody-" + uuid.uuid4().hex[:6]})
    records.append({**trip(minutes_after=5, mode="metro", km="8"), "username": alice["username"]})
    reply = accounts.http.post("/api/v1/trips/batch", headers=operator, json={"trips": records})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["accepted"], body["duplicates"]) == (15, 1)
    assert [(r["index"], r["reason"].split(" ")[0]) for r in body["rejected"]] == \
        [(16, "unknown"), (17, "overlaps")]
    # metro 8 km = 373.6 g = 37 points, 10 rides, under the 500/day metro cap
    assert account_of(accounts, alice["id"]).balance == 370
    assert account_of(accounts, bob["id"]).balance == 5 * 13
    again = accounts.http.post("/api/v1/trips/batch", headers=operator, json={"trips": records})
    assert again.json()["accepted"] == 0 and account_of(accounts, alice["id"]).balance == 370
    citizen_headers = accounts.user("citizen")[1]
    assert accounts.http.post("/api/v1/trips/batch", headers=citizen_headers,
                              json={"trips": records[:1]}).status_code == 403


def test_200_concurrent_redemptions_of_the_whole_balance_let_exactly_one_through(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts, user["id"], 300_000)

    def redeem(_):
        return accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 300_000})

    with ThreadPoolExecutor(max_workers=32) as pool:
        replies = list(pool.map(redeem, range(200)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(202) == 1, statuses
    assert set(statuses) == {202, 409}
    account = account_of(accounts, user["id"])
    assert (account.balance, account.held) == (300_000, 300_000)
    with Session(accounts.engine) as session:
        holds = session.exec(select(PointsEntry).where(PointsEntry.user_id == user["id"])
                             .where(PointsEntry.kind == "hold")).all()
        requested = [m for m in session.exec(select(OutboxMessage)).all()
                     if RedemptionRequestedV2.TYPE in m.envelope and user["id"] in m.envelope]
    assert len(holds) == 1 and len(requested) == 1
    assert json.loads(requested[0].envelope)["data"]["kg"] == 3000  # 300,000 points / 100 per kg


def test_the_redemption_saga_settles_or_releases_once_whatever_the_answers(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts, user["id"], 250_000)
    done = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 100_000}).json()
    refused = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 100_000}).json()
    assert account_of(accounts, user["id"]).held == 200_000

    completed = RedemptionCompletedV2(redemption_id=done["id"], user_id=user["id"], kg=1000,
                                      certificate_id="cert-9", shares=[])
    rejected = RedemptionRejected(redemption_id=refused["id"], user_id=user["id"],
                                  reason="the inclusion pool is empty")
    late_rejection = RedemptionRejected(redemption_id=done["id"], user_id=user["id"], reason="late")
    for handler, answer in [(on_pooled_redemption_completed, completed),
                            (on_redemption_rejected, rejected),
                            (on_pooled_redemption_completed, completed),
                            (on_redemption_rejected, late_rejection),
                            (on_redemption_rejected, rejected)]:  # duplicated and reordered answers
        in_unit_of_work(accounts.engine, lambda uow: handler(uow, None, answer))  # noqa: B023

    account = account_of(accounts, user["id"])
    assert (account.balance, account.held) == (150_000, 0)  # one settled, one given back
    mine = accounts.http.get(f"/api/v1/me/redemptions/{done['id']}", headers=headers).json()
    theirs = accounts.http.get(f"/api/v1/me/redemptions/{refused['id']}", headers=headers).json()
    assert (mine["state"], mine["certificate_id"]) == ("completed", "cert-9")
    assert (theirs["state"], theirs["reason"]) == ("rejected", "the inclusion pool is empty")
    kinds = [e["kind"] for e in accounts.http.get("/api/v1/me/carbon-account",
                                                  headers=headers).json()["entries"]]
    assert kinds == ["release", "settle", "hold", "hold", "earn"]


def test_a_redemption_must_be_whole_units_and_replays_with_its_idempotency_key(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts, user["id"], 200_000)
    odd = accounts.http.post("/api/v1/me/redemptions", headers=headers, json={"points": 1_500})
    assert odd.status_code == 422 and odd.json()["field"] == "points"
    for bad in (0, -100_000, 1.5, "100000", 10**12):
        assert accounts.http.post("/api/v1/me/redemptions", headers=headers,
                                  json={"points": bad}).status_code == 422
    keyed = {**headers, "Idempotency-Key": "redeem-" + uuid.uuid4().hex}
    first = accounts.http.post("/api/v1/me/redemptions", headers=keyed, json={"points": 100_000})
    replay = accounts.http.post("/api/v1/me/redemptions", headers=keyed, json={"points": 100_000})
    other = accounts.http.post("/api/v1/me/redemptions", headers=keyed, json={"points": 200_000})
    assert first.status_code == replay.status_code == 202
    assert replay.json() == first.json() and replay.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    with Session(accounts.engine) as session:
        assert len(session.exec(select(Redemption).where(Redemption.user_id == user["id"])).all()) == 1
    assert account_of(accounts, user["id"]).held == 100_000
