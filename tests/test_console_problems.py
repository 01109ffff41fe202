"""Problem types through the gateway, on the session's platform: the catalogue at /problems, the
merged OpenAPI's Problem schema, Swagger UI from the gateway's own files with the internet cut
off, and the console showing each API error in Chinese beside the field it is about."""
from __future__ import annotations

import re

import pytest

from e2e_support import PASSWORD, eventually, register_and_login
from tanhui_shared.web.problem_types import PROBLEM_TYPES
from test_console_support import SCREENSHOTS, browser, console, gw  # noqa: F401

pytestmark = pytest.mark.infra


def test_the_gateway_serves_the_catalogue_and_types_its_own_refusals(gw):
    listed = gw.get("/problems")
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/json"
    rows = {row["code"]: row for row in listed.json()}
    assert set(rows) == set(PROBLEM_TYPES)
    assert rows["insufficient-credits"]["title_zh"] == "这笔持有量中的碳汇不足。"
    one = gw.get("/problems/username-taken").json()
    assert (one["status"], one["type"], one["title_en"]) == (
        409, "/problems/username-taken", "This user name is already taken.")
    unknown = gw.get("/problems/no-such-code")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (unknown.json()["code"], unknown.json()["field"]) == ("unknown-problem-type", "code")
    # the gateway's own refusals are typed too: no route, no token
    for path, status, code in (("/api/v1/no-such-thing", 404, "no-route"),
                               ("/api/v1/me", 401, "token-required")):
        reply = gw.get(path)
        assert (reply.status_code, reply.json()["code"], reply.json()["type"]) == (
            status, code, f"/problems/{code}"), path


def test_every_operation_documents_its_errors_as_problems(gw):
    # a service slow to build its own document (a loaded machine) is left out, and asked again
    document = eventually(lambda: gw.get("/openapi.json").json(),
                          lambda doc: "x-missing-services" not in doc["info"], timeout_s=60,
                          what="every service's OpenAPI document")
    schema = document["components"]["schemas"]["Problem"]
    assert set(schema["properties"]["code"]["enum"]) == set(PROBLEM_TYPES)
    operations = [(path, method, op) for path, item in document["paths"].items()
                  for method, op in item.items()]
    assert len(operations) > 30
    for path, method, op in operations:
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        assert "500" in errors, (path, method)
        for status, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (path, method, status)
    assert document["paths"]["/problems/{code}"]["get"]["security"] == []


def test_swagger_ui_works_with_the_internet_cut_off(gw, browser):
    page_html = gw.get("/docs").text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page_html)
    assert urls and all(u.startswith("/") or u == "data:," for u in urls), urls
    for name, media in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")):
        asset = gw.get(f"/docs/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        assert len(asset.content) > 100_000
    assert gw.get("/docs/assets/core.py").status_code == 404  # only the two files

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        elsewhere: list[str] = []
        violations: list[str] = []

        def only_this_machine(route) -> None:
            if re.match(r"^https?://127\.0\.0\.1[:/]", route.request.url):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_this_machine)
        page.on("console", lambda m: violations.append(m.text) if m.type == "error" else None)
        page.goto(str(gw.base_url).rstrip("/") + "/docs")
        page.wait_for_selector(".opblock-tag-section", timeout=30_000)
        page.wait_for_selector("#operations-problems-gateway_problem_types")
        assert page.locator(".opblock").count() > 2
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "docs-offline.png")
        assert elsewhere == [] and violations == [], (elsewhere, violations)
    finally:
        context.close()


def test_the_console_shows_errors_in_chinese_beside_their_field(gw, console):
    user, _ = register_and_login(gw, "citizen")
    titles = {code: problem.title_zh for code, problem in PROBLEM_TYPES.items()}
    tab = console()  # Chinese: the console's default
    tab.expect_http_error(422)
    tab.login(user["username"], PASSWORD, lands_on="citizen")
    page = tab.page
    trip = "[data-form=trip]"
    page.click(f"{trip} button[type=submit]")  # the form's own example trip: accepted
    page.wait_for_selector("[data-result=trip] .ok")

    # validation: pydantic's kind and limit, worded in Chinese beside distance_km
    page.fill(f"{trip} [name=distance_km]", "0")
    page.click(f"{trip} button[type=submit]")
    slot = page.wait_for_selector(f"{trip} [data-field=distance_km].invalid .error")
    assert slot.inner_text() == "必须大于 0"
    page.wait_for_selector(f"{trip} .problem-title:text-is('{titles['invalid-request']}')")
    assert page.locator("[data-result=trip] .ok").count() == 0  # the older success is gone
    assert page.locator(f"{trip} .form-error details.problem-detail").count() == 1  # English folded

    # a rule of the domain naming its field: the catalogue's sentence beside started_at
    page.fill(f"{trip} [name=distance_km]", "5")
    page.fill(f"{trip} [name=started_at]", "2099-01-01T08:00")
    page.fill(f"{trip} [name=ended_at]", "2099-01-01T08:30")
    page.click(f"{trip} button[type=submit]")
    slot = page.wait_for_selector(f"{trip} [data-field=started_at].invalid .error")
    assert slot.inner_text() == titles["trip-not-credited"] == "这次出行无法获得积分。"
    assert page.locator(f"{trip} [data-field=distance_km].invalid").count() == 0
    box = page.inner_text(f"{trip} .form-error")
    assert box.startswith(titles["trip-not-credited"]) and "started_at is in the future" not in box
