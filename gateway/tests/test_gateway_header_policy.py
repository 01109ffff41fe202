"""Which security headers an answer gets: by path (console, docs, API) and by what it is (a PDF
is shown by the browser's viewer, which `default-src 'none'` would break); a service's own
header is never replaced."""
from __future__ import annotations


from tanhui_gateway.security_headers import API_CSP, CONSOLE_CSP, SecurityHeaders, docs_csp
from tanhui_shared.testing.coroutines import run_coroutine


def answer_headers(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers SecurityHeaders sends for an inner app answering `headers` on `path`."""
    sent: list[dict] = []

    async def inner(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    app = SecurityHeaders(inner, "default-src 'none'")
    run_coroutine(app({"type": "http", "path": path, "headers": []}, receive, send))
    names = [k for k, _ in sent[0]["headers"]]
    assert len(names) == len(set(names)), "a header sent twice"
    return {k.decode(): v.decode() for k, v in sent[0]["headers"]}


JSON = [(b"content-type", b"application/json")]


def test_api_answers():
    headers = answer_headers("/api/v1/holdings", JSON)
    assert headers["content-security-policy"] == API_CSP
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"


def test_a_pdf_keeps_its_viewer_working():
    headers = answer_headers("/api/v1/certificates/c-1/pdf", [(b"content-type", b"application/pdf")])
    assert "content-security-policy" not in headers and "x-frame-options" not in headers
    assert headers["x-content-type-options"] == "nosniff"


def test_a_services_own_headers_are_kept():
    headers = answer_headers("/.well-known/jwks.json",
                             [*JSON, (b"cache-control", b"max-age=60"),
                              (b"content-security-policy", b"sandbox")])
    assert headers["cache-control"] == "max-age=60" and headers["content-security-policy"] == "sandbox"


def test_console_and_docs():
    assert answer_headers("/console/js/app.js", [])["content-security-policy"] == CONSOLE_CSP
    assert answer_headers("/", [])["content-security-policy"] == CONSOLE_CSP
    assert answer_headers("/docs", [])["content-security-policy"] == "default-src 'none'"
    assert "cache-control" not in answer_headers("/console/", [])
    policy = docs_csp("<script src='x'></script><script>go()</script>")
    assert "'sha256-" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
