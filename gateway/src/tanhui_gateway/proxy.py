"""Forward a request to its service: clean headers in, bounded body, mapped upstream failures out."""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive

from tanhui_shared.context import request_id_var

from .settings import IpNetwork
from .upstream import Upstream

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) never cross a proxy.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length", "expect",
}
# Identity and client-address claims are never taken from clients: services learn who calls
# from the token they verify themselves, and the client's address from us.
_IDENTITY_EXACT = {"forwarded", "x-real-ip", "x-client-ip", "x-request-id", "x-roles", "x-role"}
_IDENTITY_PREFIXES = ("x-user-", "x-role", "x-authenticated-", "x-forwarded-", "x-auth-")
# The trace context the service gets is the gateway's own span's, never the client's copy.
_TRACE_CONTEXT = {"traceparent", "tracestate"}
_DROP_RESPONSE = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
                  b"x-request-id", b"date", b"server"}  # uvicorn sets its own


def is_client_identity_header(name: str) -> bool:
    name = name.lower()
    return name in _IDENTITY_EXACT or name.startswith(_IDENTITY_PREFIXES)


def upstream_headers(raw: Iterable[tuple[bytes, bytes]], client_ip: str, request_id: str,
                     has_body: bool, body_length: int,
                     trace_context: tuple[str | None, str | None] = (None, None)
                     ) -> list[tuple[str, str]]:
    """What the service receives: the client's headers minus hop-by-hop and identity claims,
    plus our request id, the client address we determined and our trace context."""
    headers = []
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in _HOP_BY_HOP or name in _TRACE_CONTEXT or is_client_identity_header(name):
            continue
        headers.append((name, value.decode("latin-1")))
    headers.append(("x-request-id", request_id))
    headers.append(("x-forwarded-for", client_ip))
    traceparent, tracestate = trace_context
    if traceparent:
        headers.append(("traceparent", traceparent))
        if tracestate:
            headers.append(("tracestate", tracestate))
    if has_body:
        headers.append(("content-length", str(body_length)))
    return headers


def client_address(peer: str | None, forwarded_for: list[str],
                   trusted: tuple[IpNetwork, ...]) -> str:
    """The socket peer, unless it is a trusted proxy: then the right-most X-Forwarded-For entry
    that is not itself a trusted proxy (entries to its left are the client's own claims)."""
    if not peer:
        return "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage from the client: stop at the last address we can vouch for
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address


def _is_trusted(address: str, trusted: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing as soon as it passes `limit` (whatever Content-Length said)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def forward(upstream: Upstream, method: str, target: str, headers: list[tuple[str, str]],
                  body: bytes | None, extra_response_headers: dict[str, str]) -> Response:
    """The service's answer as ours (UpstreamError when it has none)."""
    reply = await upstream.request(method, target, headers, body)
    kept = [(k, v) for k, v in reply.headers if k not in _DROP_RESPONSE]
    kept += [(k.lower().encode("latin-1"), v.encode("latin-1"))
             for k, v in extra_response_headers.items()]
    if reply.body is not None:
        response: Response = Response(reply.body, status_code=reply.status)
        response.raw_headers = [(b"content-length", str(len(reply.body)).encode())] + kept
    else:
        response = StreamingResponse(reply.stream, status_code=reply.status)
        response.raw_headers = kept
    return response


def current_request_id() -> str:
    return request_id_var.get() or ""
