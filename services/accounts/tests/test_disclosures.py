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

import base64
import json
import random
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

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
    return new_firm(accounts, f"南充水泥 {uuid.uuid4().hex[:6]}")


def new_firm(accounts, name: str) -> dict:
    _, headers = accounts.user("enterprise")
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": name, "uscc": _uscc(), "county": "西充县", "industry": "cement"})
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


def _pages(accounts, query: str, limit: int, between=None) -> list[dict]:
    """Every page of the query, each after the previous one's `next`; `between(n)` runs after
    page n, as another client's write between two reads."""
    found, after = [], None
    while True:
        reply = accounts.http.get(f"/api/v1/disclosures?{query}&limit={limit}"
                                  + (f"&after={after}" if after else ""))
        assert reply.status_code == 200, reply.text
        page = reply.json()
        assert len(page["items"]) <= limit and (page["next"] is None or
                                                len(page["items"]) == limit)
        found += page["items"]
        if not (after := page["next"]):
            return found
        if between:
            between(len(found) // limit)


def _truth(accounts, year: str) -> list[str]:
    """The year's disclosed report ids in page order, from the source tables themselves (not
    the trigger-kept keys the API pages on)."""
    with accounts.engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT r.id FROM carbon_report r JOIN enterprise e ON e.id = r.enterprise_id "
            "WHERE r.is_current AND e.claim_status = 'confirmed' AND left(r.period, 4) = :y "
            "ORDER BY r.period DESC, e.name, r.id"), {"y": year}).scalars())


def test_disclosures_are_always_a_page_and_pages_are_the_whole_list(accounts, firm):
    for period in ("2019-01", "2019-02", "2019-Q3", "2019"):
        filed = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports",
                                   headers=firm["headers"],
                                   json={"period": period, "activities": diesel(10)})
        assert filed.status_code == 201, filed.text
    # no limit asked: still one bounded page, never the whole list
    first = accounts.http.get("/api/v1/disclosures").json()
    assert (first["limit"], first["offset"]) == (50, 0) and len(first["items"]) <= 50
    pages = _pages(accounts, "year=2019", 2)
    ids = [d["report_id"] for d in pages]
    # every disclosure once, in the order the source tables give (names in the database's
    # collation, which Python's sort need not share)
    assert ids == _truth(accounts, "2019")
    assert {d["period"] for d in pages if d["enterprise"] == firm["name"]} == \
        {"2019-01", "2019-02", "2019-Q3", "2019"}
    # offsets (kept for older clients) page the same order
    by_offset, offset = [], 0
    while items := accounts.http.get(f"/api/v1/disclosures?year=2019&limit=3&offset={offset}"
                                     ).json()["items"]:
        by_offset += [d["report_id"] for d in items]
        offset += 3
    assert by_offset == ids
    # the year's total (from the emission rollup, not a count) is what the pages held
    assert accounts.http.get("/api/v1/disclosures?year=2019&limit=1").json()["total"] == len(pages)
    q3 = _pages(accounts, "period=2019-Q3", 1)
    assert accounts.http.get("/api/v1/disclosures?period=2019-Q3&limit=1").json()["total"] == \
        len(q3) == sum(d["period"] == "2019-Q3" for d in pages)


def test_paging_after_a_cursor_survives_writes_between_pages(accounts):
    # namesakes apart from a suffix that sorts them in any collation: a..e
    tag = uuid.uuid4().hex[:6]
    firms = {c: new_firm(accounts, f"游标 {tag} {c}") for c in "abcde"}

    def file(c: str, period: str) -> dict:
        reply = accounts.http.post(f"/api/v1/enterprises/{firms[c]['id']}/reports",
                                   headers=firms[c]["headers"],
                                   json={"period": period, "activities": diesel(10)})
        assert reply.status_code == 201, reply.text
        return reply.json()

    for c in "bd":
        file(c, "2017-Q2")
    for c in "abcde":
        file(c, "2017-Q1")
    before = _truth(accounts, "2017")
    added: list[str] = []

    def write(n: int) -> None:
        # after the first page: a filing before the cursor (an offset would repeat a row),
        # one after it (to be read), and a correction that replaces a row not yet read
        if n == 1:
            added.append(file("a", "2017-Q2")["id"])
            added.append(file("e", "2017-Q2")["id"])
            corrected = next(r for r in accounts.http.get(
                f"/api/v1/enterprises/{firms['c']['id']}/reports",
                headers=firms["c"]["headers"]).json() if r["period"] == "2017-Q1")
            reply = accounts.http.post(f"/api/v1/reports/{corrected['id']}/revisions",
                                       headers=firms["c"]["headers"],
                                       json={"activities": diesel(11)})
            assert reply.status_code == 201, reply.text
            added.append(reply.json()["id"])
            before.remove(corrected["id"])

    mine = {f["name"] for f in firms.values()}
    seen = [d["report_id"] for d in _pages(accounts, "year=2017", 1, between=write)]
    assert len(seen) == len(set(seen))  # no row twice
    assert set(before) <= set(seen)  # every row present throughout was read
    assert set(seen) <= set(before) | set(added)
    ours = [d for d in _pages(accounts, "year=2017", 2) if d["enterprise"] in mine]
    assert [(d["period"], d["enterprise"][-1]) for d in ours] == \
        [("2017-Q2", c) for c in "abde"] + [("2017-Q1", c) for c in "abcde"]
    assert [d["report_id"] for d in _pages(accounts, "year=2017", 3)] == _truth(accounts, "2017")


def test_a_page_holds_limit_reports_each_with_all_its_retirements(accounts):
    """A page is read in one statement that joins each report's retirements (one row per
    retirement): pages still count reports, and no retirement is lost at a page's edge."""
    tag = uuid.uuid4().hex[:6]
    expected = {}
    for n, c in enumerate("abcd"):
        firm = new_firm(accounts, f"退役 {tag} {c}")
        filed = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports",
                                   headers=firm["headers"],
                                   json={"period": "2018", "activities": diesel(10)})
        assert filed.status_code == 201, filed.text
        report = filed.json()
        # a: none, b: one, c: two, d: three (the third against a superseded revision)
        for k in range(n):
            retire(accounts, report["id"], 10 + k, f"{tag}{c}{k}")
        if n == 3:
            revised = accounts.http.post(f"/api/v1/reports/{report['id']}/revisions",
                                         headers=firm["headers"],
                                         json={"activities": diesel(11)})
            assert revised.status_code == 201, revised.text
            report = revised.json()
        expected[firm["name"]] = (report["id"], sorted(
            (f"ret-{tag}{c}{k}-" + (report["supersedes_id"] or report["id"]), 10 + k)
            for k in range(n)))
    whole = _pages(accounts, "period=2018", 50)
    for limit in (1, 2, 3):
        paged = _pages(accounts, "period=2018", limit)
        assert paged == whole  # the same items, retirements and figures, whatever the page
    ours = {d["enterprise"]: d for d in whole if d["enterprise"] in expected}
    assert {name: (d["report_id"], [(r["retirement_id"], r["quantity"]) for r in d["retirements"]])
            for name, d in ours.items()} == expected
    assert [d["retired_tco2e"] for d in ours.values()] == [0, 10, 21, 33]


def test_the_sort_keys_follow_every_write_path(accounts, firm):
    """disclosure_entry and disclosure_period are kept by triggers: an operator's SQL renaming,
    rejecting or reconfirming an enterprise moves its keys and counts as the API's writes do."""
    report = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports",
                                headers=firm["headers"],
                                json={"period": "2016", "activities": diesel(10)}).json()
    renamed = f"改名 {uuid.uuid4().hex[:6]}"

    def names() -> list[str]:
        return [d["enterprise"] for d in every_disclosure(accounts.http, period="2016")
                if d["report_id"] == report["id"]]

    with accounts.engine.begin() as conn:
        conn.execute(sa.text("UPDATE enterprise SET name = :n WHERE id = :i"),
                     {"n": renamed, "i": firm["id"]})
    assert names() == [renamed]
    with accounts.engine.begin() as conn:
        conn.execute(sa.text("UPDATE enterprise SET claim_status = 'rejected' WHERE id = :i"),
                     {"i": firm["id"]})
    assert names() == []
    with accounts.engine.begin() as conn:
        conn.execute(sa.text("UPDATE enterprise SET claim_status = 'confirmed' WHERE id = :i"),
                     {"i": firm["id"]})
    assert names() == [renamed]
    with accounts.engine.connect() as conn:
        # the keys are exactly the disclosed reports, both ways
        drift = conn.execute(sa.text(
            "(SELECT report_id, period, name FROM disclosure_entry EXCEPT "
            " SELECT r.id, r.period, e.name FROM carbon_report r JOIN enterprise e "
            " ON e.id = r.enterprise_id WHERE r.is_current AND e.claim_status = 'confirmed') "
            "UNION ALL (SELECT r.id, r.period, e.name FROM carbon_report r JOIN enterprise e "
            " ON e.id = r.enterprise_id WHERE r.is_current AND e.claim_status = 'confirmed' "
            " EXCEPT SELECT report_id, period, name FROM disclosure_entry)")).all()
    assert drift == []
    with accounts.engine.connect() as conn:
        # each period's kept count (summed over shards) is the number of its keys
        miscounted = conn.execute(sa.text(
            "SELECT period FROM (SELECT period, sum(reports) AS n FROM disclosure_period "
            "GROUP BY period) AS kept FULL JOIN (SELECT period, count(*) AS n "
            "FROM disclosure_entry GROUP BY period) AS keys USING (period) "
            "WHERE coalesce(kept.n, 0) <> coalesce(keys.n, 0)")).all()
    assert miscounted == []


def _cursor(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("offset=-1", "offset"),
    ("year=19", "year"), ("year=2019-Q1", "year"), ("period=2019-Q5", "period"),
    # a cursor is only ever a `next` handed out: anything else names `after`
    ("after=", "after"), ("after=!!", "after"), ("after=bm90IGpzb24", "after"),  # not json
    (f"after={_cursor(['2019', 'x'])}", "after"), (f"after={_cursor(['2019-Q5', 'x', 'y'])}", "after"),
    (f"after={_cursor({'period': '2019'})}", "after"), (f"after={_cursor(['2019', 'x', 1])}", "after"),
    (f"after={_cursor(['2019', 'x', 'y'])}&offset=2", "offset")])
def test_bad_paging_of_disclosures_is_a_422_naming_the_field(accounts, query, field):
    reply = accounts.http.get(f"/api/v1/disclosures?{query}")
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in reply.json()["errors"]] == [field]


@pytest.mark.parametrize("query", ["year=0000", "year=9999", "year=9999&period=9999-Q4",
                                   "period=2019&year=2018", "year=2019&offset=3&limit=2"])
def test_every_shape_of_the_page_query_answers_a_page(accounts, query):
    # the page's statement is built once per shape (period, year, the year's end, cursor)
    reply = accounts.http.get(f"/api/v1/disclosures?{query}")
    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert set(page) == {"items", "total", "limit", "offset", "next"}
    if "period=2019&year=2018" in query or "9999" in query or "0000" in query:
        assert page["items"] == [] and page["next"] is None
