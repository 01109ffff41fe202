"""Security headers from a gateway process started as in production: the console's CSP (checked
in Chromium: the console runs under it, an injected inline script does not), Swagger UI's, and
the headers of every API answer."""
from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from test_console_support import browser  # noqa: F401 - one Chromium per test process
from test_gateway_support import start_gateway  # noqa: F401

CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"


@pytest.fixture(scope="module")
def gateway(start_gateway):
    return start_gateway()


def _common(reply: httpx.Response) -> None:
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-frame-options"] == "DENY"


def test_the_console_and_its_files_carry_its_policy(gateway):
    for path in ("/console/", "/console/js/app.js", "/console/css/app.css"):
        reply = httpx.get(gateway.url + path)
        assert reply.status_code == 200, path
        assert reply.headers["content-security-policy"] == CONSOLE_CSP, path
        _common(reply)
    home = httpx.get(gateway.url + "/")
    assert home.status_code == 307 and home.headers["content-security-policy"] == CONSOLE_CSP


def test_swagger_ui_gets_its_own_policy_with_its_start_up_script_by_hash(gateway):
    reply = httpx.get(gateway.url + "/docs")
    policy = dict(d.strip().split(" ", 1) for d in reply.headers["content-security-policy"].split(";"))
    inline = re.findall(r"<script>(.*?)</script>", reply.text, re.DOTALL)
    assert len(inline) == 1 and "SwaggerUIBundle" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'" and policy["style-src"] == "'self'"
    # nothing comes from another origin: Swagger UI's files are the gateway's own (no CDN, no
    # favicon, no validator badge)
    assert re.findall(r"https?://[^/\"']+", reply.text) == []
    assert "cdn.jsdelivr.net" not in reply.headers["content-security-policy"]
    _common(reply)


def test_api_answers_and_the_gateways_own_carry_the_api_headers(gateway):
    for path in ("/api/v1/factors", "/api/v1/no-such-thing", "/healthz", "/openapi.json"):
        reply = httpx.get(gateway.url + path, timeout=30)
        assert reply.headers["content-security-policy"] == API_CSP, path
        _common(reply)
    proxied = httpx.get(gateway.url + "/api/v1/factors")
    assert proxied.status_code == 503 and proxied.headers["cache-control"] == "no-store"


def test_chromium_runs_the_console_under_its_policy_and_refuses_an_injected_script(gateway, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script("window.__violations = [];"
                             "document.addEventListener('securitypolicyviolation', e =>"
                             " window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text))
        page.goto(gateway.url + "/console/#/login")
        page.wait_for_selector("[data-form=login]", timeout=20_000)
        assert page.evaluate("window.__violations") == []
        # what an XSS would do: a script element with inline code; the policy refuses to run it
        page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.__injected = true';
                                 document.body.append(s); }""")
        page.wait_for_function("window.__violations.length > 0", timeout=5_000)
        assert page.evaluate("window.__injected") is None
        assert page.evaluate("window.__violations")[0].startswith("script-src")
        assert any("Content Security Policy" in m for m in messages)
    finally:
        context.close()
