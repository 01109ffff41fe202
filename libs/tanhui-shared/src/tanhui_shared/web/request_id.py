"""ASGI middleware: accept or mint `X-Request-ID`, keep it in a ContextVar, echo it back."""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..context import accept_request_id, request_id_var

HEADER = b"x-request-id"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = None
        for name, value in scope["headers"]:  # the last one counts, as in a dict of them
            if name == HEADER:
                sent = value
        request_id = accept_request_id(sent.decode("latin-1") if sent else None)
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
