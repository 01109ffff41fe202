"""Large events, listings and offsets (buy cheapest first + retire, all or nothing) on PostgreSQL."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text
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
    assert electricity["factor"]["code"] == "GRID-SICHUAN-2023"
    assert electricity["tco2e"] == "3.1280"
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
        assert all(l.remaining == 0 and l.status == "sold_out" for l in listings)
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
