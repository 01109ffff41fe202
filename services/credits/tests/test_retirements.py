"""Retirements, certificates (JSON, PDF with QR), reports and citizens' redemptions (PostgreSQL)."""
from __future__ import annotations

import io
import json
import uuid
from decimal import Decimal

import pypdfium2
import zxingcpp
from PIL import Image
from sqlmodel import Session, func, select

from tanhui_credits.domain.hashing import UNHASHED_KEYS, certificate_hash
from tanhui_credits.store.tables import Block, Certificate, Redemption, Retirement
from tanhui_shared.contracts import (CreditsRetired, RedemptionCompleted, RedemptionRejected,
                                     RedemptionRequested, ReportFiled)


def _report(world, members: list[str], enterprise_id: str | None = None) -> str:  # noqa: ANN001
    """Revision 1 of a 2025 report: of an enterprise of its own unless named (a second
    revision 1 of one period is never current, so it could not be retired against)."""
    report_id = f"report-{uuid.uuid4().hex[:8]}"
    enterprise_id = enterprise_id or f"ent-{report_id}"
    world.deliver(ReportFiled(report_id=report_id, enterprise_id=enterprise_id,
                              enterprise_name="Tianfu Steel", period="2025", revision=1,
                              total_tco2e=Decimal("120.5"), member_user_ids=members))
    return report_id


def test_enterprise_retires_against_its_report_and_gets_a_certificate(world):
    dev, firm = world.user(), world.user("enterprise")
    world.issue(dev, 500, project_number=300)
    world.http.post("/api/v1/transfers", headers=dev.headers,
                    json={"to_username": firm.username, "quantity": 200})
    report_id = _report(world, [firm.id])
    reply = world.http.post("/api/v1/retirements", headers=firm.headers, json={
        "quantity": 150, "beneficiary": "Tianfu Steel", "purpose": "2025 neutrality",
        "report_id": report_id})
    assert reply.status_code == 201, reply.text
    cert = reply.json()
    assert cert["serials"] == ["NC-FS-0300-2025-000000351-000000500"]  # the upper part goes
    assert world.holdings(firm)["blocks"][0]["serial"] == "NC-FS-0300-2025-000000301-000000350"
    public = world.http.get(f"/api/v1/certificates/{cert['certificate_id']}").json()  # no login
    assert public == cert
    assert public["verification_url"] == \
        f"http://127.0.0.1:8000/console/#/verify/{cert['certificate_id']}"  # issue 14
    assert public["json_url"] == f"http://127.0.0.1:8000/api/v1/certificates/{cert['certificate_id']}"
    fields = {k: v for k, v in public.items() if k not in UNHASHED_KEYS}
    assert certificate_hash(fields) == public["content_hash"]
    assert certificate_hash({**fields, "quantity": 151}) != public["content_hash"]
    published = [e for e in world.outbox(CreditsRetired.TYPE)
                 if e["certificate_id"] == cert["certificate_id"]]
    assert published == [{**published[0], "retired_by_user_id": firm.id, "quantity": 150,
                          "beneficiary": "Tianfu Steel", "report_id": report_id,
                          "serial_ranges": cert["serials"], "event_id": None,
                          "redemption_id": None}]
    row = [r for r in world.http.get("/api/v1/registry/projects").json()
           if r["project_number"] == 300][0]
    assert (row["issued"], row["held"], row["retired"]) == (500, 350, 150)
    lineage = world.http.get("/api/v1/registry/serials/NC-FS-0300-2025-000000400").json()
    assert lineage["steps"][-1]["status"] == "retired"
    assert lineage["retirement"]["certificate_id"] == cert["certificate_id"]


def test_reports_the_caller_may_not_use_are_404(world):
    dev, firm = world.user(), world.user("enterprise")
    world.issue(dev, 10)
    foreign = _report(world, ["someone-else"])
    for report_id in (foreign, "never-filed"):
        reply = world.http.post("/api/v1/retirements", headers=dev.headers, json={
            "quantity": 1, "beneficiary": "x", "purpose": "y", "report_id": report_id})
        assert reply.status_code == 404 and reply.json()["field"] == "report_id"
    short = world.http.post("/api/v1/retirements", headers=firm.headers,
                            json={"quantity": 1, "beneficiary": "x", "purpose": "y"})
    assert short.status_code == 409 and short.json()["field"] == "quantity"
    assert world.holdings(dev)["total"] == 10


def test_certificate_pdf_carries_a_qr_code_of_the_verification_url(world):
    dev = world.user()
    world.issue(dev, 40, project_number=301)
    cert = world.http.post("/api/v1/retirements", headers=dev.headers, json={
        "quantity": 40, "beneficiary": "Longquan villagers", "purpose": "community pledge"}).json()
    reply = world.http.get(f"/api/v1/certificates/{cert['certificate_id']}/pdf")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
    page = pypdfium2.PdfDocument(io.BytesIO(reply.content))[0]
    text = page.get_textpage().get_text_range()
    assert cert["content_hash"] in text and "Longquan villagers" in text
    image: Image.Image = page.render(scale=3).to_pil()
    decoded = [barcode.text for barcode in zxingcpp.read_barcodes(image)]
    assert decoded == [cert["verification_url"]]


def _pool_balance(world) -> int:  # noqa: ANN001
    with Session(world.engine) as session:
        return session.exec(select(func.coalesce(func.sum(Block.last - Block.first + 1), 0))
                            .where(Block.account_id == "system-city-inclusion-pool",
                                   Block.status == "active")).one()


def test_redemption_delivered_twice_retires_once(fresh_world):
    world = fresh_world
    dev, citizen = world.user(), world.user("citizen")
    world.issue(dev, 30)
    filled = world.http.post("/api/v1/transfers", headers=dev.headers,
                             json={"to_username": "city-inclusion-pool", "quantity": 10})
    assert filled.status_code == 201, filled.text
    request = RedemptionRequested(redemption_id="red-1", user_id=citizen.id,
                                  username=citizen.username, points=4000, quantity=4)
    assert world.deliver(request, event_id="env-1") == "applied"
    assert world.deliver(request, event_id="env-1") == "duplicate"
    assert world.deliver(request, event_id="env-2") == "applied"  # business key: no effect
    assert _pool_balance(world) == 6
    completed = world.outbox(RedemptionCompleted.TYPE)
    retired = world.outbox(CreditsRetired.TYPE)
    assert [c["redemption_id"] for c in completed] == ["red-1"]
    assert retired == [{**retired[0], "beneficiary": citizen.username, "quantity": 4,
                        "purpose": "carbon inclusion redemption", "redemption_id": "red-1",
                        "retired_by_user_id": None, "certificate_id": completed[0]["certificate_id"]}]

    too_big = RedemptionRequested(redemption_id="red-2", user_id=citizen.id,
                                  username=citizen.username, points=9000, quantity=7)
    world.deliver(too_big)
    world.deliver(too_big)
    rejected = world.outbox(RedemptionRejected.TYPE)
    assert [(r["redemption_id"], "6" in r["reason"]) for r in rejected] == [("red-2", True)]
    assert _pool_balance(world) == 6
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Retirement)).one() == 1
        assert session.exec(select(func.count()).select_from(Certificate)).one() == 1
        statuses = {r.id: r.status for r in session.exec(select(Redemption)).all()}
    assert statuses == {"red-1": "completed", "red-2": "rejected"}
    assert world.http.get("/api/v1/registry/audit/verify").json()["intact"] is True


def test_report_revisions_replace_members(world):
    firm_a, firm_b = world.user("enterprise"), world.user("enterprise")
    report_id = _report(world, [firm_a.id], enterprise_id="ent-members")
    world.deliver(ReportFiled(report_id=report_id, enterprise_id="ent-members",
                              enterprise_name="Tianfu Steel", period="2025", revision=2,
                              total_tco2e=Decimal("130"), member_user_ids=[firm_b.id]))
    from tanhui_credits.store.tables import FiledReport
    with Session(world.engine) as session:
        assert json.loads(session.get(FiledReport, report_id).member_user_ids) == [firm_b.id]
