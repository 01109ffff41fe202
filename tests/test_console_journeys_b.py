"""Issue 14, part B: the project developer's, verifier's, administrator's and the public
certificate check's whole journeys, clicked through in Chromium against the running platform:
each once in Chinese on a phone (390x844) and once in English on a desktop, with a screenshot at
each step in .var/screenshots/; and every console page at phone width in both languages, none of
which may scroll sideways. The assertions read what the user sees."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from e2e_support import OFFICIALS, PASSWORD, official_headers, register_and_login
from test_console_support import (DESKTOP, PHONE, api_user, browser, console, gw,  # noqa: F401
                                  issue_credits)

pytestmark = pytest.mark.infra

JOURNEYS = pytest.mark.parametrize("device,lang", [(PHONE, "zh"), (DESKTOP, "en")], ids=["phone-zh", "desktop-en"])
# What the user reads, per language (console/js/strings-journeys-b.js and i18n.js).
SEES = {
    "zh": {"withdrawn": "已撤回", "submitted": "待审", "cancelled": "已取消", "open": "在售",
           "edit_resubmit": "按意见修改后重新提交", "match": "一致", "mismatch": "不一致",
           "copied": "已复制", "changed": "密码已修改", "review": "项目审定", "changes": "要求修改"},
    "en": {"withdrawn": "withdrawn", "submitted": "submitted", "cancelled": "cancelled", "open": "open",
           "edit_resubmit": "Edit as asked, then resubmit", "match": "Match", "mismatch": "Mismatch",
           "copied": "Copied", "changed": "Password changed", "review": "Project review",
           "changes": "changes requested"},
}


def tab_for(console, device: dict, lang: str):
    tab = console(device)
    tab.context.add_init_script(f"localStorage.setItem('tanhui.lang', '{lang}')")
    return tab


def shot(tab, device: dict, lang: str, role: str, step: str) -> None:
    tab.shot(f"{'phone' if device is PHONE else 'desktop'}-{lang}-{role}-{step}")


def fits(tab) -> None:
    """Nothing pushes the page wider than the screen (tables scroll inside their own box)."""
    width = tab.page.viewport_size["width"]
    scroll = tab.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{tab.page.url} is {scroll}px wide on a {width}px screen"


def project_body(name: str) -> dict:
    return {"name": name, "kind": "afforestation", "county": "西充县", "area_ha": "120",
            "forest_rights_holder": "西充县国有林场",
            "forest_rights_certificate": f"川(2025)西充林权第{uuid.uuid4().hex[:8]}号",
            "crediting_start": "2021-01-01", "crediting_years": 30, "vegetation": "tree",
            "non_forest_since": "2012-01-01", "smallest_parcel_m2": "3000",
            "land_is_wetland": False, "burning_site_preparation": False, "documents": []}


@JOURNEYS
def test_a_developer_edits_resubmits_withdraws_and_lists_credits(console, gw, device, lang):
    seller = issue_credits(gw)  # a developer holding 1,000 credits of a registered project
    dev = seller["headers"]
    _, reviewer = register_and_login(gw, "verifier")
    pid = gw.post("/api/v1/projects", headers=dev, json=project_body("高坪区荒山造林")).json()["id"]
    assert gw.post(f"/api/v1/projects/{pid}/submit", headers=dev).status_code == 200
    asked = gw.post(f"/api/v1/projects/{pid}/reviews", headers=reviewer, json={
        "decision": "request_changes", "comments": "请补充地块边界坐标"})
    assert asked.status_code == 201, asked.text
    spare = gw.post("/api/v1/projects", headers=dev, json=project_body("备用地块")).json()["id"]
    sees = SEES[lang]

    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(seller["username"], lands_on="developer")
    page.wait_for_selector(f"[data-next='{pid}']")
    assert page.inner_text(f"[data-next='{pid}']") == sees["edit_resubmit"]
    fits(tab)
    shot(tab, device, lang, "developer", "1-my-projects")

    page.click(f"[data-open='{pid}']")
    page.wait_for_selector(f"[data-asked='{pid}'] >> text=请补充地块边界坐标")
    edit = "[data-form=edit-project]"
    assert page.input_value(f"{edit} [name=name]") == "高坪区荒山造林"  # prefilled from the project
    assert page.input_value(f"{edit} [name=area_ha]") in ("120", "120.00", "120.0")
    page.fill(f"{edit} [name=area_ha]", "132.5")
    page.fill(f"{edit} [name=description]", "补充了地块边界坐标")
    shot(tab, device, lang, "developer", "2-edit")
    page.click(f"{edit} button[type=submit]")
    page.wait_for_selector(f"[data-project='{pid}'] >> text=132.5 ha")
    page.click("[data-form=submit-project] button")
    page.wait_for_selector(f"[data-project='{pid}'][data-state=submitted]")
    assert gw.get(f"/api/v1/projects/{pid}", headers=dev).json()["area_ha"] in ("132.5", "132.50")
    shot(tab, device, lang, "developer", "3-resubmitted")

    page.click(f"[data-open='{spare}']")
    page.wait_for_selector(f"[data-project='{spare}'][data-state=draft]")
    page.click(f"[data-project='{spare}'] [data-action=withdraw]")
    page.wait_for_selector("[data-form=withdraw] .warn >> text=备用地块")
    shot(tab, device, lang, "developer", "4-withdraw-confirm")
    page.click("[data-form=withdraw] button[type=submit]")
    page.wait_for_selector(f"[data-project='{spare}'][data-state=withdrawn]")
    assert sees["withdrawn"] in page.inner_text(f"[data-table=projects] tr:has([data-open='{spare}'])")
    assert page.locator(f"[data-project='{spare}'] [data-action=withdraw]").count() == 0

    page.fill("[data-form=listing] [name=quantity]", "100")
    page.fill("[data-form=listing] [name=price_per_tonne]", "58")
    page.click("[data-form=listing] button[type=submit]")
    page.wait_for_selector("[data-available='900']")  # 100 of the 1,000 held reserved by the listing
    row = "[data-table=listings] tbody tr"
    page.wait_for_selector(f"{row} .state-open")
    assert sees["open"] in page.inner_text(row)
    shot(tab, device, lang, "developer", "5-listed")
    page.click(f"{row} [data-cancel] button")
    page.wait_for_selector(f"{row} .state-cancelled")
    page.wait_for_selector("[data-available='1000']")  # what was left is available again
    assert sees["cancelled"] in page.inner_text(row)
    fits(tab)
    shot(tab, device, lang, "developer", "6-cancelled")


@JOURNEYS
def test_a_verifier_decides_and_finds_past_decisions(console, gw, device, lang):
    developer, dev = api_user(gw, "project_developer")
    verifier, _ = register_and_login(gw, "verifier")
    name = f"嘉陵区护林造林 {uuid.uuid4().hex[:4]}"
    pid = gw.post("/api/v1/projects", headers=dev, json=project_body(name)).json()["id"]
    assert gw.post(f"/api/v1/projects/{pid}/submit", headers=dev).status_code == 200
    sees = SEES[lang]

    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(verifier["username"], lands_on="verifier")
    item = f"[data-review='{pid}']"
    page.wait_for_selector(item)
    shot(tab, device, lang, "verifier", "1-queue")
    page.fill(f"{item} [name=comments]", "请补充地块边界坐标")
    page.click(f"{item} [data-decision=request_changes]")
    page.wait_for_selector("[data-result=decision] .ok")
    decisions = "[data-table=decisions] tbody tr"
    page.wait_for_selector(f"{decisions} [data-project-link='{pid}']")
    row = page.inner_text(f"{decisions}:has([data-project-link='{pid}'])")
    assert sees["review"] in row and "请补充地块边界坐标" in row and sees["changes"] in row
    fits(tab)
    shot(tab, device, lang, "verifier", "2-decisions")

    page.select_option("[data-filter=kind]", "verification")
    page.wait_for_selector("[data-part=decisions] .empty")
    page.select_option("[data-filter=kind]", "review")
    page.wait_for_selector(f"{decisions} [data-project-link='{pid}']")
    page.click(f"[data-project-link='{pid}']")
    page.wait_for_selector(f"[data-part=project] [data-project='{pid}'] [data-step=changes_requested]")
    assert name in page.inner_text("[data-part=project]")
    shot(tab, device, lang, "verifier", "3-project")


@JOURNEYS
def test_an_administrator_licenses_an_operator_and_finds_users(console, gw, device, lang):
    admin_name = OFFICIALS[str(gw.base_url).rstrip("/")]["admin"][0]
    sees = SEES[lang]
    tab = tab_for(console, device, lang)
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=str(gw.base_url).rstrip("/"))
    page = tab.page
    tab.login(admin_name, lands_on="admin")
    username = f"bus-{uuid.uuid4().hex[:8]}"
    grant = "[data-form=grant]"
    page.select_option(f"{grant} [name=role]", "transit_operator")
    page.fill(f"{grant} [name=username]", username)
    page.fill(f"{grant} [name=organisation]", "南充公交集团")
    page.fill(f"{grant} [name=number]", f"NC-BUS-{uuid.uuid4().hex[:6]}")
    page.check(f"{grant} input[name=mode][value=bus]")
    page.click(f"{grant} button[type=submit]")
    page.wait_for_selector("[data-result=secret] dd code")
    secret = page.locator("[data-result=secret] dd code").last.inner_text()
    page.locator("[data-result=secret] [data-action=copy]").last.click()
    page.wait_for_selector(f"[data-result=secret] [data-action=copy] >> text={sees['copied']}")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot(tab, device, lang, "admin", "1-secret-shown-once")

    grant_row = f"[data-table=accreditations] tr:has-text('{username}')"
    page.click(f"{grant_row} [data-rotate] button")
    from playwright.sync_api import expect  # as test_console_support: only where a browser runs

    expect(page.locator("[data-result=secret] dd code").last).not_to_have_text(secret)
    rotated = page.locator("[data-result=secret] dd code").last.inner_text()
    assert rotated and rotated != secret

    page.select_option("[data-form=users] [name=role]", "transit_operator")
    page.fill("[data-form=users] [name=q]", username)
    page.click("[data-form=users] button[type=submit]")
    page.wait_for_selector("[data-users-total='1']")
    assert username in page.inner_text("[data-table=users]")
    shot(tab, device, lang, "admin", "2-users")

    page.fill(f"{grant_row} [name=reason]", "许可到期未续")
    page.click(f"{grant_row} [data-revoke] button")
    page.wait_for_selector(f"{grant_row} .state-revoked")
    fits(tab)
    shot(tab, device, lang, "admin", "3-revoked")


@JOURNEYS
def test_anyone_recomputes_a_certificates_hash_from_its_qr_link(console, gw, device, lang):
    holder = issue_credits(gw, verified="100")
    retired = gw.post("/api/v1/retirements", headers=holder["headers"], json={
        "quantity": 5, "beneficiary": "南充市嘉陵江马拉松组委会", "purpose": "2026 马拉松碳中和"})
    assert retired.status_code == 201, retired.text
    certificate = retired.json()["certificate_id"]
    public = gw.get(f"/api/v1/certificates/{certificate}").json()
    sees = SEES[lang]

    tab = tab_for(console, device, lang)  # logged out, opened straight from the QR code's URL
    page = tab.page
    tab.open(f"verify/{certificate}")
    page.wait_for_selector(f"[data-certificate='{certificate}'] [data-recipe]")
    card = page.inner_text("[data-certificate]")
    assert "南充市嘉陵江马拉松组委会" in card and public["content_hash"] in card
    assert page.inner_text("[data-recipe]") == public["hash_recipe"]
    pdf = page.get_attribute("[data-link=pdf]", "href")
    assert gw.get(pdf).content[:5] == b"%PDF-"
    page.click("[data-form=recompute] button[type=submit]")
    page.wait_for_selector("[data-match=match]")
    assert page.inner_text("[data-computed]") == public["content_hash"]
    assert sees["match"] in page.inner_text("[data-result=recompute]")
    fits(tab)
    shot(tab, device, lang, "public", "1-match")

    shown = json.loads(page.input_value("[data-json=certified]"))
    shown["quantity"] = 50  # a forged quantity no longer hashes to the registered hash
    page.fill("[data-json=certified]", json.dumps(shown, ensure_ascii=False, indent=2))
    page.click("[data-form=recompute] button[type=submit]")
    page.wait_for_selector("[data-match=mismatch]")
    assert sees["mismatch"] in page.inner_text("[data-result=recompute]")
    shot(tab, device, lang, "public", "2-mismatch")


@JOURNEYS
def test_anyone_signed_in_changes_their_password_from_the_top_bar(console, gw, device, lang):
    username, _ = api_user(gw, "project_developer")
    tab = tab_for(console, device, lang)
    page = tab.page
    tab.login(username, lands_on="developer")
    page.click("#top [data-link=password]")  # a labelled link, not only the username
    form = "[data-form=password]"
    page.fill(f"{form} [name=current_password]", PASSWORD)
    page.fill(f"{form} [name=new_password]", "a quite different passphrase")
    page.fill(f"{form} [name=repeat]", "a quite different passphrase")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"[data-result=password] >> text={SEES[lang]['changed']}")
    fits(tab)
    shot(tab, device, lang, "password", "1-changed")
    page.click("[data-action=logout]")
    tab.login(username, "a quite different passphrase", lands_on="developer")


# Each role's page (the console's HOME in app.js) and the pages anyone opens.
HOMES = {"citizen": "citizen", "enterprise": "enterprise", "project_developer": "developer",
         "verifier": "verifier", "organizer": "organizer", "transit_operator": "operator",
         "regulator": "regulator", "admin": "admin"}
PUBLIC = ["login", "register", "registry", "verify", "accreditations", "methodology"]
# The English value of every console string whose two languages differ and which is a phrase
# (two words or more: a single English word may be part of the API's own data, e.g. a cited
# source's title): on a Chinese page none of them may show.
ENGLISH_LEFT = """async () => {
  const i18n = await import("./js/i18n.js");
  const zh = Object.fromEntries(i18n.allKeys().map((k) => [k, i18n.t(k)]));
  i18n.setLang("en");
  const en = i18n.allKeys().map((k) => [k, i18n.t(k)]).filter(([k, v]) => v !== zh[k] && /[A-Za-z]{3,} [A-Za-z]{2,}/.test(v)
    && !/[{}]/.test(v));
  i18n.setLang("zh");
  const text = document.body.innerText;
  return en.filter(([, v]) => text.includes(v)).map(([k, v]) => `${k}: ${v}`);
}"""


def signed_in(gw, role: str) -> tuple[str, dict]:
    """(token, /me) of a new user of `role` (the officials are the platform's own)."""
    if role in ("regulator", "admin"):
        headers = official_headers(gw, role)
    elif role in ("verifier", "transit_operator"):
        _, headers = register_and_login(gw, role)
    else:
        _, headers = api_user(gw, role)
    me = gw.get("/api/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    return headers["Authorization"].removeprefix("Bearer "), me.json()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_console_page_scrolls_sideways_on_a_phone(console, gw, lang):
    pages = [(None, route) for route in PUBLIC]
    users = {role: signed_in(gw, role) for role in HOMES}
    for role, home in HOMES.items():
        pages += [(users[role], home), (users[role], "password")]
    # three trips of today for the regulator's "green trips by mode" chart to draw bars
    now = datetime.now(UTC).replace(microsecond=0)
    fed = gw.post("/api/v1/trips/batch", headers={"Authorization": f"Bearer {users['transit_operator'][0]}"},
                  json={"trips": [{"username": users["citizen"][1]["username"], "mode": mode, "distance_km": "5",
                                   "started_at": (now - timedelta(hours=n + 2)).isoformat(),
                                   "ended_at": (now - timedelta(hours=n + 1, minutes=30)).isoformat(),
                                   "external_id": uuid.uuid4().hex} for n, mode in enumerate(["metro", "bus", "bike"])]})
    assert fed.status_code == 200 and fed.json()["accepted"] == 3, fed.text
    wide, english, small = [], [], []
    # one tab per user (a context costs more than a page load); each route is loaded afresh
    by_user: dict = {}
    for user, route in pages:
        by_user.setdefault(user[1]["username"] if user else None, (user, []))[1].append(route)
    for user, routes in by_user.values():
        tab = tab_for(console, PHONE, lang)
        if user:  # the session the login page would save (api.js auth.save)
            token, me = user
            tab.context.add_init_script(f"sessionStorage.setItem('tanhui.token', {json.dumps(token)});"
                                        f"sessionStorage.setItem('tanhui.me', {json.dumps(json.dumps(me))});")
        for route in routes:
            tab.open(route)
            tab.page.reload()  # a hash change alone would not wait for the page's requests below
            tab.page.wait_for_selector(f"[data-page={route}]")
            tab.page.wait_for_load_state("networkidle")
            who = user[1]["role"] if user else "anyone"
            if (width := tab.page.evaluate("document.documentElement.scrollWidth")) > 390:
                wide.append(f"{who} #/{route}: {width}px")
            # chart labels keep a legible size at phone width (the page's text, not a scaled SVG)
            smallest = tab.page.evaluate("""Math.min(Infinity, ...[...document.querySelectorAll(
                '[data-chart] .chart-label, [data-chart] .chart-value')].map((e) => parseFloat(getComputedStyle(e).fontSize)))""")
            if smallest < 11:
                small.append(f"{who} #/{route}: {smallest}px")
            if lang == "zh":
                english += [f"{who} #/{route} {s}" for s in tab.page.evaluate(ENGLISH_LEFT)]
            tab.shot(f"phone-{lang}-layout-{who}-{route}", full_page=False)  # width is asserted above
        tab.close()
    assert wide == [], "pages wider than a 390px phone:\n" + "\n".join(wide)
    assert small == [], "chart text under 11px on a phone:\n" + "\n".join(small)
    assert english == [], "English strings on Chinese pages:\n" + "\n".join(english)
