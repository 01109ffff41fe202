"""City figures come from rollups kept by triggers; after a mix of writes (the API, concurrent
store writers, revisions, claims confirmed late, an operator's corrections by SQL) they equal
a scan of the trips and reports themselves (PostgreSQL)."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from accounts_support import CITY_DAY, ride
from tanhui_accounts.domain.travel import RULES, Mode
from tanhui_accounts.domain.trip_batch import TripClaim
from tanhui_accounts.store.trips import record_trips
from tanhui_shared.uow import in_unit_of_work
from test_disclosures import _uscc, diesel

YEAR = str(CITY_DAY.year)

TRIP_SCAN = sa.text("""SELECT mode, count(*), sum(distance_km), sum(reduction_g) FROM green_trip
WHERE extract(year FROM local_day) = :year GROUP BY mode ORDER BY mode""")
TRIP_ROLLUP = sa.text("""SELECT mode, sum(trips), sum(distance_km), sum(reduction_g)
FROM trip_rollup WHERE extract(year FROM local_day) = :year GROUP BY mode
HAVING sum(trips) > 0 ORDER BY mode""")
EMISSION_SCAN = sa.text("""SELECT e.county, e.industry, count(*), sum(r.total_tco2e)
FROM carbon_report r JOIN enterprise e ON e.id = r.enterprise_id
WHERE r.is_current AND e.claim_status = 'confirmed' AND r.period LIKE :year || '%'
GROUP BY 1, 2 ORDER BY 1, 2""")
EMISSION_ROLLUP = sa.text("""SELECT county, industry, sum(reports), sum(total_tco2e)
FROM emission_rollup WHERE year = :year GROUP BY 1, 2 HAVING sum(reports) > 0 ORDER BY 1, 2""")


def rows(engine, query, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query, params)]


def assert_rollups_equal_scans(accounts, regulator) -> None:
    engine = accounts.engine
    assert rows(engine, TRIP_ROLLUP, year=int(YEAR)) == rows(engine, TRIP_SCAN, year=int(YEAR))
    assert rows(engine, EMISSION_ROLLUP, year=YEAR) == rows(engine, EMISSION_SCAN, year=YEAR)
    # and the regulator's page reads them
    stats = accounts.http.get(f"/api/v1/stats/city?period={YEAR}", headers=regulator).json()
    assert [(m["mode"], m["trips"], Decimal(m["distance_km"])) for m in stats["trips_by_mode"]] == \
        [(mode, n, km) for mode, n, km, _ in rows(engine, TRIP_SCAN, year=int(YEAR))]
    by_county: dict[str, Decimal] = {}
    for county, _, _, total in rows(engine, EMISSION_SCAN, year=YEAR):
        by_county[county] = by_county.get(county, Decimal(0)) + total
    assert {g["key"]: Decimal(g["total_tco2e"]) for g in stats["by_county"]} == by_county


def enterprise(accounts, headers, county: str, industry: str) -> dict:
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": f"南充 {uuid.uuid4().hex[:6]}", "uscc": _uscc(), "county": county,
        "industry": industry})
    assert reply.status_code == 201, reply.text
    return reply.json()


def decide(accounts, regulator, enterprise_id: str, decision: str) -> None:
    reply = accounts.http.post(f"/api/v1/enterprise-claims/{enterprise_id}/decision",
                               headers=regulator, json={"decision": decision, "reason": "checked"})
    assert reply.status_code == 200, reply.text


def file(accounts, headers, enterprise_id: str, period: str, tonnes: int) -> dict:
    reply = accounts.http.post(f"/api/v1/enterprises/{enterprise_id}/reports", headers=headers,
                               json={"period": period, "activities": diesel(tonnes)})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_emission_rollup_follows_reports_revisions_and_claims(accounts):
    _, regulator = accounts.user("regulator")
    _, owner = accounts.user("enterprise")
    confirmed = enterprise(accounts, owner, "顺庆区", "cement")
    decide(accounts, regulator, confirmed["id"], "confirm")
    first = file(accounts, owner, confirmed["id"], YEAR, 100)
    file(accounts, owner, confirmed["id"], f"{YEAR}-Q1", 30)
    revised = accounts.http.post(f"/api/v1/reports/{first['id']}/revisions", headers=owner,
                                 json={"activities": diesel(120)})  # supersedes revision 1
    assert revised.status_code == 201, revised.text
    # a pending claim's reports count only once it is confirmed, with all its revisions
    _, late_owner = accounts.user("enterprise")
    late = enterprise(accounts, late_owner, "高坪区", "power")
    pending_report = file(accounts, late_owner, late["id"], YEAR, 50)
    accounts.http.post(f"/api/v1/reports/{pending_report['id']}/revisions", headers=late_owner,
                       json={"activities": diesel(55)})
    assert_rollups_equal_scans(accounts, regulator)
    decide(accounts, regulator, late["id"], "confirm")
    # a rejected claim's reports never count
    _, rejected_owner = accounts.user("enterprise")
    rejected = enterprise(accounts, rejected_owner, "顺庆区", "cement")
    file(accounts, rejected_owner, rejected["id"], YEAR, 70)
    decide(accounts, regulator, rejected["id"], "reject")
    assert_rollups_equal_scans(accounts, regulator)
    # an operator's corrections by SQL: an enterprise moved county, a report deleted
    with accounts.engine.begin() as conn:
        conn.execute(sa.text("UPDATE enterprise SET county = '嘉陵区' WHERE id = :id"),
                     {"id": late["id"]})
        conn.execute(sa.text("DELETE FROM report_line WHERE report_id IN (SELECT id FROM "
                             "carbon_report WHERE enterprise_id = :id AND period LIKE '%-Q1')"),
                     {"id": confirmed["id"]})
        conn.execute(sa.text("DELETE FROM carbon_report WHERE enterprise_id = :id "
                             "AND period LIKE '%-Q1'"), {"id": confirmed["id"]})
    assert_rollups_equal_scans(accounts, regulator)
    assert any(row[0] == "嘉陵区" for row in rows(accounts.engine, EMISSION_ROLLUP, year=YEAR))


def _store_batch(engine, citizens: list[str], writer: int) -> None:
    """One transit operator's batch straight through the store: concurrent writers race on the
    same (day, mode) rollup rows."""
    claims = []
    for n in range(60):
        start = CITY_DAY + timedelta(minutes=30 * n + writer)
        claims.append(TripClaim(n, citizens[n % len(citizens)], Mode.BUS if n % 2 else Mode.METRO,
                                Decimal("3.5"), start, start + timedelta(minutes=20),
                                f"w{writer}-{n}-{uuid.uuid4().hex[:6]}"))
    in_unit_of_work(engine, lambda uow: record_trips(uow.session, claims, "operator", RULES))


def test_trip_rollup_equals_the_scan_after_api_trips_concurrent_batches_and_corrections(accounts):
    _, regulator = accounts.user("regulator")
    citizens = [accounts.user("citizen") for _ in range(8)]
    for user, headers in citizens[:2]:
        for n, mode in enumerate(["metro", "bus", "walk", "metro"]):
            reply = accounts.http.post("/api/v1/trips", headers=headers,
                                       json=ride(CITY_DAY + timedelta(hours=2 * n), mode=mode,
                                                 km="4"))
            assert reply.status_code in (201, 422), reply.text  # a plausibility refusal is fine
    ids = [user["id"] for user, _ in citizens[2:]]
    # each writer its own citizens (a citizen's trips may not overlap in time)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda w: _store_batch(accounts.engine, [ids[w]], w), range(6)))
    assert_rollups_equal_scans(accounts, regulator)
    # corrections by SQL (no path of the platform edits trips; an operator might)
    with accounts.engine.begin() as conn:
        conn.execute(sa.text("UPDATE green_trip SET mode = 'bike', distance_km = distance_km + 1 "
                             "WHERE id IN (SELECT id FROM green_trip WHERE user_id = :u LIMIT 5)"),
                     {"u": ids[0]})
        conn.execute(sa.text("DELETE FROM points_entry WHERE trip_id IN (SELECT id FROM green_trip "
                             "WHERE user_id = :u)"), {"u": ids[1]})
        conn.execute(sa.text("DELETE FROM green_trip WHERE user_id = :u"), {"u": ids[1]})
    assert_rollups_equal_scans(accounts, regulator)


def test_a_report_filed_while_its_claim_is_confirmed_is_counted_once(accounts):
    """Both orders of the race: the confirmation's trigger re-reads the enterprise's reports and
    the report's trigger reads the claim; the report's FOR SHARE lock on its enterprise makes
    the later of the two see the other's outcome, so neither order loses the report."""
    _, regulator = accounts.user("regulator")
    for report_first in (False, True):
        _, owner = accounts.user("enterprise")
        firm = enterprise(accounts, owner, "营山县", "textiles")
        report = ("INSERT INTO carbon_report VALUES (:id, :firm, :year, 1, true, NULL, 10, 5, 15, "
                  "'owner', now())")
        confirm = ("UPDATE enterprise SET claim_status = 'confirmed', decided_at = now(), "
                   "decided_by = 'regulator', decision_reason = 'checked' WHERE id = :firm")
        first, second = (report, confirm) if report_first else (confirm, report)
        params = {"id": str(uuid.uuid4()), "firm": firm["id"], "year": YEAR}
        with accounts.engine.connect() as holder:
            holder.execute(sa.text(first), params)  # in flight: not committed yet

            def race() -> None:
                with accounts.engine.begin() as other:
                    other.execute(sa.text(second), params)  # waits for the lock, if any

            with ThreadPoolExecutor(1) as pool:
                racing = pool.submit(race)
                try:
                    racing.result(timeout=1)  # without the lock it finishes first
                except TimeoutError:
                    pass
                holder.commit()
                racing.result()
        assert_rollups_equal_scans(accounts, regulator)
        # the disclosures' sort keys (disclosure_entry, same lock) hold the report once too
        assert rows(accounts.engine, sa.text("SELECT period FROM disclosure_entry WHERE report_id = :id"),
                    id=params["id"]) == [(YEAR,)]
