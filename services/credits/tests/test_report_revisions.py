"""Retirements against enterprise reports count only against a period's current revision, as
credits learns it from `ReportFiled` events arriving in any order (PostgreSQL)."""
from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tanhui_credits.domain.reports import ReportSuperseded
from tanhui_credits.store.tables import Certificate, FiledReport, Retirement
from tanhui_credits.usecases.accounts import remember_report
from tanhui_credits.usecases.retirements import retire_credits
from tanhui_shared.contracts import ReportFiled
from tanhui_shared.uow import in_unit_of_work


def revision(enterprise_id: str, n: int, members: list[str], total: str = "120") -> ReportFiled:
    """Revision `n` of the enterprise's 2025 report: each revision its own report id, as
    accounts files them."""
    return ReportFiled(report_id=f"rep-{uuid.uuid4().hex[:10]}", enterprise_id=enterprise_id,
                       enterprise_name="Nanchong Cement", period="2025", revision=n,
                       total_tco2e=Decimal(total), member_user_ids=members)


def retire(world, firm, report_id: str, quantity: int = 10):  # noqa: ANN001
    return world.http.post("/api/v1/retirements", headers=firm.headers, json={
        "quantity": quantity, "beneficiary": "Nanchong Cement", "purpose": "2025 neutrality",
        "report_id": report_id})


def current(world, report_id: str) -> bool:
    with Session(world.engine) as session:
        return session.get(FiledReport, report_id).is_current


@pytest.fixture
def firm(world):  # noqa: ANN001
    """An enterprise member holding 100 credits, and a fresh enterprise id."""
    dev, member = world.user(), world.user("enterprise")
    world.issue(dev, 100)
    moved = world.http.post("/api/v1/transfers", headers=dev.headers,
                            json={"to_username": member.username, "quantity": 100})
    assert moved.status_code == 201, moved.text
    member.enterprise_id = f"ent-{uuid.uuid4().hex[:8]}"
    return member


def test_a_retirement_against_a_superseded_revision_is_409_naming_report_id(world, firm):
    first = revision(firm.enterprise_id, 1, [firm.id])
    world.deliver(first)
    assert retire(world, firm, first.report_id).status_code == 201
    second = revision(firm.enterprise_id, 2, [firm.id], total="130")
    world.deliver(second)
    refused = retire(world, firm, first.report_id)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["field"] == "report_id" and problem["current_report_id"] == second.report_id
    assert problem["current_revision"] == 2
    assert world.holdings(firm)["total"] == 90  # nothing written by the refusal
    assert retire(world, firm, second.report_id).status_code == 201
    assert world.holdings(firm)["total"] == 80


def test_an_older_revision_arriving_late_never_becomes_current_again(world, firm):
    first = revision(firm.enterprise_id, 1, [firm.id])
    second = revision(firm.enterprise_id, 2, [firm.id])
    third = revision(firm.enterprise_id, 3, [firm.id])
    for event in (second, third, first, first):  # out of order, and first redelivered
        world.deliver(event)
    world.deliver(second, event_id=str(uuid.uuid4()))  # a late copy under another envelope
    assert [current(world, r.report_id) for r in (first, second, third)] == [False, False, True]
    assert retire(world, firm, first.report_id).status_code == 409
    assert retire(world, firm, second.report_id).status_code == 409
    assert retire(world, firm, third.report_id).status_code == 201


def _hold_open(engine, work, started: threading.Event, release: threading.Event,  # noqa: ANN001
               outcome: dict) -> threading.Thread:
    """Run `work` in a unit of work that stays open (locks held) until `release` is set."""
    def run() -> None:
        def op(uow):  # noqa: ANN001, ANN202
            result = work(uow)
            started.set()
            assert release.wait(30)
            return result
        try:
            outcome["result"] = in_unit_of_work(engine, op)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
            started.set()
    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(30)
    return thread


def _in_thread(work, outcome: dict) -> threading.Thread:  # noqa: ANN001
    def run() -> None:
        try:
            outcome["result"] = work()
        except Exception as exc:  # noqa: BLE001
            outcome["error"] = exc
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_retirement_that_locked_the_revision_first_commits_and_the_revision_waits(world, firm):
    first = revision(firm.enterprise_id, 1, [firm.id])
    world.deliver(first)
    started, release, retired, revised = threading.Event(), threading.Event(), {}, {}
    holder = _hold_open(world.engine, lambda uow: retire_credits(
        uow, firm.id, 10, beneficiary="Nanchong Cement", purpose="race",
        report_id=first.report_id).id, started, release, retired)
    second = revision(firm.enterprise_id, 2, [firm.id])
    waiter = _in_thread(lambda: world.deliver(second), revised)
    time.sleep(1.0)
    assert revised == {} and current(world, first.report_id)  # the revision queues behind it
    release.set()
    holder.join(30), waiter.join(30)
    assert "error" not in retired and revised == {"result": "applied"}
    with Session(world.engine) as session:  # made against revision 1, which is now superseded
        certificate = session.get(Certificate, retired["result"])
        assert session.get(Retirement, certificate.retirement_id).report_id == first.report_id
    assert not current(world, first.report_id) and current(world, second.report_id)


def test_a_retirement_that_waited_for_a_revision_is_refused(world, firm):
    first = revision(firm.enterprise_id, 1, [firm.id])
    world.deliver(first)
    second = revision(firm.enterprise_id, 2, [firm.id])
    started, release, revised, retired = threading.Event(), threading.Event(), {}, {}
    holder = _hold_open(world.engine, lambda uow: remember_report(uow, second).id, started,
                        release, revised)
    waiter = _in_thread(lambda: in_unit_of_work(world.engine, lambda uow: retire_credits(
        uow, firm.id, 10, beneficiary="Nanchong Cement", purpose="race",
        report_id=first.report_id)), retired)
    time.sleep(1.0)
    assert retired == {}  # the retirement waits for the revision's lock
    release.set()
    holder.join(30), waiter.join(30)
    assert "error" not in revised
    assert isinstance(retired.get("error"), ReportSuperseded)
    assert world.holdings(firm)["total"] == 100


def test_the_schema_refuses_two_current_revisions_of_one_period(world):
    enterprise_id = f"ent-{uuid.uuid4().hex[:8]}"
    with Session(world.engine) as session:
        for n in (1, 2):
            session.add(FiledReport(id=f"rep-{uuid.uuid4().hex[:10]}", enterprise_id=enterprise_id,
                                    enterprise_name="x", period="2025", revision=n,
                                    total_tco2e=Decimal(1), member_user_ids="[]", is_current=True))
        with pytest.raises(IntegrityError, match="uq_filed_report_current"):
            session.commit()
