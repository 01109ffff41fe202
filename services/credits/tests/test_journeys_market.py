"""Issue 14 in credits, on PostgreSQL: the owner-scoped lists, cancelling a listing, buying from
one into one's holding (and the race for its last credits), then retiring against a report."""
from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from tanhui_credits.store.market_tables import Listing, ListingPurchase
from tanhui_shared.contracts import ReportFiled
from tanhui_shared.contracts.events import CreditsPurchased


def _sell(world, seller, quantity: int, price: str = "50.00") -> dict:  # noqa: ANN001
    reply = world.http.post("/api/v1/listings", headers=seller.headers,
                            json={"quantity": quantity, "price_per_tonne": price})
    assert reply.status_code == 201, reply.text
    return reply.json()


def _buy(world, buyer, listing_id: str, quantity: int, key: str | None = None):  # noqa: ANN001
    headers = {**buyer.headers, **({"Idempotency-Key": key} if key else {})}
    return world.http.post(f"/api/v1/listings/{listing_id}/purchases", headers=headers,
                           json={"quantity": quantity})


def _mine(world, user, path: str, **params) -> dict:  # noqa: ANN001
    reply = world.http.get(path, headers=user.headers, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_an_enterprise_buys_from_a_listing_into_its_holding_then_retires_against_its_report(world):
    dev, firm = world.user(), world.user("enterprise")
    world.issue(dev, 100, project_number=1400)
    listing = _sell(world, dev, 60, "48.50")
    reply = _buy(world, firm, listing["id"], 25, key="buy-once")
    assert reply.status_code == 201, reply.text
    bought = reply.json()
    # 25 x 48.50 yuan = 1,212.50 yuan; the listing's blocks are the upper 60 serials (41..100),
    # the buyer takes their upper 25 (76..100), the listing keeps 41..75
    assert (bought["quantity"], bought["price_total"]) == (25, "1212.50")
    assert bought["serials"] == ["NC-FS-1400-2025-000000076-000000100"]
    again = _buy(world, firm, listing["id"], 25, key="buy-once")  # a replay changes nothing
    assert again.status_code == 201 and again.json() == bought
    holding = world.holdings(firm)
    assert (holding["total"], holding["available"]) == (25, 25)
    public = world.http.get("/api/v1/listings").json()  # the public market: a plain array
    assert [x["remaining"] for x in public if x["id"] == listing["id"]] == [35]
    seller_view = _mine(world, dev, "/api/v1/listings", mine="true")
    assert [(i["id"], i["remaining"], i["status"]) for i in seller_view["items"]] == \
        [(listing["id"], 35, "open")]
    # the serial's lineage runs from the issuance to the seller, its listing, then the buyer
    steps = world.http.get("/api/v1/registry/serials/NC-FS-1400-2025-000000080").json()["steps"]
    assert [s["holder"] for s in steps][0] == dev.username and steps[-1]["holder"] == firm.username
    assert steps[-2]["listing_id"] == listing["id"] and steps[-1]["listing_id"] is None
    assert steps[-1]["created_by"]["details"]["purchase_id"] == bought["purchase_id"]
    published = [e for e in world.outbox(CreditsPurchased.TYPE)
                 if e["purchase_id"] == bought["purchase_id"]]
    assert len(published) == 1 and published[0]["serial_ranges"] == bought["serials"]

    report_id = f"report-{uuid.uuid4().hex[:8]}"
    world.deliver(ReportFiled(report_id=report_id, enterprise_id=f"ent-{report_id}",
                              enterprise_name="阆中丝绸厂", period="2025", revision=1,
                              total_tco2e=Decimal("20"), member_user_ids=[firm.id]))
    retired = world.http.post("/api/v1/retirements", headers=firm.headers, json={
        "quantity": 20, "beneficiary": "阆中丝绸厂", "purpose": "2025 年度碳中和",
        "report_id": report_id})
    assert retired.status_code == 201, retired.text
    mine = _mine(world, firm, "/api/v1/retirements", mine="true")
    assert [(r["certificate_id"], r["report_id"]) for r in mine["items"]] == \
        [(retired.json()["certificate_id"], report_id)]
    assert _mine(world, firm, "/api/v1/purchases")["items"][0]["purchase_id"] == \
        bought["purchase_id"]


def test_who_may_buy_and_what_a_listing_refuses(world):
    dev, firm, citizen = world.user(), world.user("enterprise"), world.user("citizen")
    world.issue(dev, 10, project_number=1401)
    listing = _sell(world, dev, 10)
    assert _buy(world, citizen, listing["id"], 1).status_code == 403
    too_many = _buy(world, firm, listing["id"], 11)
    assert too_many.status_code == 409
    assert (too_many.json()["code"], too_many.json()["field"]) == ("listing-exhausted", "quantity")
    missing = _buy(world, firm, "no-such-listing", 1)
    assert (missing.status_code, missing.json()["code"]) == (404, "listing-not-found")
    for bad in (0, -1, 1.5, "NaN"):
        assert world.http.post(f"/api/v1/listings/{listing['id']}/purchases", headers=firm.headers,
                               json={"quantity": bad}).status_code == 422
    organizer_dev = world.user("organizer")  # an organizer that sells cannot buy its own
    world.issue(organizer_dev, 5, project_number=1402)
    own = _sell(world, organizer_dev, 5)
    refused = _buy(world, organizer_dev, own["id"], 1)
    assert (refused.status_code, refused.json()["code"]) == (422, "own-listing")
    sold = _buy(world, firm, listing["id"], 10)
    assert sold.status_code == 201
    after = _buy(world, firm, listing["id"], 1)
    assert (after.status_code, after.json()["code"]) == (409, "listing-not-open")
    assert _mine(world, dev, "/api/v1/listings", mine="true", status="sold_out")["total"] == 1


def test_cancelling_releases_the_reserved_credits_once_and_a_cancelled_listing_is_not_for_sale(world):
    dev, firm, stranger = world.user(), world.user("enterprise"), world.user()
    world.issue(dev, 30, project_number=1403)
    listing = _sell(world, dev, 20)
    assert _buy(world, firm, listing["id"], 5).status_code == 201
    assert world.holdings(dev)["available"] == 10  # 30 - 20 reserved
    denied = world.http.post(f"/api/v1/listings/{listing['id']}/cancel", headers=stranger.headers)
    assert denied.status_code == 403
    headers = {**dev.headers, "Idempotency-Key": "cancel-1"}
    cancelled = world.http.post(f"/api/v1/listings/{listing['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    holding = world.holdings(dev)
    assert (holding["total"], holding["available"]) == (25, 25)  # the 15 unsold came back
    replay = world.http.post(f"/api/v1/listings/{listing['id']}/cancel", headers=headers)
    assert replay.status_code == 200 and replay.json() == cancelled.json()
    twice = world.http.post(f"/api/v1/listings/{listing['id']}/cancel", headers=dev.headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "listing-not-open")
    assert world.holdings(dev)["available"] == 25
    late = _buy(world, firm, listing["id"], 1)
    assert (late.status_code, late.json()["code"]) == (409, "listing-not-open")
    assert listing["id"] not in [x["id"] for x in world.http.get("/api/v1/listings").json()]
    assert [x["status"] for x in _mine(world, dev, "/api/v1/listings", mine="true",
                                       status="cancelled")["items"]] == ["cancelled"]
    assert world.http.get("/api/v1/registry/audit/verify").json()["ok"] is True


def test_two_buyers_racing_for_the_last_credits_one_wins_the_other_is_409(fresh_world):
    """Round after round, two threads released together each ask 3 of a listing's 5 credits:
    exactly one 201 and one 409 listing-exhausted per round, and 2 left, never fewer."""
    world = fresh_world
    dev = world.user()
    world.issue(dev, 200, project_number=1404)
    buyers = [world.user("enterprise"), world.user("organizer")]
    listings = [_sell(world, dev, 5)["id"] for _ in range(12)]
    for listing_id in listings:
        start, codes = threading.Barrier(2), []

        def buy(buyer, listing_id=listing_id, start=start, codes=codes):  # noqa: ANN001
            start.wait()
            reply = _buy(world, buyer, listing_id, 3)
            codes.append((reply.status_code, reply.json().get("code")))

        threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes, key=str) == [(201, None), (409, "listing-exhausted")], codes
    with Session(world.engine) as session:
        rows = session.exec(select(Listing).where(Listing.id.in_(listings))).all()
        assert {(r.stock.remaining, r.stock.status) for r in rows} == {(2, "open")}
        bought = session.exec(select(ListingPurchase)).all()
        assert len(bought) == 12 and {p.quantity for p in bought} == {3}
    assert sum(world.holdings(b)["total"] for b in buyers) == 36
    assert world.http.get("/api/v1/registry/audit/verify").json()["ok"] is True


def test_the_schema_refuses_a_purchase_record_the_use_case_would_never_write(world):
    dev, firm = world.user(), world.user("enterprise")
    world.issue(dev, 10, project_number=1405)
    listing = _sell(world, dev, 10, "12.50")
    bought = _buy(world, firm, listing["id"], 2).json()
    copy = """INSERT INTO listing_purchase SELECT 'forced-' || gen_random_uuid(), listing_id,
                  {buyer}, buyer_user_id, seller_account_id, seller_user_id, {quantity},
                  price_per_tonne, {total}, entry_id, now()
              FROM listing_purchase WHERE id = :p"""
    refusals = {  # the recorded purchase: 2 x 12.50 = 25.00 by the firm's account
        copy.format(buyer="buyer_account_id", quantity="0", total="0"):
            "ck_listing_purchase_quantity",
        copy.format(buyer="buyer_account_id", quantity="2", total="25.01"):
            "ck_listing_purchase_total",
        copy.format(buyer="seller_account_id", quantity="2", total="25.00"):
            "ck_listing_purchase_parties",
        copy.format(buyer="'no-such-account'", quantity="2", total="25.00"):
            "fk_listing_purchase_buyer",
    }
    for sql, constraint in refusals.items():
        with pytest.raises(IntegrityError) as refused, world.engine.begin() as conn:
            conn.execute(text(sql), {"p": bought["purchase_id"]})
        assert refused.value.orig.diag.constraint_name == constraint, sql
    with world.engine.begin() as conn:  # the same copy, consistent, is accepted: the checks bite
        conn.execute(text(copy.format(buyer="buyer_account_id", quantity="2", total="25.00")),
                     {"p": bought["purchase_id"]})
