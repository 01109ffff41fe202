"""Issuance from MonitoringVerified, holdings, transfers and the public registry (PostgreSQL)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from tanhui_credits.store.audit import SEQUENCER_LOCK, chain_pending
from tanhui_shared.contracts import CreditsIssued


def test_issuance_splits_owner_and_buffer_and_continues_serials(world):
    dev = world.user()
    first = world.issue(dev, "3333.7", buffer_pct=10, project_number=4, vintage=2025)
    # floor(3333.7 x 0.9) = 3000 to the owner, floor(3333.7) - 3000 = 333 to the buffer
    assert world.holdings(dev)["total"] == 3000
    assert [b["serial"] for b in world.holdings(dev)["blocks"]] == \
        ["NC-FS-0004-2025-000000001-000003000"]
    issued = [e for e in world.outbox(CreditsIssued.TYPE) if e["issuance_id"] == first.issuance_id]
    assert issued == [{**issued[0], "quantity": 3000, "buffer_quantity": 333,
                       "serial_first": "NC-FS-0004-2025-000000001",
                       "serial_last": "NC-FS-0004-2025-000003333"}]
    world.issue(dev, 100, buffer_pct=0, project_number=4, vintage=2025)
    assert world.holdings(dev)["blocks"][-1]["serial"] == "NC-FS-0004-2025-000003334-000003433"
    buffer = world.http.get("/api/v1/registry/blocks",
                            params={"serial": "NC-FS-0004-2025-000003001"}).json()["items"]
    assert buffer == [{**buffer[0], "holder": "registry-buffer-pool", "quantity": 333,
                       "serials": "NC-FS-0004-2025-000003001-000003333", "status": "active"}]
    totals = [r for r in world.http.get("/api/v1/registry/projects").json()
              if r["project_number"] == 4]
    assert totals == [{**totals[0], "vintage": 2025, "issued": 3433, "held": 3100, "retired": 0,
                       "buffer": 333}]


def test_monitoring_verified_delivered_twice_issues_once(world):
    dev = world.user()
    event = world.verified(dev, 500, buffer_pct=20)
    assert world.deliver(event, event_id="same-envelope") == "applied"
    assert world.deliver(event, event_id="same-envelope") == "duplicate"  # the inbox
    assert world.deliver(event) == "applied"  # re-published under a new envelope id: business key
    assert world.holdings(dev)["total"] == 400
    issued = [e for e in world.outbox(CreditsIssued.TYPE) if e["issuance_id"] == event.issuance_id]
    assert len(issued) == 1


def test_owner_account_opened_from_the_event_when_registration_is_late(world, signing_key):
    late = type("Late", (), {"id": "late-dev", "username": "late-dev"})()
    world.issue(late, 10)
    late.headers = signing_key.headers("late-dev", "project_developer", "late-dev")
    assert world.holdings(late)["total"] == 10


def test_partial_transfer_keeps_the_lower_range(world):
    dev, buyer = world.user(), world.user("enterprise")
    world.issue(dev, 3000, project_number=40)
    reply = world.http.post("/api/v1/transfers", headers=dev.headers,
                            json={"to_username": buyer.username, "quantity": 1000})
    assert reply.status_code == 201, reply.text
    assert reply.json()["serials"] == ["NC-FS-0040-2025-000002001-000003000"]
    assert [b["serial"] for b in world.holdings(dev)["blocks"]] == \
        ["NC-FS-0040-2025-000000001-000002000"]
    assert [b["serial"] for b in world.holdings(buyer)["blocks"]] == \
        ["NC-FS-0040-2025-000002001-000003000"]
    lineage = world.http.get("/api/v1/registry/serials/NC-FS-0040-2025-000002500").json()
    kinds = [(s["created_by"]["kind"], s["status"], s["holder"]) for s in lineage["steps"]]
    assert kinds == [("issue", "superseded", dev.username), ("split", "superseded", dev.username),
                     ("transfer", "active", buyer.username)]
    assert lineage["issuance"]["monitoring_report_id"].startswith("mr-")


def test_a_lineage_shows_a_movement_waiting_for_the_sequencer_without_a_seq(world):
    dev, buyer = world.user(), world.user("enterprise")
    world.issue(dev, 30, project_number=41)
    # another sequencer at work: the transfer's entries stay pending until it is done
    with world.engine.connect() as busy:
        busy.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})
        reply = world.http.post("/api/v1/transfers", headers=dev.headers,
                                json={"to_username": buyer.username, "quantity": 10})
        assert reply.status_code == 201, reply.text
        pending = world.http.get("/api/v1/registry/serials/NC-FS-0041-2025-000000025").json()
        busy.rollback()
    chain_pending(world.engine)
    chained = world.http.get("/api/v1/registry/serials/NC-FS-0041-2025-000000025").json()

    def entries(lineage: dict) -> list:
        return [(s["created_by"]["kind"], s["created_by"]["seq"],
                 s["closed_by"] and (s["closed_by"]["kind"], s["closed_by"]["seq"]))
                for s in lineage["steps"]]

    issued = entries(pending)[0][1]
    assert isinstance(issued, int)  # chained before the sequencer was busy
    assert entries(pending) == [("issue", issued, ("split", None)),
                                ("split", None, ("transfer", None)), ("transfer", None, None)]
    # once chained: the same entries, with the seqs that follow the issue's
    split, moved = entries(chained)[1][1], entries(chained)[2][1]
    assert issued < split < moved
    assert entries(chained) == [("issue", issued, ("split", split)),
                                ("split", split, ("transfer", moved)), ("transfer", moved, None)]


def test_transfer_refusals_name_the_field(world):
    dev, other = world.user(), world.user()
    world.issue(dev, 5)
    too_many = world.http.post("/api/v1/transfers", headers=dev.headers,
                               json={"to_username": other.username, "quantity": 6})
    assert too_many.status_code == 409
    assert too_many.headers["content-type"] == "application/problem+json"
    assert too_many.json()["field"] == "quantity" and "6" in too_many.json()["detail"]
    nobody = world.http.post("/api/v1/transfers", headers=dev.headers,
                             json={"to_username": "nobody-here", "quantity": 1})
    assert nobody.status_code == 404 and nobody.json()["field"] == "to_username"
    itself = world.http.post("/api/v1/transfers", headers=dev.headers,
                             json={"to_username": dev.username, "quantity": 1})
    assert itself.status_code == 422 and itself.json()["field"] == "to_username"
    for bad in (0, -1, 1.5, "2", None):
        reply = world.http.post("/api/v1/transfers", headers=dev.headers,
                                json={"to_username": other.username, "quantity": bad})
        assert reply.status_code == 422, bad
    assert world.holdings(dev)["total"] == 5


def test_transfer_with_idempotency_key_moves_once(world):
    dev, other = world.user(), world.user()
    world.issue(dev, 10)
    headers = {**dev.headers, "Idempotency-Key": "move-3"}
    body = {"to_username": other.username, "quantity": 3}
    first = world.http.post("/api/v1/transfers", headers=headers, json=body)
    again = world.http.post("/api/v1/transfers", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    assert world.holdings(other)["total"] == 3


def test_fifty_concurrent_transfers_never_overdraw(world):
    dev = world.user()
    receivers = [world.user("enterprise") for _ in range(5)]
    world.issue(dev, 20, project_number=77)

    def move(i: int) -> int:
        return world.http.post("/api/v1/transfers", headers=dev.headers, json={
            "to_username": receivers[i % 5].username, "quantity": 1}).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        codes = list(pool.map(move, range(50)))
    assert codes.count(201) == 20 and codes.count(409) == 30
    assert world.holdings(dev)["total"] == 0
    assert sum(world.holdings(r)["total"] for r in receivers) == 20
    row = [r for r in world.http.get("/api/v1/registry/projects").json()
           if r["project_number"] == 77][0]
    assert row["issued"] == row["held"] == 20
    with world.engine.connect() as conn:  # no serial in two live blocks
        clashes = conn.execute(text(
            "SELECT count(*) FROM serial_block a JOIN serial_block b ON a.id < b.id "
            "AND a.project_number = b.project_number AND a.vintage = b.vintage "
            "AND a.first <= b.last AND b.first <= a.last "
            "WHERE a.status <> 'superseded' AND b.status <> 'superseded'")).scalar()
    assert clashes == 0


def test_audit_chain_verifies_and_detects_tampering(fresh_world):
    dev, other = fresh_world.user(), fresh_world.user()
    fresh_world.issue(dev, 3000)
    fresh_world.http.post("/api/v1/transfers", headers=dev.headers,
                          json={"to_username": other.username, "quantity": 1000})
    report = fresh_world.http.get("/api/v1/registry/audit/verify").json()
    assert report == {"intact": True, "entries": 3, "pending": 0,  # issue, split, transfer
                      "first_broken": None,
                      "balanced": True, "discrepancies": [], "ok": True}
    with fresh_world.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET body = replace(body, '1000', '1001') "
                          "WHERE seq = 2"))
    report = fresh_world.http.get("/api/v1/registry/audit/verify").json()
    assert report["intact"] is False and report["first_broken"]["seq"] == 2
    assert report["balanced"] is True and report["ok"] is False
