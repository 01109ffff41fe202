"""The web console, clicked through in Chromium against the running platform: the project
developer's flow. (The citizen's, enterprise's and organizer's journeys are in
test_console_journeys_a.py.)"""
from __future__ import annotations

import uuid

import pytest

from test_console_support import api_user, browser, console, gw, settle  # noqa: F401

pytestmark = pytest.mark.infra


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
