"""An enterprise's claim to a unified social credit code (issue 12, item 3), on PostgreSQL.

The attack: any enterprise account could register any valid USCC first and so lock the real
company out. Now a claim is pending until the regulator decides it, a second claimant queues,
and nothing about a pending or rejected enterprise is public (disclosures, city figures, and
the `ReportFiled` events that let credits retire against its reports and certify them).
"""
from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from accounts_support import PROBLEM, every_disclosure, scalar
from tanhui_accounts.domain.claims import RIVAL_CONFIRMED
from tanhui_shared.db import make_engine
from tanhui_shared.testing.live_server import live_server, race
from test_accounts_constraints import refused_by
from test_accounts_schema import alembic
from test_enterprises_api import MIXED, announced, confirm, enterprise, fresh_uscc, regulator

CLAIMS = "/api/v1/enterprise-claims"


def claim(accounts, headers, uscc: str, name: str, county: str = "顺庆区",
          industry: str = "cement"):
    return accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": name, "uscc": uscc, "county": county, "industry": industry})


def decide(accounts, enterprise_id: str, decision: str, reason: str | None = None,
           headers: dict | None = None):
    return accounts.http.post(f"{CLAIMS}/{enterprise_id}/decision",
                              headers=headers or regulator(accounts),
                              json={"decision": decision, "reason": reason})


def queue(accounts, status: str = "pending") -> list[dict]:
    reply = accounts.http.get(CLAIMS, headers=regulator(accounts),
                              params={"status": status, "limit": 500})
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]


def file(accounts, headers, firm: dict, period: str) -> dict:
    reply = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                               json={"period": period, "activities": MIXED})
    assert reply.status_code == 201, reply.text
    return reply.json()


def disclosed(accounts, period: str) -> set[str]:
    return {d["report_id"] for d in every_disclosure(accounts.http, period=period)}


def counties(accounts, year: str) -> dict[str, int]:
    stats = accounts.http.get("/api/v1/stats/city", headers=regulator(accounts),
                              params={"period": year})
    assert stats.status_code == 200, stats.text
    return {g["key"]: g["reports"] for g in stats.json()["by_county"]}


def view(accounts, headers, firm: dict) -> dict:
    reply = accounts.http.get(f"/api/v1/enterprises/{firm['id']}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_squatter_of_a_valid_uscc_no_longer_locks_the_real_company_out(accounts):
    _, squatter = accounts.user("enterprise")
    _, company = accounts.user("enterprise")
    code = fresh_uscc()
    first = claim(accounts, squatter, code, "冒名企业")
    assert first.status_code == 201 and first.json()["claim_status"] == "pending", first.text
    # before issue 12 this was a 409: the code was the squatter's
    real = claim(accounts, company, code, "南充真实化工")
    assert real.status_code == 201 and real.json()["claim_status"] == "pending", real.text
    waiting = {c["enterprise_id"]: c for c in queue(accounts) if c["uscc"] == code}
    assert set(waiting) == {first.json()["id"], real.json()["id"]}
    assert all(c["other_claims"] == 1 for c in waiting.values())
    assert waiting[real.json()["id"]]["claimant_username"]

    done = decide(accounts, real.json()["id"], "confirm", "business licence checked")
    assert done.status_code == 200, done.text
    assert done.json()["rejected_claims"] == [first.json()["id"]]
    mine = view(accounts, company, real.json())
    assert (mine["claim_status"], mine["decision_reason"]) == ("confirmed",
                                                               "business licence checked")
    theirs = view(accounts, squatter, first.json())
    assert (theirs["claim_status"], theirs["decision_reason"]) == ("rejected", RIVAL_CONFIRMED)
    assert theirs["decided_at"]
    assert not [c for c in queue(accounts) if c["uscc"] == code]
    assert accounts.http.get(f"/api/v1/enterprises/{real.json()['id']}",
                             headers=squatter).status_code == 404
    # rejected, the squatter may claim the code again, but only to queue: confirming that claim
    # cannot displace the confirmed company
    again = claim(accounts, squatter, code, "冒名企业 2")
    assert again.status_code == 201, again.text
    refused = decide(accounts, again.json()["id"], "confirm")
    assert refused.status_code == 409 and refused.json()["field"] == "uscc", refused.text
    assert refused.json()["confirmed_enterprise_id"] == real.json()["id"]


def test_a_pending_enterprise_files_drafts_that_nobody_else_sees_until_it_is_confirmed(accounts):
    _, headers = accounts.user("enterprise")
    county = f"县-{uuid.uuid4().hex[:6]}"
    firm = enterprise(accounts, headers, county=county)
    first = file(accounts, headers, firm, "2023")
    revised = accounts.http.post(f"/api/v1/reports/{first['id']}/revisions", headers=headers,
                                 json={"activities": MIXED[:2]})
    assert revised.status_code == 201, revised.text
    latest = revised.json()
    assert view(accounts, headers, firm)["claim_status"] == "pending"
    assert latest["id"] not in disclosed(accounts, "2023")
    assert county not in counties(accounts, "2023")
    assert announced(accounts, first["id"]) == announced(accounts, latest["id"]) == 0

    assert confirm(accounts, firm)["reports_announced"] == 1
    assert latest["id"] in disclosed(accounts, "2023") and first["id"] not in disclosed(
        accounts, "2023")
    assert counties(accounts, "2023")[county] == 1
    # credits learns the latest revision only (retirements are made against the current one)
    assert (announced(accounts, first["id"]), announced(accounts, latest["id"])) == (0, 1)
    later = file(accounts, headers, firm, "2024")
    assert announced(accounts, later["id"]) == 1  # confirmed: filings are announced at once


def test_a_rejected_enterprise_keeps_its_drafts_private(accounts):
    _, headers = accounts.user("enterprise")
    county = f"县-{uuid.uuid4().hex[:6]}"
    firm = enterprise(accounts, headers, county=county)
    rejected = decide(accounts, firm["id"], "reject", "the business licence names another firm")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["rejected_claims"] == [] and rejected.json()["reports_announced"] == 0
    report = file(accounts, headers, firm, "2025")
    assert view(accounts, headers, firm)["decision_reason"] == \
        "the business licence names another firm"
    assert report["id"] not in disclosed(accounts, "2025")
    assert county not in counties(accounts, "2025")
    assert announced(accounts, report["id"]) == 0
    assert not [c for c in queue(accounts) if c["enterprise_id"] == firm["id"]]
    assert [c["enterprise_id"] for c in queue(accounts, "rejected")].count(firm["id"]) == 1


def test_decisions_are_the_regulators_once_with_a_reason_to_reject(accounts):
    owner, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    no_reason = decide(accounts, firm["id"], "reject", "   ")
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    assert no_reason.headers["content-type"] == PROBLEM
    assert decide(accounts, firm["id"], "approve").status_code == 422
    assert decide(accounts, firm["id"], "confirm", headers=headers).status_code == 403
    assert decide(accounts, str(uuid.uuid4()), "confirm").status_code == 404
    assert accounts.http.get(CLAIMS, headers=headers).status_code == 403
    assert accounts.http.get(CLAIMS, headers=regulator(accounts),
                             params={"status": "maybe"}).status_code == 422
    assert decide(accounts, firm["id"], "confirm").status_code == 200
    for decision in ("confirm", "reject"):
        again = decide(accounts, firm["id"], decision, "changed my mind")
        assert again.status_code == 409 and again.json()["field"] == "decision", again.text
        assert again.json()["claim_status"] == "confirmed"
    mine = view(accounts, headers, firm)
    assert (mine["claim_status"], mine["decision_reason"]) == ("confirmed",
                                                               "confirmed by the regulator")
    with_key = {**regulator(accounts), "Idempotency-Key": f"decide-{uuid.uuid4().hex}"}
    other = enterprise(accounts, headers)
    replies = [decide(accounts, other["id"], "confirm", headers=with_key) for _ in range(2)]
    assert [r.status_code for r in replies] == [200, 200] and replies[0].json() == replies[1].json()


def test_the_queue_is_oldest_first_with_each_codes_other_claims(accounts):
    code = fresh_uscc()
    firms = [enterprise(accounts, accounts.user("enterprise")[1]) for _ in range(2)]
    rivals = [claim(accounts, accounts.user("enterprise")[1], code, f"争议企业 {n}").json()
              for n in range(3)]
    items = queue(accounts)
    order = [c["enterprise_id"] for c in items]
    mine = [order.index(f["id"]) for f in [*firms, *rivals]]
    assert mine == sorted(mine)  # created in this order: listed in this order
    assert [c["created_at"] for c in items] == sorted(c["created_at"] for c in items)
    assert {c["other_claims"] for c in items if c["uscc"] == code} == {2}
    page = accounts.http.get(CLAIMS, headers=regulator(accounts), params={"limit": 1}).json()
    assert len(page["items"]) == 1


@pytest.fixture(scope="module")
def server(accounts):
    with live_server(accounts.app) as base_url:
        yield base_url


def test_two_regulators_confirming_claims_of_one_code_at_once_confirm_exactly_one(accounts,
                                                                                  server):
    code = fresh_uscc()
    claimants = [accounts.user("enterprise")[1] for _ in range(10)]
    firms = [claim(accounts, h, code, f"同码企业 {n}").json() for n, h in enumerate(claimants)]
    reports = [file(accounts, h, f, "2026")["id"] for h, f in zip(claimants, firms, strict=True)]
    regulators = [regulator(accounts), accounts.user("regulator")[1]]
    # each regulator confirms every claim: 20 requests, released together
    sends = [(lambda client, f=f, h=h: client.post(f"{CLAIMS}/{f['id']}/decision", headers=h,
                                                    json={"decision": "confirm"}))
             for f in firms for h in regulators]
    replies = race(sends, server)
    assert Counter(r.status_code for r in replies) == {200: 1, 409: 19}, [r.text for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            assert reply.headers["content-type"] == PROBLEM
            assert reply.json()["field"] in ("decision", "uscc"), reply.text
    winner = next(r.json() for r in replies if r.status_code == 200)
    assert len(winner["rejected_claims"]) == 9
    with accounts.engine.connect() as conn:
        statuses = dict(conn.execute(sa.text(
            "SELECT claim_status, count(*) FROM enterprise WHERE uscc = :c GROUP BY 1"),
            {"c": code}).all())
    assert statuses == {"confirmed": 1, "rejected": 9}
    won = [r for f, r in zip(firms, reports, strict=True) if f["id"] == winner["enterprise_id"]]
    assert [announced(accounts, r) for r in reports] == [int(r in won) for r in reports]


def test_a_filing_overtaken_by_the_confirmation_is_still_announced(accounts, server):
    """The interleaving that would lose a report: the filing reads its enterprise as pending,
    the confirmation then reads the enterprise's reports (the filing's is not written yet) and
    commits, and the filing commits without an event. Forced here by holding back every insert
    into carbon_report; the filing's share lock on its enterprise makes the confirmation wait
    for the filing instead, and then announce its report."""
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    path = f"/api/v1/enterprises/{firm['id']}/reports"
    with accounts.engine.connect() as held, ThreadPoolExecutor(2) as pool:
        held.execute(sa.text("LOCK TABLE carbon_report IN SHARE MODE"))  # inserts wait, reads pass
        with httpx.Client(base_url=server, timeout=60) as client:
            filing = pool.submit(client.post, path, headers=headers,
                                 json={"period": "2022", "activities": MIXED[:1]})
            wait_for_insert_blocked(accounts.engine)
            confirming = pool.submit(client.post, f"{CLAIMS}/{firm['id']}/decision",
                                     headers=regulator(accounts), json={"decision": "confirm"})
            try:
                confirming.result(timeout=3)  # without the share lock it finishes meanwhile
            except FutureTimeout:
                pass  # with it, it waits for the filing
            held.rollback()  # let the inserts through
            filed, confirmed = filing.result(), confirming.result()
    assert (filed.status_code, confirmed.status_code) == (201, 200), (filed.text, confirmed.text)
    assert announced(accounts, filed.json()["id"]) == 1


def wait_for_insert_blocked(engine) -> None:
    """Until a session waits on a lock to insert into carbon_report."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        waiting = scalar(engine, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                         "'Lock' AND query ILIKE 'INSERT INTO carbon_report%'")
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the filing never reached its insert")


def test_the_schema_refuses_a_second_confirmed_enterprise_and_undocumented_decisions(accounts):
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    confirm(accounts, firm)
    engine = accounts.engine
    twin = ("INSERT INTO enterprise (id, name, uscc, county, industry, created_by, created_at, "
            "claim_status, decided_at, decided_by, decision_reason) SELECT :id, name, uscc, "
            "county, industry, :by, created_at, :status, decided_at, decided_by, "
            "decision_reason FROM enterprise WHERE id = :e")
    # past every lock and check of the application: a second confirmed enterprise of the code
    assert refused_by(engine, twin, id=str(uuid.uuid4()), by=str(uuid.uuid4()),
                      status="confirmed", e=firm["id"]) == "uq_enterprise_confirmed_uscc"
    assert refused_by(engine, twin, id=str(uuid.uuid4()), by=str(uuid.uuid4()), status="maybe",
                      e=firm["id"]) == "ck_enterprise_claim_status"
    # a pending claim with a decision's record, a decision without one
    assert refused_by(engine, twin, id=str(uuid.uuid4()), by=str(uuid.uuid4()),
                      status="pending", e=firm["id"]) == "ck_enterprise_claim_decision"
    assert refused_by(engine, "UPDATE enterprise SET decision_reason = NULL WHERE id = :e",
                      e=firm["id"]) == "ck_enterprise_claim_decision"
    # the same registrant's second open claim of the code
    pending = ("INSERT INTO enterprise (id, name, uscc, county, industry, created_by, created_at, "
               "claim_status) SELECT :id, name, uscc, county, industry, created_by, created_at, "
               "'pending' FROM enterprise WHERE id = :e")
    assert refused_by(engine, pending, id=str(uuid.uuid4()), e=firm["id"]) == \
        "uq_enterprise_open_claim"


def test_0005_turns_every_registered_enterprise_into_a_pending_claim(new_database):
    url = new_database("accounts_0004")
    alembic(url, command.upgrade, "0004")
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO enterprise VALUES ('e1', '先来企业', '91350100M000100Y43', 'x', 'y', "
                "'u1', now())"))
        alembic(url, command.upgrade, "head")
        assert scalar(engine, "SELECT array[claim_status, coalesce(decided_by, '-')] "
                      "FROM enterprise WHERE id = 'e1'") == ["pending", "-"]
        with engine.begin() as conn:  # a second claimant of the code is now possible
            conn.execute(sa.text(
                "INSERT INTO enterprise (id, name, uscc, county, industry, created_by, "
                "created_at, claim_status) VALUES ('e2', '真实企业', '91350100M000100Y43', 'x', "
                "'y', 'u2', now(), 'pending')"))
            conn.execute(sa.text("DELETE FROM enterprise WHERE id = 'e2'"))
        alembic(url, command.downgrade, "0004")
        assert scalar(engine, "SELECT count(*) FROM enterprise") == 1
        alembic(url, command.upgrade, "head")
    finally:
        engine.dispose()
