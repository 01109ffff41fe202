"""Large events, listings and offsets (buy cheapest first + retire, all or nothing) on PostgreSQL."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from tanhui_credits.store.market_tables import Listing, Payment
from tanhui_credits.store.tables import Block, Certificate, Retirement
from tanhui_shared.contracts import CreditsRetired

EVENT = {"name": "Chengdu Marathon 2025", "start_date": "2025-10-26", "end_date": "2025-10-26",
         "venue": "Tianfu Square", "attendees": 30000, "electricity_kwh": "20000",
         "grid_region": "sichuan", "grid_year": 2023, "fuels": {"diesel_t": "0.5"},
         "travel": [{"mode": "rail", "person_km": "100000"}, {"mode": "air", "person_km": "20000"}],
         "accommodation_nights": 300, "meals": 2000, "printed_materials_kg": 500,
         "waste_kg": 1000}


def _sell(world, seller, quantity: int, price: str) -> dict:  # noqa: ANN001
    reply = world.http.post("/api/v1/listings", headers=seller.headers,
                            json={"quantity": quantity, "price_per_tonne": price})
    assert reply.status_code == 201, reply.text
    return reply.json()


def _event(world, organizer, **changes) -> dict:  # noqa: ANN001
    reply = world.http.post("/api/v1/events", headers=organizer.headers, json={**EVENT, **changes})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_event_estimate_lists_every_factor(world):
    organizer = world.user("organizer")
    event = _event(world, organizer)
    estimate = event["estimate"]
    assert estimate["credits_to_neutralise"] == 36
    assert set(estimate["by_category"]) == {"energy", "travel", "accommodation", "catering",
                                            "materials", "waste"}
    electricity = estimate["lines"][0]
    assert electricity["factor"]["code"] == "grid.sichuan.2023"
    assert Decimal(electricity["tco2e"]) == Decimal("3.128")  # 20 000 kWh x 0.1564 kg
    assert event["provisional"] is True and event["final"] is None
    assert event["accounting_deadline"] == "2026-10-26"
    assert all(line["factor"]["source"] and line["factor"]["version"] for line in estimate["lines"])
    assert event["neutral"] is False
    citizen = world.user("citizen")
    assert world.http.post("/api/v1/events", headers=citizen.headers, json=EVENT).status_code == 403
    bad = world.http.post("/api/v1/events", headers=organizer.headers,
                          json={**EVENT, "travel": [{"mode": "rocket", "person_km": 1}]})
    assert bad.status_code == 422 and "travel[0].mode" in bad.json()["detail"]
    backwards = world.http.post("/api/v1/events", headers=organizer.headers,
                                json={**EVENT, "end_date": "2025-10-01"})
    assert backwards.status_code == 422


def test_listing_reserves_credits_and_offsets_buy_cheapest_first(world):
    dev_a, dev_b, organizer = world.user(), world.user(), world.user("organizer")
    world.issue(dev_a, 50, project_number=500)
    world.issue(dev_b, 50, project_number=501)
    dear = _sell(world, dev_a, 30, "88.00")
    cheap = _sell(world, dev_b, 20, "45.50")
    # listed credits cannot be moved elsewhere
    blocked = world.http.post("/api/v1/transfers", headers=dev_a.headers,
                              json={"to_username": dev_b.username, "quantity": 21})
    assert blocked.status_code == 409
    assert world.holdings(dev_a)["available"] == 20 and world.holdings(dev_a)["total"] == 50
    listed = [l["id"] for l in world.http.get("/api/v1/listings").json()]
    assert listed.index(cheap["id"]) < listed.index(dear["id"])

    event = _event(world, organizer)
    reply = world.http.post(f"/api/v1/events/{event['id']}/offsets", headers=organizer.headers,
                            json={})
    assert reply.status_code == 201, reply.text
    bought = reply.json()
    assert bought["quantity"] == 36 and bought["event"]["neutral"] is True
    assert [(p["listing_id"], p["quantity"], p["amount"]) for p in bought["payments"]] == \
        [(cheap["id"], 20, "910.00"), (dear["id"], 16, "1408.00")]
    certificate = bought["certificate"]
    assert certificate["event_id"] == event["id"] and certificate["quantity"] == 36
    assert certificate["beneficiary"] == "Chengdu Marathon 2025"
    published = [e for e in world.outbox(CreditsRetired.TYPE) if e["event_id"] == event["id"]]
    assert published[0]["retired_by_user_id"] == organizer.id
    assert world.http.get(f"/api/v1/events/{event['id']}").json()["neutral"] is True
    assert world.holdings(dev_a)["total"] == 34 and world.holdings(dev_b)["total"] == 30
    stranger = world.user("organizer")
    assert world.http.post(f"/api/v1/events/{event['id']}/offsets", headers=stranger.headers,
                           json={"quantity": 1}).status_code == 403


def test_two_hundred_concurrent_offsets_never_oversell(fresh_world):
    world = fresh_world
    organizer = world.user("organizer")
    sellers = [world.user() for _ in range(4)]
    for number, (seller, size, price) in enumerate(zip(sellers, (7, 50, 101, 142),
                                                       ("30", "31.5", "29", "35")), start=900):
        world.issue(seller, size + 10, project_number=number)
        _sell(world, seller, size, price)  # 300 credits listed in all
    events = [_event(world, organizer, name=f"Expo day {i}")["id"] for i in range(200)]

    def offset(event_id: str) -> int:
        return world.http.post(f"/api/v1/events/{event_id}/offsets", headers=organizer.headers,
                               json={"quantity": 3}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(offset, events))
    assert codes.count(201) == 100 and codes.count(409) == 100, codes

    with Session(world.engine) as session:
        listings = session.exec(select(Listing)).all()
        assert all(l.stock.remaining == 0 and l.stock.status == "sold_out" for l in listings)
        payments = session.exec(select(Payment)).all()
        assert sum(p.quantity for p in payments) == 300
        retirements = session.exec(select(Retirement)).all()
        assert len(retirements) == 100 and {r.quantity for r in retirements} == {3}
        assert session.exec(select(func.count()).select_from(Certificate)).one() == 100
        assert {p.retirement_id for p in payments} == {r.id for r in retirements}
        retired = session.exec(select(func.sum(Block.last - Block.first + 1))
                               .where(Block.status == "retired")).one()
        assert retired == 300
        reserved = session.exec(select(func.count()).select_from(Block).where(
            Block.status == "active", Block.listing_id.is_not(None))).one()
        assert reserved == 0
    for row in world.http.get("/api/v1/registry/projects").json():
        assert row["issued"] == row["held"] + row["retired"] + row["buffer"]
    with world.engine.connect() as conn:
        clashes = conn.execute(text(
            "SELECT count(*) FROM serial_block a JOIN serial_block b ON a.id < b.id "
            "AND a.project_number = b.project_number AND a.vintage = b.vintage "
            "AND a.first <= b.last AND b.first <= a.last "
            "WHERE a.status <> 'superseded' AND b.status <> 'superseded'")).scalar()
    assert clashes == 0
    assert world.http.get("/api/v1/registry/audit/verify").json()["intact"] is True


ENDED = {**EVENT, "name": "Nanchong Expo 2025", "start_date": "2025-05-01",
         "end_date": "2025-05-03"}


def test_a_second_default_offset_buys_nothing_more_and_beyond_needs_a_quantity(world):
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 100, project_number=610)
    _sell(world, seller, 100, "40")
    event = _event(world, organizer, **ENDED)
    path = f"/api/v1/events/{event['id']}/offsets"
    first = world.http.post(path, headers=organizer.headers, json={})
    assert first.status_code == 201 and first.json()["quantity"] == 36
    again = world.http.post(path, headers=organizer.headers, json={})
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "quantity" and "nothing is uncovered" in again.json()["detail"]
    view = world.http.get(f"/api/v1/events/{event['id']}").json()
    assert (view["retired_credits"], view["uncovered_credits"], view["neutral"]) == (36, 0, True)
    more = world.http.post(path, headers=organizer.headers, json={"quantity": 4})
    assert more.status_code == 201 and more.json()["event"]["retired_credits"] == 40


def test_actuals_after_the_event_recompute_the_final_figure_and_neutrality_follows_it(world):
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 100, project_number=611)
    _sell(world, seller, 100, "40")
    event = _event(world, organizer, **ENDED)
    offset = world.http.post(f"/api/v1/events/{event['id']}/offsets", headers=organizer.headers,
                             json={})
    assert offset.json()["event"]["neutral"] is True and offset.json()["event"]["provisional"]
    # the actual data: the plan plus 150 GJ of purchased heat and 10 000 bus person-km. The plan
    # is 3.128 + 1.547955 (0.5 t diesel) + 3.546 + 5.4514 + 16.05 + 5 + 0.67253895 (500 kg of
    # paper x 1345.0779 kg/t, DESNZ 2025) + 0.5203342 = 35.91622795 t; + 16.5 (150 GJ x 0.11)
    # + 1.0846 (10 000 x 0.10846 kg) = 53.50082795 -> 54
    actual = {key: EVENT[key] for key in EVENT if key not in
              ("name", "start_date", "end_date", "venue", "attendees")}
    actual = {**actual, "heat_gj": "150",
              "travel": [*EVENT["travel"], {"mode": "bus", "person_km": "10000"}]}
    path = f"/api/v1/events/{event['id']}/actuals"
    filed = world.http.post(path, headers=organizer.headers, json=actual)
    assert filed.status_code == 201, filed.text
    view = filed.json()
    assert view["provisional"] is False and view["final"]["revision"] == 1
    final = view["final"]["estimate"]
    lines = {line["activity"]: line for line in final["lines"]}
    assert Decimal(lines["purchased heat"]["tco2e"]) == Decimal("16.5")
    assert lines["purchased heat"]["factor"]["code"] == "heat.purchased"
    assert Decimal(lines["travel by bus"]["tco2e"]) == Decimal("1.0846")
    assert final["credits_to_neutralise"] == 54 and view["estimate"]["credits_to_neutralise"] == 36
    assert (view["credits_needed"], view["retired_credits"], view["uncovered_credits"],
            view["neutral"]) == (54, 36, 18, False)
    topped = world.http.post(f"/api/v1/events/{event['id']}/offsets",
                             headers=organizer.headers, json={})
    assert topped.status_code == 201 and topped.json()["quantity"] == 18
    assert topped.json()["event"]["neutral"] is True
    # a revision replaces the final figure; both stay on record
    revised = world.http.post(path, headers=organizer.headers, json={**actual, "heat_gj": "0"})
    assert revised.status_code == 201 and revised.json()["final"]["revision"] == 2
    # without the heat: 35.91622795 + 1.0846 = 37.00082795 -> 38 needed, 54 retired
    assert (revised.json()["credits_needed"], revised.json()["neutral"]) == (38, True)
    stranger = world.user("organizer")
    assert world.http.post(path, headers=stranger.headers, json=actual).status_code == 403


def test_actuals_are_refused_before_the_event_ends_and_for_dates_no_factor_covers(world):
    organizer = world.user("organizer")
    upcoming = _event(world, organizer, name="Future fair", start_date="2099-01-01",
                      end_date="2099-01-02")
    early = world.http.post(f"/api/v1/events/{upcoming['id']}/actuals",
                            headers=organizer.headers, json={"meals": "10"})
    assert early.status_code == 409 and early.json()["code"] == "event-not-over"
    old = world.http.post("/api/v1/events", headers=organizer.headers,
                          json={**EVENT, "start_date": "2023-05-01", "end_date": "2023-05-02"})
    assert old.status_code == 422 and old.json()["field"] == "travel[0].mode"
    assert "no version of travel.rail" in old.json()["detail"]


def test_concurrent_default_offsets_of_one_event_never_retire_more_than_is_uncovered(world):
    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 400, project_number=612)
    _sell(world, seller, 400, "40")  # enough for every request: only the event lock can stop them
    event = _event(world, organizer, **ENDED)

    def offset(_: int) -> int:
        return world.http.post(f"/api/v1/events/{event['id']}/offsets",
                               headers=organizer.headers, json={}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(offset, range(8)))
    assert sorted(codes) == [201] + [409] * 7, codes
    with Session(world.engine) as session:
        retired = session.exec(select(func.sum(Retirement.quantity))
                               .where(Retirement.event_id == event["id"])).one()
    assert retired == 36


def _refused_by(world, sql: str, **params) -> str:  # noqa: ANN001
    """Run `sql` past the application: the name of the constraint that refused it."""
    with pytest.raises(IntegrityError) as refused, world.engine.begin() as conn:
        conn.execute(text(sql), params)
    return refused.value.orig.diag.constraint_name


def test_the_schema_keeps_one_accounting_per_revision_and_events_in_date_order(world):
    organizer = world.user("organizer")
    event = _event(world, organizer, **ENDED)
    assert world.http.post(f"/api/v1/events/{event['id']}/actuals", headers=organizer.headers,
                           json={"meals": "10"}).status_code == 201
    again = ("INSERT INTO event_accounting (id, event_id, revision, activity, estimate, "
             "total_tco2e, filed_by_user_id, filed_at) VALUES (:id, :event, 1, '{}', '{}', 0, "
             "'hand', now())")
    assert _refused_by(world, again, id="forced", event=event["id"]) == \
        "uq_event_accounting_revision"
    assert _refused_by(world, "UPDATE large_event SET end_date = start_date - 1 WHERE id = :id",
                       id=event["id"]) == "ck_large_event_dates"


def test_every_version_of_the_event_factors_is_listed_with_its_validity(world):
    every = world.http.get("/api/v1/event-factors")
    assert every.status_code == 200
    codes = {f["code"] for f in every.json()}
    assert {"heat.purchased", "travel.bus", "material.paper", "grid.sichuan.2023"} <= codes
    paper = world.http.get("/api/v1/event-factors", params={"code": "material.paper"}).json()
    # DESNZ 2025: 1345.0779 kg CO2e per tonne of paper = 0.0013450779 t per kg, from 2025-01-01
    assert [(f["value"], f["valid_from"], f["version"]) for f in paper] == [
        ("0.0013450779", "2025-01-01", "DESNZ 2025")]
    in_2024 = world.http.get("/api/v1/event-factors", params={"valid_on": "2024-06-01"}).json()
    assert "material.paper" not in {f["code"] for f in in_2024}
    assert "travel.bus" in {f["code"] for f in in_2024}  # DESNZ 2024, from 2024-01-01


def test_an_explicit_offset_holds_off_a_default_offset_of_its_event_until_it_commits(world):
    """Explicit offsets take the event's lock shared (they run side by side); a default offset
    started meanwhile waits, then covers only what the explicit one left uncovered."""
    import threading

    from tanhui_credits.usecases.market import offset_event
    from tanhui_shared.uow import in_unit_of_work

    seller, organizer = world.user(), world.user("organizer")
    world.issue(seller, 400, project_number=613)
    _sell(world, seller, 400, "40")
    event = _event(world, organizer, **ENDED)  # 36 credits needed
    bought, release = threading.Event(), threading.Event()

    def explicit(uow):  # noqa: ANN001, ANN202
        # last=False: the unit goes on (as with an idempotency record), so it commits only at
        # its end; with last=True the purchase's statement carries the COMMIT itself
        done = offset_event(uow, organizer.id, event["id"], 10, last=False)
        bought.set()
        assert release.wait(10)  # still uncommitted, the event's lock held
        return done

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(in_unit_of_work, world.engine, explicit)
        assert bought.wait(10)
        second = pool.submit(in_unit_of_work, world.engine,
                             lambda uow: offset_event(uow, organizer.id, event["id"]))
        with pytest.raises(TimeoutError):
            second.result(timeout=1)  # it queues on the event's lock
        release.set()
        assert (first.result(10).quantity, second.result(10).quantity) == (10, 26)
