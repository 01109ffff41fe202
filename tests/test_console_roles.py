"""The web console, clicked through in Chromium against the running platform: each signed-in
role's main flow (citizen on a phone-sized screen, the others on a desktop)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from e2e_support import PASSWORD, confirm_claims_of, eventually
from test_console_support import (PHONE, api_user, browser, console, gw, issue_credits,  # noqa: F401
                                  settle, uscc)

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def supplier(gw):
    """A developer holding 1,000 issued credits: the pool, the enterprise and the market's source."""
    return issue_credits(gw)


def past_days_of_trips(username: str, days: int) -> list[dict]:
    """A transit operator's feed that fills the 1,000-point daily cap on each of `days` past days."""
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days + 1)
    trips = []
    for day in range(days):
        for n, mode in enumerate(["metro"] * 12 + ["bus"] * 12 + ["bike"] * 6):
            begin = first + timedelta(days=day, minutes=30 * n)
            trips.append({"username": username, "mode": mode, "distance_km": "10",
                          "started_at": begin.isoformat(),
                          "ended_at": (begin + timedelta(minutes=29)).isoformat(),
                          "external_id": f"{username}-{day}-{n}"})
    return trips


def test_a_citizen_registers_records_a_trip_and_redeems_points_on_a_phone(console, gw, supplier):
    tab = console(PHONE)
    page = tab.page
    username = f"citizen-{uuid.uuid4().hex[:8]}"
    tab.open("register")
    page.fill("[data-form=register] [name=username]", username)
    page.fill("[data-form=register] [name=password]", PASSWORD)
    page.select_option("[data-form=register] [name=role]", "citizen")
    page.click("[data-form=register] button[type=submit]")
    page.wait_for_selector("[data-page=citizen] [data-stat=balance]")

    page.select_option("[data-form=trip] [name=mode]", "metro")
    page.fill("[data-form=trip] [name=distance_km]", "8.5")
    page.click("[data-form=trip] button[type=submit]")
    page.wait_for_selector("[data-result=trip] .ok")
    assert "39" in page.inner_text("[data-result=trip]")  # 8.5 km x 46.7 g = 396.9 g -> 39 points
    page.wait_for_selector("[data-table=ledger] tbody tr")

    # A hundred past days of commuting arrive through the transit operator's batch feed, and the
    # city's inclusion pool gets credits to pay redemptions with.
    _, operator = api_user(gw, "transit_operator")
    fed = gw.post("/api/v1/trips/batch", headers=operator, json={"trips": past_days_of_trips(username, 100)})
    assert fed.json()["points_awarded"] == 100_000, fed.text
    assert gw.post("/api/v1/transfers", headers=supplier["headers"],
                   json={"to_username": "city-inclusion-pool", "quantity": 2}).status_code == 201
    page.reload()
    page.wait_for_selector("[data-stat=available] strong:text-is('100,039')")

    page.fill("[data-form=redeem] [name=points]", "1500")  # not whole 10 kg units: refused in place
    page.click("[data-form=redeem] button[type=submit]")
    page.wait_for_selector("[data-form=redeem] [data-field=points].invalid .error >> text=1,000")
    page.fill("[data-form=redeem] [name=points]", "100000")  # 1,000 kg: a whole pooled tonne
    page.click("[data-form=redeem] button[type=submit]")
    page.wait_for_selector("[data-result=redemption] .state-completed", timeout=60_000)
    page.wait_for_selector("[data-stat=available] strong:text-is('39')")
    page.locator("[data-form=redeem]").scroll_into_view_if_needed()
    tab.shot("phone-citizen", full_page=False)

    page.click("[data-result=redemption] [data-link=certificate]")
    page.wait_for_selector("[data-certificate]")
    assert username in page.inner_text("[data-certificate]")


def test_an_enterprise_registers_files_a_report_and_retires_credits_against_it(console, gw, supplier):
    username, firm = api_user(gw, "enterprise")
    tab = console()
    page = tab.page
    tab.login(username, lands_on="enterprise")
    tab.expect_http_error(422)
    page.fill("[data-form=enterprise] [name=name]", "南充炼化有限公司")
    page.fill("[data-form=enterprise] [name=uscc]", "91511300MA62X0000")  # 17 characters
    page.select_option("[data-form=enterprise] [name=county]", "高坪区")
    page.fill("[data-form=enterprise] [name=industry]", "石油化工")
    page.click("[data-form=enterprise] button[type=submit]")
    assert "18" in page.inner_text("[data-form=enterprise] [data-field=uscc].invalid .error")
    assert page.inner_text("[data-form=enterprise] .form-error").startswith("输入有误")
    page.fill("[data-form=enterprise] [name=uscc]", uscc())
    page.click("[data-form=enterprise] button[type=submit]")

    page.wait_for_selector("[data-form=report]")
    page.fill("[data-form=report] [name=period]", "2025")
    page.select_option("[data-line='0'] [name=factor_code]", "fuel.diesel")
    page.fill("[data-line='0'] [name=quantity]", "100")
    page.click("[data-action=add-line]")
    page.select_option("[data-line='1'] [name=factor_code]", "grid.sichuan.2023")
    assert page.input_value("[data-line='1'] [name=unit]") == "kWh"
    page.fill("[data-line='1'] [name=quantity]", "50000")
    page.click("[data-form=report] button[type=submit]")
    result = page.wait_for_selector("[data-result=report] [data-report]")
    report_id = result.get_attribute("data-report")
    assert "317.411" in page.inner_text("[data-result=report] [data-stat=total]")  # 309.591 + 7.82
    derivations = page.locator("[data-result=report] .derivation").all_inner_texts()
    assert len(derivations) == 2 and all(d.strip() for d in derivations)
    page.wait_for_selector(f"[data-part=reports] [data-report-id='{report_id}']")

    # the regulator confirms the enterprise's credit code: its reports then reach credits
    assert len(confirm_claims_of(gw, username)) == 1
    assert gw.post("/api/v1/transfers", headers=supplier["headers"],
                   json={"to_username": username, "quantity": 50}).status_code == 201
    # credits learns of the report through Kafka: an oversized probe is 409 once it has, 404 before.
    eventually(lambda: gw.post("/api/v1/retirements", headers=firm, json={
        "quantity": 10**9, "beneficiary": "x", "purpose": "probe", "report_id": report_id}),
        lambda r: r.status_code == 409, what="ReportFiled in credits")
    page.reload()
    page.wait_for_selector("[data-holdings='50']")
    page.fill("[data-form=retire] [name=quantity]", "50")
    page.click("[data-form=retire] button[type=submit]")
    page.wait_for_selector("[data-result=retirement] .ok")
    def net() -> str:
        page.reload()
        return page.wait_for_selector(f"[data-net='{report_id}']").inner_text()

    settle(net, lambda text: "267.411" in text, what="the report's net emissions")
    # gross stays the inventory's 317.411 beside the 50 t retired, each retirement with its revision
    assert "317.411" in page.inner_text(f"[data-gross='{report_id}']")
    assert "50" in page.inner_text(f"[data-retired='{report_id}']")
    assert "r1" in page.text_content(f"[data-retirements='{report_id}'] [data-table=retirements]")
    tab.shot("desktop-enterprise")


def test_a_project_goes_from_filing_through_review_and_verification_to_issued_credits(console, gw):
    developer, dev_api = api_user(gw, "project_developer")
    reviewer, _ = api_user(gw, "verifier")
    auditor, _ = api_user(gw, "verifier")
    dev = console()
    dev.login(developer, lands_on="developer")
    page = dev.page
    page.fill("[data-form=project] [name=name]", "嘉陵江生态走廊造林")
    page.select_option("[data-form=project] [name=kind]", "afforestation")
    page.select_option("[data-form=project] [name=county]", "嘉陵区")
    page.fill("[data-form=project] [name=area_ha]", "820.5")
    page.fill("[data-form=project] [name=forest_rights_holder]", "嘉陵区林业合作社")
    page.fill("[data-form=project] [name=forest_rights_certificate]", f"川(2024)嘉陵林权第{uuid.uuid4().hex[:8]}号")
    # CCER-14-001-V01 land eligibility (issue 13): declared by the developer, no defaults
    page.fill("[data-form=project] [name=non_forest_since]", "2015-01-01")
    page.fill("[data-form=project] [name=smallest_parcel_m2]", "2500")
    page.select_option("[data-form=project] [name=land_is_wetland]", "false")
    page.select_option("[data-form=project] [name=burning_site_preparation]", "false")
    page.click("[data-form=project] button[type=submit]")
    project_id = page.wait_for_selector("[data-project][data-state=draft]").get_attribute("data-project")
    page.click("[data-form=submit-project] button")
    page.wait_for_selector(f"[data-project='{project_id}'][data-state=submitted]")

    review = console()
    review.login(reviewer, lands_on="verifier")
    item = f"[data-review='{project_id}']"
    review.page.fill(f"{item} [name=comments]", "设计合理，边界清晰")
    review.page.fill(f"{item} [name=buffer_pct]", "20")
    review.page.click(f"{item} [data-decision=approve]")
    review.page.wait_for_selector("[data-result=decision] .ok")

    dev.open(f"developer/{project_id}")
    page.reload()
    form = "[data-form=monitoring]"
    page.fill(f"{form} [name=period_start]", "2024-01-01")
    page.fill(f"{form} [name=period_end]", "2024-12-31")
    page.fill(f"{form} [name=project_sink_tco2e]", "900")
    page.fill(f"{form} [name=baseline_sink_tco2e]", "100")
    page.fill(f"{form} [name=leakage_tco2e]", "50")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-table=monitoring] .state-submitted")
    report_id = gw.get(f"/api/v1/projects/{project_id}", headers=dev_api).json()["monitoring_reports"][0]["id"]

    audit = console()
    audit.login(auditor, lands_on="verifier")
    audit.page.fill(f"[data-verify='{report_id}'] [name=verified_tco2e]", "750")
    audit.page.click(f"[data-verify='{report_id}'] [data-decision=verified]")
    audit.page.wait_for_selector("[data-result=decision] .ok")

    def issued() -> bool:
        page.reload()
        page.wait_for_selector(f"[data-timeline='{project_id}']")
        return page.locator("[data-step=credits_issued]").count() == 1

    settle(issued, bool, what="credits_issued on the timeline")
    page.wait_for_selector("[data-total='600']")  # floor(750 x 0.8) to the developer
    assert page.locator("[data-table=holdings] code").inner_text().endswith("-000000600")
    dev.shot("desktop-developer")


def test_an_organizer_offsets_a_large_event_and_gets_a_verifiable_certificate(console, gw, supplier):
    listed = gw.post("/api/v1/listings", headers=supplier["headers"],
                     json={"quantity": 300, "price_per_tonne": "58.00"})
    assert listed.status_code == 201, listed.text
    organizer, _ = api_user(gw, "organizer")
    tab = console()
    page = tab.page
    tab.login(organizer, lands_on="organizer")
    form = "[data-form=event]"
    page.fill(f"{form} [name=name]", "2026 南充嘉陵江马拉松")
    page.fill(f"{form} [name=venue]", "南充市体育中心")
    page.fill(f"{form} [name=attendees]", "30000")
    page.fill(f"{form} [name=electricity_kwh]", "120000")
    page.fill(f"{form} [name=meals]", "20000")
    page.fill(f"{form} [name=waste_kg]", "8000")
    page.fill(f"{form} [name=travel_bus]", "400000")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-event] [data-chart=categories] rect")
    assert page.locator("[data-chart=categories] rect").count() >= 3
    page.click("[data-form=offset] button[type=submit]")
    page.wait_for_selector("[data-result=offset] .ok")
    tab.shot("desktop-organizer")
    with page.expect_download() as download:
        page.click("[data-result=offset] [data-link=pdf]")
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"
    page.click("[data-result=offset] [data-link=certificate]")
    certificate = page.wait_for_selector("[data-certificate]").get_attribute("data-certificate")
    assert "2026 南充嘉陵江马拉松" in page.inner_text("[data-certificate]")
    assert gw.get(f"/api/v1/certificates/{certificate}").json()["event_id"]
