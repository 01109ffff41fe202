"""Issue 14, part A: the citizen's, transit operator's, enterprise's, organizer's and regulator's
whole journeys, clicked through in Chromium against the running platform: each once in Chinese on
a phone (390x844) and once in English on a desktop, with a screenshot at each step in
.var/screenshots/. The assertions read what the user sees."""
from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

import pytest

from e2e_support import OFFICIALS, accredit, confirm_claims_of, eventually, register_and_login
from test_console_support import (DESKTOP, PHONE, api_user, browser, console, gw,  # noqa: F401
                                  issue_credits, settle, uscc)

pytestmark = pytest.mark.infra

JOURNEYS = pytest.mark.parametrize("device,lang", [(PHONE, "zh"), (DESKTOP, "en")], ids=["phone-zh", "desktop-en"])
# What the user reads, per language (the strings of console/js/*.js).
SEES = {
    "zh": {"metro": "轨道交通", "completed": "已完成", "unknown_citizen": "平台上没有这位市民",
           "not_licensed": "该出行方式不在许可范围内", "bad_mode": "未知的出行方式",
           "cannot": "无法测得", "neutral": "已碳中和", "operator": "公交运营方"},
    "en": {"metro": "Metro", "completed": "completed", "unknown_citizen": "No such citizen on the platform",
           "not_licensed": "Mode not covered by the licence", "bad_mode": "Unknown mode",
           "cannot": "cannot measure", "neutral": "carbon neutral", "operator": "Transit operator"},
}
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture(scope="module")
def supplier(gw):
    """A developer holding 1,000 issued credits: the inclusion pool's and the listings' source."""
    return issue_credits(gw)


def tab_for(console, device: dict, lang: str):
    tab = console(device)
    tab.context.add_init_script(f"localStorage.setItem('tanhui.lang', '{lang}')")
    return tab


def shot(tab, device: dict, lang: str, role: str, step: str) -> None:
    tab.shot(f"{'phone' if device is PHONE else 'desktop'}-{lang}-{role}-{step}")


def capped_days_of_trips(username: str, days: int) -> list[dict]:
    """A feed that fills the 1,000-point daily cap on each of `days` past days (within the claim
    window): 12 metro + 12 bus + 6 bike trips of 10 km a day."""
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days + 1)
    trips = []
    for day in range(days):
        for n, mode in enumerate(["metro"] * 12 + ["bus"] * 12 + ["bike"] * 6):
            begin = first + timedelta(days=day, minutes=30 * n)
            trips.append({"username": username, "mode": mode, "distance_km": "10",
                          "started_at": begin.isoformat(), "ended_at": (begin + timedelta(minutes=29)).isoformat(),
                          "external_id": f"{username}-{day}-{n}"})
    return trips


@JOURNEYS
def test_a_citizen_sees_each_trip_and_redeems_points_for_a_certificate(console, gw, supplier, device, lang):
    username, _ = api_user(gw, "citizen")
    _, operator = register_and_login(gw, "transit_operator")
    fed = gw.post("/api/v1/trips/batch", headers=operator, json={"trips": capped_days_of_trips(username, 2)})
    assert fed.json()["points_awarded"] == 2 * 1000, fed.text  # two days at the daily cap
    assert gw.post("/api/v1/transfers", headers=supplier["headers"],
                   json={"to_username": "city-inclusion-pool", "quantity": 1}).status_code == 201
    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(username, lands_on="citizen")
    page.wait_for_selector("[data-table=trips] tbody tr")
    assert page.locator("[data-table=trips] tbody tr").count() == 20  # the latest 20 of 60
    assert "60" in page.inner_text("[data-part=trips] .hint")
    shot(tab, device, lang, "citizen", "1-trips")

    page.select_option("[data-form=trip] [name=mode]", "metro")
    page.fill("[data-form=trip] [name=distance_km]", "8.5")
    page.click("[data-form=trip] button[type=submit]")
    page.wait_for_selector("[data-result=trip] .ok")
    # 8.5 km x 46.7 g/km (the methodology's metro reduction) = 396.95 g -> 39 points (10 g each)
    first = page.locator("[data-table=trips] tbody tr").first
    page.wait_for_selector("[data-table=trips] tbody tr:first-child >> text=8.5 km")
    assert first.locator("[data-mode]").inner_text() == SEES[lang]["metro"]
    assert first.locator("[data-distance]").inner_text() == "8.5 km"
    assert first.locator("[data-points]").inner_text() == "39"
    page.wait_for_selector("[data-stat=available] strong:text-is('2,039')")
    shot(tab, device, lang, "citizen", "2-trip")

    page.fill("[data-form=redeem] [name=points]", "1000")
    page.click("[data-form=redeem] button[type=submit]")
    page.wait_for_selector("[data-result=redemption] .state-completed", timeout=60_000)
    page.wait_for_selector("[data-stat=available] strong:text-is('1,039')")
    row = page.wait_for_selector("[data-table=redemptions] tbody tr:has(.state-completed)")
    assert SEES[lang]["completed"] in row.inner_text() and ("10 千克" if lang == "zh" else "10 kg") in row.inner_text()
    if device is PHONE:
        page.locator("[data-form=redeem]").scroll_into_view_if_needed()
        tab.shot("phone-citizen", full_page=False)  # the README's
    shot(tab, device, lang, "citizen", "3-redeemed")
    page.click("[data-table=redemptions] [data-link=verify]")
    page.wait_for_selector("[data-certificate]")
    assert username in page.inner_text("[data-certificate]")
    shot(tab, device, lang, "citizen", "4-certificate")


def operator_csv(citizen: str, run: str) -> tuple[str, int]:
    """520 valid bike trips (two chunks of at most 500), then a record sent again, an unknown
    citizen, a mode the licence does not cover, and one the browser refuses before sending."""
    start = datetime.now(UTC) - timedelta(hours=60)
    lines = ["username,mode,distance_km,started_at,ended_at,external_id"]
    for n in range(520):  # 1 km in 5 min (12 km/h), one every 6 min: no overlap, well inside 7 days
        begin = start + timedelta(minutes=6 * n)
        lines.append(f"{citizen},bike,1,{begin.isoformat()},{(begin + timedelta(minutes=5)).isoformat()},{run}-{n}")
    end = (start + timedelta(minutes=5)).isoformat()
    lines += [lines[1],
              f"nobody-{run},bus,5,{start.isoformat()},{end},{run}-unknown",
              f"{citizen},walk,1,{start.isoformat()},{end},{run}-walk",
              f"{citizen},car,5,{start.isoformat()},{end},{run}-car"]
    return "\n".join(lines) + "\n", 524


@JOURNEYS
def test_a_transit_operator_uploads_a_days_csv_and_downloads_the_rejections(console, gw, device, lang):
    grant, _ = accredit(gw, "transit_operator")
    citizen, _ = api_user(gw, "citizen")
    tab = tab_for(console, device, lang)
    page = tab.page
    tab.open("login")
    page.fill("[data-form=operator-login] [name=client_id]", grant["client_id"])
    page.fill("[data-form=operator-login] [name=client_secret]", grant["client_secret"])
    shot(tab, device, lang, "operator", "1-signin")
    page.click("[data-form=operator-login] button[type=submit]")
    page.wait_for_selector("[data-page=operator]")
    assert page.locator("nav a[data-route=operator]").inner_text() == SEES[lang]["operator"]
    assert page.locator("[data-table=columns] tbody tr").count() == 6  # the columns, documented
    shot(tab, device, lang, "operator", "2-page")

    text, records = operator_csv(citizen, uuid.uuid4().hex[:8])
    page.set_input_files("#operator-csv", files=[{"name": "day.csv", "mimeType": "text/csv",
                                                  "buffer": text.encode()}])
    page.click("[data-action=upload]")
    page.wait_for_selector("[data-stat=accepted]", timeout=60_000)
    assert page.inner_text("[data-stat=accepted] strong") == "520"
    assert page.inner_text("[data-stat=duplicates] strong") == "1"
    assert page.inner_text("[data-stat=rejected] strong") == "3"
    assert page.eval_on_selector("[data-progress=upload]", "p => p.value === p.max && p.max === 523")
    reasons = page.locator("[data-table=rejections] tbody tr").all_inner_texts()
    for code in ("unknown_citizen", "not_licensed", "bad_mode"):
        assert any(SEES[lang][code] in r for r in reasons), (code, reasons)
    assert [line.split("\t")[0] for line in reasons] == ["523", "524", "525"]  # the file's lines
    shot(tab, device, lang, "operator", "3-result")
    with page.expect_download() as saved:
        page.click("[data-action=download-rejections]")
    rows = list(csv.DictReader(io.StringIO(open(saved.value.path(), encoding="utf-8-sig").read())))
    assert [r["code"] for r in rows] == ["unknown_citizen", "not_licensed", "bad_mode"]
    assert "unknown citizen" in rows[0]["reason"] and rows[2]["mode"] == "car"
    assert records == len(text.splitlines()) - 1


@JOURNEYS
def test_an_enterprise_corrects_its_report_buys_credits_and_retires_them(console, gw, supplier, device, lang):
    username, firm = api_user(gw, "enterprise")
    name = f"南充炼化-{uuid.uuid4().hex[:4]}"
    listing = gw.post("/api/v1/listings", headers=supplier["headers"], json={"quantity": 20, "price_per_tonne": "60.00"})
    assert listing.status_code == 201, listing.text
    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(username, lands_on="enterprise")
    page.fill("[data-form=enterprise] [name=name]", name)
    page.fill("[data-form=enterprise] [name=uscc]", uscc())
    page.select_option("[data-form=enterprise] [name=county]", "高坪区")
    page.fill("[data-form=enterprise] [name=industry]", "石油化工")
    page.click("[data-form=enterprise] button[type=submit]")
    page.wait_for_selector("[data-form=report]")
    enterprise_id = page.get_attribute("[data-enterprise-current]", "data-enterprise-current")

    page.fill("[data-form=report] [name=period]", "2025")
    page.select_option("[data-form=report] [data-line='0'] [name=factor_code]", "fuel.diesel")
    page.fill("[data-form=report] [data-line='0'] [name=quantity]", "100")
    page.click("[data-form=report] [data-action=add-line]")
    page.select_option("[data-form=report] [data-line='1'] [name=factor_code]", "grid.sichuan.2023")
    page.fill("[data-form=report] [data-line='1'] [name=quantity]", "50000")
    page.click("[data-form=report] button[type=submit]")
    first = page.wait_for_selector("[data-result=report] [data-report]").get_attribute("data-report")
    assert "317.411" in page.inner_text("[data-result=report] [data-stat=total]")  # 309.591 + 7.82
    shot(tab, device, lang, "enterprise", "1-report")

    # The correction starts from revision 1's lines: only the electricity changes, 50,000 -> 100,000 kWh
    page.click(f"[data-report-id='{first}'] > summary")
    page.click(f"[data-correct='{first}'] > summary")
    correction = f"[data-form=revision][data-report='{first}']"
    assert page.input_value(f"{correction} [data-line='0'] [name=factor_code]") == "fuel.diesel"
    assert page.input_value(f"{correction} [data-line='1'] [name=quantity]") == "50000"
    page.fill(f"{correction} [data-line='1'] [name=quantity]", "100000")
    shot(tab, device, lang, "enterprise", "2-correction")
    page.click(f"{correction} button[type=submit]")
    page.wait_for_selector(f"[data-form=revision]:not([data-report='{first}'])", state="attached")
    current = page.get_attribute("[data-form=revision]", "data-report")
    # 309.591 t (diesel) + 100,000 kWh x 0.1564 kg/kWh (7.82 t for 50,000 kWh) = 309.591 + 15.64
    assert "325.231" in page.inner_text(f"[data-gross='{current}']")
    assert "317.411" in page.inner_text(f"[data-gross='{first}']")

    # A second browser shows the same enterprise and both revisions: nothing lives in one browser.
    other = tab_for(console, device, lang)
    other.login(username, lands_on="enterprise")
    other.page.wait_for_selector(f"[data-gross='{current}']")
    assert name in other.page.inner_text("[data-enterprise-current]")
    assert other.page.locator("[data-part=reports] details.report").count() == 2
    other.close()

    assert confirm_claims_of(gw, username) == [enterprise_id]
    page.reload()
    buy = f"[data-form=buy][data-listing='{listing.json()['id']}']"
    page.fill(f"{buy} [name=quantity]", "5")
    page.click(f"{buy} button[type=submit]")
    shown = page.wait_for_selector(f"[data-result=purchase] .ok, {buy} .form-error")
    assert "ok" in shown.get_attribute("class"), shown.inner_text()
    assert "300" in page.inner_text("[data-result=purchase]")  # 5 t x ¥60.00
    page.wait_for_selector("[data-holdings='5']")
    shot(tab, device, lang, "enterprise", "3-bought")

    # credits learns of the confirmed report through Kafka before it can be retired against
    eventually(lambda: gw.post("/api/v1/retirements", headers=firm, json={
        "quantity": 10**9, "beneficiary": "x", "purpose": "probe", "report_id": current}),
        lambda r: r.status_code == 409, what="ReportFiled in credits")
    page.select_option("[data-form=retire] [name=report_id]", current)
    page.fill("[data-form=retire] [name=quantity]", "5")
    page.click("[data-form=retire] button[type=submit]")
    page.wait_for_selector("[data-result=retirement] .ok")

    def net() -> str:
        page.reload()
        return page.wait_for_selector(f"[data-net='{current}']").inner_text()

    settle(net, lambda text: "320.231" in text, what="the report's net emissions")  # 325.231 - 5
    row = page.wait_for_selector("[data-table=certificates] tbody tr")
    assert name in row.inner_text() and "5" in row.inner_text()
    pdf = page.get_attribute("[data-table=certificates] [data-link=pdf]", "href")
    assert gw.get(pdf).content[:5] == b"%PDF-"
    shot(tab, device, lang, "enterprise", "4-retired")
    page.click("[data-table=certificates] [data-link=verify]")
    assert name in page.wait_for_selector("[data-certificate]").inner_text()


@JOURNEYS
def test_an_organizer_files_actuals_offsets_an_event_and_finds_it_from_another_browser(console, gw, supplier, device, lang):
    assert gw.post("/api/v1/listings", headers=supplier["headers"],
                   json={"quantity": 100, "price_per_tonne": "58.00"}).status_code == 201
    organizer, _ = api_user(gw, "organizer")
    name = f"嘉陵江半程马拉松-{uuid.uuid4().hex[:4]}"
    race_day = (date.today() - timedelta(days=3)).isoformat()  # over: its actual data can be filed
    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(organizer, lands_on="organizer")
    form = "[data-form=event]"
    page.fill(f"{form} [name=name]", name)
    page.fill(f"{form} [name=venue]", "南充市体育中心")
    page.fill(f"{form} [name=start_date]", race_day)
    page.fill(f"{form} [name=end_date]", race_day)
    page.fill(f"{form} [name=attendees]", "8000")
    page.fill(f"{form} [name=electricity_kwh]", "30000")
    page.fill(f"{form} [name=meals]", "5000")
    page.fill(f"{form} [name=travel_bus]", "100000")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-event] [data-chart=categories] rect")
    page.wait_for_selector(f"[data-table=events] >> text={name}")
    shot(tab, device, lang, "organizer", "1-plan")

    page.fill("[data-form=actuals] [name=electricity_kwh]", "36000")
    page.fill("[data-form=actuals] [name=meals]", "5200")
    page.fill("[data-form=actuals] [name=travel_bus]", "100000")
    page.click("[data-form=actuals] button[type=submit]")
    page.wait_for_selector("[data-event] [data-stat=final]")
    shot(tab, device, lang, "organizer", "2-actuals")
    page.click("[data-form=offset] button[type=submit]")
    page.wait_for_selector("[data-result=offset] .ok")
    assert page.inner_text("[data-stat=uncovered] strong") == "0"
    with page.expect_download() as download:
        page.click("[data-result=offset] [data-link=pdf]")
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"
    page.wait_for_selector("[data-table=certificates] tbody tr")
    shot(tab, device, lang, "organizer", "3-offset")

    other = tab_for(console, device, lang)
    other.login(organizer, lands_on="organizer")
    other.page.click(f"[data-table=events] a:text-is('{name}')")
    other.page.wait_for_selector("[data-event] .state-neutral")
    assert SEES[lang]["neutral"] in other.page.inner_text("[data-table=events]")
    shot(other, device, lang, "organizer", "4-second-browser")
    other.page.click("[data-table=certificates] [data-link=verify]")
    assert name in other.page.wait_for_selector("[data-certificate]").inner_text()


def xlsx_rows(path) -> list[list[str]]:
    """The cells of a one-sheet XLSX as text (openpyxl is not a dependency: the zip and XML are
    read directly, which also checks every part the format needs is there)."""
    with zipfile.ZipFile(path) as book:
        assert book.testzip() is None  # every entry's CRC-32 holds
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                "xl/worksheets/sheet1.xml"} <= set(book.namelist())
        ElementTree.fromstring(book.read("xl/workbook.xml"))
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    return [["".join(c.itertext()) for c in row.iter(f"{SHEET}c")] for row in sheet.iter(f"{SHEET}row")]


@JOURNEYS
def test_the_regulator_opens_on_the_latest_year_compares_targets_and_exports(console, gw, device, lang):
    year = str(datetime.now().year)
    username, firm = api_user(gw, "enterprise")
    name = f"营山建材-{uuid.uuid4().hex[:4]}"
    enterprise = gw.post("/api/v1/enterprises", headers=firm, json={
        "name": name, "uscc": uscc(), "county": "营山县", "industry": "建材"}).json()
    assert gw.post(f"/api/v1/enterprises/{enterprise['id']}/reports", headers=firm, json={
        "period": f"{year}-Q1", "activities": [{"factor_code": "fuel.diesel", "quantity": "10", "unit": "t"}],
    }).status_code == 201
    assert confirm_claims_of(gw, username) == [enterprise["id"]]
    regulator, password = OFFICIALS[str(gw.base_url).rstrip("/")]["regulator"]
    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(regulator, password, lands_on="regulator")
    page.wait_for_selector("[data-table=targets]")
    assert page.input_value("[data-form=period] [name=period]") == year  # the latest year with reports
    assert float(re.sub(r"[^\d.]", "", page.inner_text("[data-stat=emissions] strong"))) >= 30.959  # 10 t diesel
    measured = page.locator("[data-table=targets] [data-measured]").all_inner_texts()
    assert len(measured) == 7 and set(measured) == {SEES[lang]["cannot"]}  # 4 targets for 2025, 3 for 2030
    assert "GDP" in page.inner_text("[data-table=targets]")
    page.wait_for_selector(f"[data-table=disclosures] >> text={name}")
    shot(tab, device, lang, "regulator", "1-dashboard")

    def exported(which: str):
        with page.expect_download() as saved:
            page.click(f"[data-export={which}]")
        return saved.value.path()

    rows = list(csv.reader(io.StringIO(open(exported("disclosures-csv"), encoding="utf-8-sig").read())))
    assert any(name == r[0] and r[3] == f"{year}-Q1" for r in rows[1:]), rows[:3]
    # the whole year, as many rows as the pager says there are (the table shows one page)
    assert len(rows) - 1 == int(page.get_attribute("[data-part=disclosures-pager]", "data-disclosures-total"))
    sheet = xlsx_rows(exported("disclosures-xlsx"))
    assert sheet[0] == rows[0] and any(r[0] == name for r in sheet)
    stats = list(csv.reader(io.StringIO(open(exported("stats-csv"), encoding="utf-8-sig").read())))
    assert any(r[1] == "营山县" for r in stats)
    assert len(xlsx_rows(exported("stats-xlsx"))) == len(stats)
    shot(tab, device, lang, "regulator", "2-exported")
