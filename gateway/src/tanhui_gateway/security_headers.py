"""Security headers on every answer: the console's Content-Security-Policy, Swagger UI's, and the
OWASP REST Security Cheat Sheet's set for API answers (gateway/README.md, "Security headers").

Headers a service already set on its answer are left as they are.
"""
from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console (console/index.html, console/js, console/css) loads only its own module scripts and
# stylesheet and calls the API on its own origin; its one image is the `data:,` favicon of
# index.html. No inline script or style, no other origin.
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
# API answers are data, never a page: OWASP REST Security Cheat Sheet, "Security Headers".
API_CSP = "default-src 'none'; frame-ancestors 'none'"

_CONSOLE_CSP, _API_CSP = CONSOLE_CSP.encode(), API_CSP.encode()  # encoded once, not per answer
COMMON = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
FRAMING = ((b"x-frame-options", b"DENY"),)  # for browsers without CSP frame-ancestors
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: str) -> str:
    """Swagger UI's policy: its bundle and stylesheet from this origin (/docs/assets/, served by
    the gateway: no CDN), its inline start-up script by hash (no 'unsafe-inline'); it draws icons
    as data: images (swagger-ui issue #7540), reads /openapi.json and sends "try it out" requests
    to this origin. Checked in Chromium with swagger-ui-dist 5.35.0 from the CDN (page,
    operations opened, try it out, models): no violation, and no inline style, which older or
    differently configured versions needed (issues #3370, #10655). With the 5.32.6 build that
    fastapi-offline 1.7.7 ships, tests/test_console_problems.py checks the page and its
    operations render with no console error and no request to another host."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'none'; script-src 'self' {hashes}; "
            "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _is_rendered_by_a_viewer(content_type: bytes) -> bool:
    """PDFs and images are shown by the browser's own viewer, which `default-src 'none'` breaks
    (Chromium bug 271452: the PDF viewer's page is refused its inline styles)."""
    media = content_type.split(b";")[0].strip().lower()
    return media == b"application/pdf" or media.startswith(b"image/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, docs_policy: str) -> None:
        self.app = app
        self.docs_policy = docs_policy.encode()

    def _policy(self, path: str, content_type: bytes) -> bytes | None:
        if path == "/" or path == "/console" or path.startswith("/console/"):
            return _CONSOLE_CSP
        if path == "/docs":
            return self.docs_policy
        if _is_rendered_by_a_viewer(content_type):
            return None
        return _API_CSP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                policy = self._policy(scope["path"], content_type)
                added = list(COMMON)
                if policy is not None:
                    added += [(b"content-security-policy", policy), *FRAMING]
                if scope["path"].startswith(("/api/", "/.well-known/")):
                    # OWASP: API answers are not to be stored by any cache, unless the service says
                    added.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in added if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
