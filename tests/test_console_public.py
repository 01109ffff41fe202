"""The web console without a role page: the public registry and certificate verification (no
login), the regulator's dashboard, the language switch and how API errors are shown."""
from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from e2e_support import OFFICIALS, PASSWORD, confirm_enterprise
from tanhui_accounts.cli import create_user
from tanhui_accounts.domain.identity import Role
from test_console_support import (PHONE, api_user, browser, console, gw, issue_credits,  # noqa: F401
                                  uscc)

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def retired(gw):
    """Credits issued and a part of them retired: a certificate and a serial with a lineage."""
    supplier = issue_credits(gw)
    certificate = gw.post("/api/v1/retirements", headers=supplier["headers"], json={
        "quantity": 25, "beneficiary": "南充市民政局", "purpose": "2025 年会议碳中和"})
    assert certificate.status_code == 201, certificate.text
    return certificate.json()


def test_anyone_traces_a_serial_and_verifies_a_certificate_without_logging_in(console, retired):
    tab = console()
    page = tab.page
    tab.open("registry")
    page.wait_for_selector("[data-table=registry] tbody tr")
    first_serial = retired["serials"][0].rsplit("-", 1)[0]  # the range's first serial
    page.fill("[data-form=serial] [name=serial]", first_serial)
    page.click("[data-form=serial] button[type=submit]")
    page.wait_for_selector("[data-result=lineage] [data-timeline=lineage] li")
    lineage = page.inner_text("[data-result=lineage]")
    assert "南充市民政局" in lineage and page.locator("[data-timeline=lineage] li").count() >= 2
    tab.shot("desktop-registry")

    # The certificate's QR code leads to /console/#/verify/<id> (and its JSON verification_url).
    phone = console(PHONE)
    phone.open(f"verify/{retired['certificate_id']}")
    text = phone.page.wait_for_selector("[data-certificate]").inner_text()
    assert retired["content_hash"] in text and "25" in text
    phone.page.click("[data-form=verify] button[type=submit]")  # the id stays in the box
    phone.page.wait_for_selector(f"[data-certificate='{retired['certificate_id']}']")
    phone.shot("phone-verify")


def test_the_regulator_sees_the_city_dashboard_beside_the_plan_targets_and_disclosures(console, gw, platform):
    year = str(datetime.now().year)
    _, firm = api_user(gw, "enterprise")
    name = f"阆中丝绸厂-{uuid.uuid4().hex[:4]}"
    enterprise = gw.post("/api/v1/enterprises", headers=firm, json={
        "name": name, "uscc": uscc(), "county": "阆中市", "industry": "纺织丝绸"}).json()
    filed = gw.post(f"/api/v1/enterprises/{enterprise['id']}/reports", headers=firm, json={
        "period": f"{year}-Q1", "activities": [{"factor_code": "fuel.natural_gas", "quantity": "12", "unit": "10^4 Nm3"}]})
    assert filed.status_code == 201, filed.text
    _, rider = api_user(gw, "citizen")
    now = datetime.now(UTC)
    assert gw.post("/api/v1/trips", headers=rider, json={
        "mode": "bus", "distance_km": "6", "started_at": (now - timedelta(minutes=30)).isoformat(),
        "ended_at": (now - timedelta(minutes=5)).isoformat(), "external_id": uuid.uuid4().hex}).status_code == 201

    regulator = f"regulator-{uuid.uuid4().hex[:6]}"
    create_user(platform.database_urls["accounts"], regulator, PASSWORD, Role.REGULATOR)
    tab = console()
    page = tab.page
    tab.login(regulator, lands_on="regulator")
    # The enterprise waits in the regulator's queue of credit-code claims; confirmed, it is disclosed.
    claim = f"[data-claim='{enterprise['id']}']"
    page.wait_for_selector(claim)
    page.fill(f"{claim} [name=reason]", "营业执照核验一致")
    page.click(f"{claim} [data-decision=confirm]")
    page.wait_for_selector("[data-result=claim] .ok")
    assert page.locator(claim).count() == 0
    page.reload()
    page.wait_for_selector("[data-chart=county] rect")
    for chart in ("county", "industry", "trips", "reduction"):
        assert page.locator(f"[data-chart={chart}] rect").count() >= 1, chart
    assert "阆中市" in page.inner_text("[data-chart=county]")
    assert "南充市碳达峰实施方案" in page.inner_text("[data-page=regulator]")
    page.wait_for_selector(f"[data-table=disclosures] >> text={name}")
    assert "总排放（t）" in page.inner_text("[data-table=disclosures] thead")  # gross beside net
    tab.shot("desktop-regulator")


PERIODS_OF_2016 = ["2016", *(f"2016-Q{q}" for q in range(1, 5)), *(f"2016-{m:02d}" for m in range(1, 13))]


def test_the_regulator_reads_a_years_disclosures_a_bounded_page_at_a_time(console, gw):
    # 3 enterprises x 17 periods of 2016 (a year no other test files in): 51, one page and one more
    _, firm = api_user(gw, "enterprise")
    for n in range(3):
        enterprise = gw.post("/api/v1/enterprises", headers=firm, json={
            "name": f"顺庆纸业-{n}-{uuid.uuid4().hex[:4]}", "uscc": uscc(), "county": "顺庆区",
            "industry": "造纸"}).json()
        confirm_enterprise(gw, enterprise["id"])
        for period in PERIODS_OF_2016:
            filed = gw.post(f"/api/v1/enterprises/{enterprise['id']}/reports", headers=firm, json={
                "period": period, "activities": [{"factor_code": "fuel.diesel", "quantity": "1", "unit": "t"}]})
            assert filed.status_code == 201, filed.text
    total = gw.get("/api/v1/disclosures", params={"year": "2016", "limit": 1}).json()["total"]
    assert total >= 51

    tab = console()
    page = tab.page
    asked: list[dict] = []
    page.on("request", lambda r: asked.append(parse_qs(urlparse(r.url).query))
            if urlparse(r.url).path == "/api/v1/disclosures" else None)
    tab.login(*OFFICIALS[str(gw.base_url).rstrip("/")]["regulator"], lands_on="regulator")
    page.fill("[data-form=period] [name=period]", "2016")
    page.click("[data-form=period] button[type=submit]")
    pager = "[data-part=disclosures-pager]"
    page.wait_for_selector(f"{pager} >> text=第 1–50 条，共 {total} 条")
    assert page.locator("[data-table=disclosures] tbody tr").count() == 50
    assert page.is_disabled("[data-action=disclosures-prev]")
    first = page.inner_text("[data-table=disclosures] tbody")
    tab.shot("desktop-regulator-disclosures-page-1", full_page=False)
    # the next page continues after the cursor the first page answered, never by offset
    cursor = gw.get("/api/v1/disclosures", params={"year": "2016", "limit": 50}).json()["next"]
    page.click("[data-action=disclosures-next]")
    page.wait_for_selector(f"{pager} >> text=第 51–{min(100, total)} 条，共 {total} 条")
    assert page.locator("[data-table=disclosures] tbody tr").count() == min(100, total) - 50
    assert asked[-1]["after"] == [cursor]
    api_second = gw.get("/api/v1/disclosures", params={"year": "2016", "limit": 50,
                                                       "after": cursor}).json()["items"]
    shown = page.locator("[data-table=disclosures] tbody tr td:first-child").all_inner_texts()
    assert [name.strip() for name in shown] == [d["enterprise"] for d in api_second]
    page.click("[data-action=disclosures-prev]")
    page.wait_for_selector(f"{pager} >> text=第 1–50 条，共 {total} 条")
    assert page.inner_text("[data-table=disclosures] tbody") == first  # back where it began
    assert "after" not in asked[-1]
    # the export holds the whole year, read page by page like the table
    with page.expect_download() as saved:
        page.click("[data-export=disclosures-csv]")
    rows = list(csv.reader(open(saved.value.path(), encoding="utf-8-sig")))
    assert len(rows) - 1 == total and all(r[3].startswith("2016") for r in rows[1:])
    # every request the page made asked for one bounded page (never the whole list), each
    # after a cursor rather than skipping rows by offset
    assert asked and all(q.get("limit") and int(q["limit"][0]) <= 200 for q in asked), asked
    assert not any("offset" in q for q in asked), asked


def test_chinese_by_default_english_on_request_kept_across_reloads_and_errors_translated(console):
    tab = console()
    page = tab.page
    tab.expect_http_error(401)
    tab.open("login")
    assert page.inner_text("[data-form=login] button[type=submit]") == "登录"
    page.click("[data-action=lang]")
    page.wait_for_selector("[data-form=login] button:text-is('Log in')")
    page.reload()
    page.wait_for_selector("[data-form=login] button:text-is('Log in')")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.fill("[data-form=login] [name=username]", f"nobody-{uuid.uuid4().hex[:6]}")
    page.fill("[data-form=login] [name=password]", "not the password")
    page.click("[data-form=login] button[type=submit]")
    # the catalogue's sentence for the problem's code, the API's detail on a smaller line
    refused = "The user name, password or client credentials are wrong."
    page.wait_for_selector(f"[data-form=login] .form-error .problem-title:text-is('{refused}')")
    assert "wrong username or password" in page.inner_text("[data-form=login] .problem-detail")
    page.click("[data-action=lang]")
    assert page.inner_text("[data-form=login] button[type=submit]") == "登录"


def test_registration_errors_name_their_field_in_place(console):
    tab = console(PHONE)
    page = tab.page
    tab.expect_http_error(422)
    tab.open("register")
    page.fill("[data-form=register] [name=username]", "ab")
    page.fill("[data-form=register] [name=password]", "short")
    page.click("[data-form=register] button[type=submit]")
    page.wait_for_selector("[data-form=register] [data-field=username].invalid")
    assert page.locator("[data-form=register] [data-field=password].invalid .error").inner_text()
    page.wait_for_selector("[data-form=register] .problem-title:text-is('请求中有字段缺失或不合规。')")


def test_anyone_reads_the_green_travel_methodology_in_both_languages(console):
    tab = console(PHONE)
    page = tab.page
    tab.open("registry")
    page.click("nav a[data-route=methodology]")  # reachable from the nav without logging in
    row = page.wait_for_selector("[data-table=methodology-reduction] tr:has-text('reduction.bike')")
    assert "46.7" in row.inner_text() and "深圳" in row.inner_text()
    assert "0.1564" in page.inner_text("[data-table=methodology-ev]")
    assert "平台假设" in page.inner_text("[data-table=methodology-caps]")
    page.click("[data-action=lang]")
    page.wait_for_selector("[data-table=methodology-caps] >> text=Platform assumption")
    assert "Points, validity and redemption" in page.inner_text("[data-page=methodology]")
    page.click("[data-action=lang]")
