"""Browser-test support for the web console: one Chromium for the session, a fresh context per
flow, the browser log collected, screenshots under .var/screenshots/, and API seeding helpers.

(No tests here; the flows are in test_console_roles.py, test_console_journeys_a.py and
test_console_public.py.)
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from e2e_support import PASSWORD, eventually, register_and_login
from tanhui_shared.settings import REPO_ROOT

SCREENSHOTS = REPO_ROOT / ".var" / "screenshots"
README_SHOTS = {"phone-citizen", "desktop-developer", "desktop-regulator"}  # `make console-shots`
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHINA = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, **CHINA}
DESKTOP = {"viewport": {"width": 1280, "height": 860}, **CHINA}


_chromium: list = []  # one browser per test process, however many modules import the fixture


@pytest.fixture(scope="session")
def browser(request):
    """Chromium, shared by every console test module (pytest would make one per importing module,
    and a second Playwright cannot start inside the first one's event loop)."""
    if not _chromium:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        # launch() gives the browser a fresh temporary profile (user-data dir) of its own.
        _chromium.append(playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                    headless=True, args=CHROMIUM_ARGS))

        def stop() -> None:
            _chromium.pop().close()
            playwright.stop()

        request.addfinalizer(stop)
    return _chromium[0]


class Console:
    """One user's browser tab on the console, with everything the browser logged as an error."""

    def __init__(self, browser, gateway_url: str, device: dict | None = None) -> None:
        self.base = gateway_url + "/console/"
        self.context = browser.new_context(accept_downloads=True, **(device or DESKTOP))
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.expected: list[re.Pattern] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        if any(p.search(message.text) for p in self.expected):
            return
        self.errors.append(f"console: {message.text}")

    def expect_http_error(self, status: int) -> None:
        """A failed request the flow provokes on purpose (Chromium logs each one as an error)."""
        self.expected.append(re.compile(rf"status of {status} "))

    def open(self, route: str = "") -> None:
        self.page.goto(self.base + "#/" + route)

    def login(self, username: str, password: str = PASSWORD, lands_on: str | None = None) -> None:
        self.open("login")
        self.page.fill("[data-form=login] [name=username]", username)
        self.page.fill("[data-form=login] [name=password]", password)
        self.page.click("[data-form=login] button[type=submit]")
        if lands_on:
            self.page.wait_for_selector(f"[data-page={lands_on}]")

    def shot(self, name: str, full_page: bool = True) -> Path:
        """A screenshot as a test artifact; the README's are copied to TANHUI_CONSOLE_SHOTS if set."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if full_page:
            self.page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top
        self.page.screenshot(path=path, full_page=full_page)
        if (target := os.environ.get("TANHUI_CONSOLE_SHOTS")) and name in README_SHOTS:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
        return path

    def close(self) -> None:
        self.context.close()

    def assert_clean(self) -> None:
        assert self.errors == [], "the browser logged errors:\n" + "\n".join(self.errors)


@pytest.fixture
def console(browser, platform):
    """Console tabs for this test (several users may act in one flow); checked for errors after."""
    opened: list[Console] = []

    def open_tab(device: dict | None = None) -> Console:
        tab = Console(browser, platform.gateway_url, device)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()
    for tab in opened:
        tab.assert_clean()


@pytest.fixture(scope="module")
def gw(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        yield client


def settle(attempt, ok, timeout_s: float = 30, what: str = "the expected page"):
    """Like eventually(), for page reloads: once a second, to stay far below the rate limits."""
    deadline = time.monotonic() + timeout_s
    while not ok(result := attempt()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout_s:.0f}s; last: {result!r}")
        time.sleep(1)
    return result


def api_user(gw: httpx.Client, role: str) -> tuple[str, dict]:
    """A registered user: (username, Authorization headers), once its holding account is open."""
    user, headers = register_and_login(gw, role)
    eventually(lambda: gw.get("/api/v1/holdings", headers=headers),
               lambda r: r.status_code == 200, what="the holding account")
    return user["username"], headers


def uscc() -> str:
    """A fresh, valid unified social credit code (Nanchong region 511300)."""
    from tanhui_accounts.domain.uscc import ALPHABET, check_character

    digits = uuid.uuid4().int
    body = "91511300" + "".join(ALPHABET[(digits >> (5 * i)) % 31] for i in range(9))
    return body + check_character(body)


def issue_credits(gw: httpx.Client, verified: str = "1250.25") -> dict:
    """A forestry project from filing to credits held by its developer, through the API."""
    developer, dev = api_user(gw, "project_developer")
    _, reviewer = register_and_login(gw, "verifier")
    _, auditor = register_and_login(gw, "verifier")
    pid = gw.post("/api/v1/projects", headers=dev, json={
        "name": "西充县退耕还林碳汇", "kind": "afforestation", "county": "西充县", "area_ha": "640",
        "forest_rights_holder": "西充县国有林场",
        "forest_rights_certificate": f"川(2023)西充林权第{uuid.uuid4().hex[:8]}号",
        "crediting_start": "2020-01-01", "crediting_years": 30,
        # CCER-14-001-V01 land eligibility (issue 13)
        "vegetation": "tree", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False}).json()["id"]
    assert gw.post(f"/api/v1/projects/{pid}/submit", headers=dev).status_code == 200
    assert gw.post(f"/api/v1/projects/{pid}/reviews", headers=reviewer, json={
        "decision": "approve", "buffer_pct": "20"}).status_code == 201
    rid = gw.post(f"/api/v1/projects/{pid}/monitoring-reports", headers=dev, json={
        "period_start": "2023-01-01", "period_end": "2023-12-31", "project_sink_tco2e": "1500.5",
        "baseline_sink_tco2e": "200", "leakage_tco2e": "50.25"}).json()["id"]
    assert gw.post(f"/api/v1/monitoring-reports/{rid}/verifications", headers=auditor, json={
        "decision": "verified", "verified_tco2e": verified}).status_code == 201
    eventually(lambda: gw.get("/api/v1/holdings", headers=dev),
               lambda r: r.json()["total"] > 0, what="credits issued to the developer")
    return {"username": developer, "headers": dev, "project_id": pid}
