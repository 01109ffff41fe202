"""Disclosures: gross emissions, credits retired and net side by side; retirements follow a
report's corrections (PostgreSQL, through the API).

Worked example, by hand from the cited sources (docs/architecture.md §8: China enterprise GHG accounting
guidelines, industry defaults for diesel: 42.652 GJ/t x 20.2 tC/TJ x 0.98 oxidation x 44/12):
  100 t diesel: 100 x 42.652 x 20.2 x 0.98 x 44/12 / 1000 = 309.5910 tCO2 (gross)
  120 t diesel: 120 x 42.652 x 20.2 x 0.98 x 44/12 / 1000 = 371.5092 tCO2 (gross, revised)
GHG Protocol Corporate Standard (revised edition, 2004), ch. 9: the inventory's total is reported
independent of offsets, which are reported separately; net is only their difference.
"""
from __future__ import annotations

import random
import uuid
from decimal import Decimal

import pytest

from accounts_support import every_disclosure
from tanhui_accounts.domain.disclosure import disclose
from tanhui_accounts.domain.uscc import ALPHABET, check_character
from tanhui_accounts.events.handlers import on_credits_retired
from tanhui_shared.contracts import CreditsRetired
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work

# the diesel factor's published components, multiplied out by hand (t CO2 per t of diesel)
DIESEL_T_PER_T = Decimal("42.652") * Decimal("20.2") * Decimal("0.98") * 44 / 12 / 1000


def diesel(tonnes: int) -> list[dict]:
    return [{"factor_code": "fuel.diesel", "quantity": str(tonnes), "unit": "t"}]


def test_worked_example_gross_is_never_reduced_and_net_is_the_difference():
    gross = (100 * DIESEL_T_PER_T).quantize(Decimal("0.0001"))
    assert gross == Decimal("309.5910")
    figures = disclose(gross, [100, 20])
    assert (figures.gross_tco2e, figures.retired_tco2e, figures.net_tco2e) == \
        (Decimal("309.5910"), 120, Decimal("189.5910"))  # 309.5910 - (100 + 20)
    # more retired than emitted: net below zero, shown as it is so the three still add up
    assert disclose(Decimal("309.5910"), [400]).net_tco2e == Decimal("-90.4090")


def _uscc() -> str:
    body = "913213" + "".join(random.choice("0123456789") for _ in range(3)) + \
        "".join(random.choice(ALPHABET) for _ in range(8))
    return body + check_character(body)


@pytest.fixture
def firm(accounts):
    """A confirmed enterprise (so disclosed) and its member's headers."""
    _, headers = accounts.user("enterprise")
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": f"南充水泥 {uuid.uuid4().hex[:6]}", "uscc": _uscc(), "county": "西充县",
        "industry": "cement"})
    assert reply.status_code == 201, reply.text
    enterprise = reply.json()
    _, regulator = accounts.user("regulator")
    assert accounts.http.post(f"/api/v1/enterprise-claims/{enterprise['id']}/decision",
                              headers=regulator,
                              json={"decision": "confirm"}).status_code == 200
    return {**enterprise, "headers": headers, "regulator": regulator}


def retire(accounts, report_id: str, quantity: int, tag: str) -> None:
    """Credits' `CreditsRetired` naming the report, applied as accounts' consumer applies it."""
    event = CreditsRetired(retirement_id=f"ret-{tag}-{report_id}", certificate_id=f"cert-{tag}",
                           retired_by_user_id="u", beneficiary="南充水泥", purpose="neutrality",
                           quantity=quantity, serial_ranges=["NC-FS-0001-2025-000000001-000000001"],
                           report_id=report_id, retired_at="2026-01-01T00:00:00Z")
    in_unit_of_work(accounts.engine, lambda uow: on_credits_retired(uow, None, event))


def disclosed(accounts, firm, period: str) -> dict:
    rows = [d for d in every_disclosure(accounts.http, period=period)
            if d["enterprise"] == firm["name"]]
    assert len(rows) == 1, rows
    return rows[0]


def test_disclosures_show_gross_retired_and_net_side_by_side(accounts, firm):
    report = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports",
                                headers=firm["headers"],
                                json={"period": "2024", "activities": diesel(100)}).json()
    retire(accounts, report["id"], 100, "a")
    retire(accounts, report["id"], 100, "a")  # delivered twice: counted once
    shown = disclosed(accounts, firm, "2024")
    assert (shown["gross_tco2e"], shown["retired_tco2e"], shown["net_tco2e"]) == \
        ("309.5910", 100, "209.5910")  # gross untouched; 309.5910 - 100
    assert "total_tco2e" not in shown
    own = accounts.http.get(f"/api/v1/reports/{report['id']}", headers=firm["headers"]).json()
    assert (own["total_tco2e"], own["retired_tco2e"], own["net_tco2e"]) == \
        ("309.5910", 100, "209.5910")
    # the regulator's city figures count gross emissions: retirements change nothing there
    stats = accounts.http.get("/api/v1/stats/city?period=2024", headers=firm["regulator"]).json()
    county = next(g for g in stats["by_county"] if g["key"] == "西充县")
    before = Decimal(county["total_tco2e"])
    retire(accounts, report["id"], 50, "b")
    stats = accounts.http.get("/api/v1/stats/city?period=2024", headers=firm["regulator"]).json()
    assert Decimal(next(g for g in stats["by_county"] if g["key"] == "西充县")["total_tco2e"]) \
        == before >= Decimal("309.5910")


def test_a_correction_keeps_the_credits_retired_against_the_revision_it_superseded(accounts, firm):
    first = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports",
                               headers=firm["headers"],
                               json={"period": "2024-Q2", "activities": diesel(100)}).json()
    retire(accounts, first["id"], 100, "r1")
    second = accounts.http.post(f"/api/v1/reports/{first['id']}/revisions",
                                headers=firm["headers"], json={"activities": diesel(120)})
    assert second.status_code == 201, second.text
    second = second.json()
    assert (second["retired_tco2e"], second["net_tco2e"]) == (100, "271.5092")  # 371.5092 - 100
    shown = disclosed(accounts, firm, "2024-Q2")
    assert (shown["revision"], shown["gross_tco2e"], shown["retired_tco2e"], shown["net_tco2e"]) \
        == (2, "371.5092", 100, "271.5092")
    assert [(r["revision"], r["quantity"]) for r in shown["retirements"]] == [(1, 100)]
    # a retirement credits accepted against revision 1 just before it learnt of revision 2
    # (the race its report lock decides) still counts, under the revision it named
    retire(accounts, first["id"], 30, "race")
    retire(accounts, second["id"], 20, "r2")
    shown = disclosed(accounts, firm, "2024-Q2")
    assert (shown["retired_tco2e"], shown["net_tco2e"]) == (150, "221.5092")  # 371.5092 - 150
    assert sorted((r["revision"], r["quantity"]) for r in shown["retirements"]) == \
        [(1, 30), (1, 100), (2, 20)]
    # the enterprise's history and the regulator's view of it carry the same figures
    for headers in (firm["headers"], firm["regulator"]):
        history = accounts.http.get(f"/api/v1/enterprises/{firm['id']}/reports",
                                    headers=headers).json()
        current = next(r for r in history if r["is_current"] and r["period"] == "2024-Q2")
        assert (current["total_tco2e"], current["retired_tco2e"], current["net_tco2e"]) == \
            ("371.5092", 150, "221.5092")


def test_a_retirement_naming_a_report_never_filed_is_refused(accounts):
    with pytest.raises(Conflict) as refused:
        retire(accounts, "never-filed", 10, "ghost")
    assert refused.value.field == "report_id"


def test_disclosures_are_always_a_page_and_pages_are_the_whole_list(accounts, firm):
    for period in ("2019-01", "2019-02", "2019-Q3", "2019"):
        filed = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports",
                                   headers=firm["headers"],
                                   json={"period": period, "activities": diesel(10)})
        assert filed.status_code == 201, filed.text
    # no limit asked: still one bounded page, never the whole list
    first = accounts.http.get("/api/v1/disclosures").json()
    assert (first["limit"], first["offset"]) == (50, 0) and len(first["items"]) <= 50
    pages, offset = [], 0
    while items := accounts.http.get(f"/api/v1/disclosures?year=2019&limit=2&offset={offset}"
                                     ).json()["items"]:
        assert len(items) <= 2
        pages += items
        offset += 2
    ids = [d["report_id"] for d in pages]
    assert len(set(ids)) == len(ids)  # no row on two pages
    # newest period first, whatever the page size (names within a period follow the
    # database's collation, which Python's sort need not share)
    periods = [d["period"] for d in pages]
    assert periods == sorted(periods, key=_desc)
    assert {d["period"] for d in pages if d["enterprise"] == firm["name"]} == \
        {"2019-01", "2019-02", "2019-Q3", "2019"}
    assert all(d["period"].startswith("2019") for d in pages)
    # the year's total (from the emission rollup, not a count) is what the pages held
    assert accounts.http.get("/api/v1/disclosures?year=2019&limit=1").json()["total"] == len(pages)
    assert accounts.http.get("/api/v1/disclosures?period=2019-Q3&limit=1").json()["total"] == \
        sum(d["period"] == "2019-Q3" for d in pages)


def _desc(period: str) -> list[int]:
    return [-ord(c) for c in period] + [1]  # a prefix sorts after its longer periods, as in SQL


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("offset=-1", "offset"),
    ("year=19", "year"), ("year=2019-Q1", "year"), ("period=2019-Q5", "period")])
def test_bad_paging_of_disclosures_is_a_422_naming_the_field(accounts, query, field):
    reply = accounts.http.get(f"/api/v1/disclosures?{query}")
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in reply.json()["errors"]] == [field]
