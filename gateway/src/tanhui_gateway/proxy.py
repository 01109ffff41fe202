"""Forward a request to its service, streaming both bodies, with the request id attached."""
from __future__ import annotations

import logging

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from tanhui_shared.context import request_id_var
from tanhui_shared.web.problems import problem_response

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) never cross a proxy; identity headers are never taken
# from clients: services learn who the caller is from the verified token only.
_DROP_REQUEST = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length", "x-request-id", "forwarded",
    "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
    "x-user-id", "x-user-role", "x-user-name", "x-roles", "x-authenticated-user",
}
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length", "x-request-id"}


async def forward(client: httpx.AsyncClient, base_url: str, service: str, request: Request) -> Response:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST]
    headers.append(("x-request-id", request_id_var.get() or ""))
    if request.client:
        headers.append(("x-forwarded-for", request.client.host))
    upstream = client.build_request(
        request.method,
        base_url + request.url.path,
        params=request.url.query.encode() if request.url.query else None,
        headers=headers,
        content=request.stream(),
    )
    try:
        reply = await client.send(upstream, stream=True)
    except httpx.TimeoutException:
        return problem_response(504, f"the {service} service did not answer in time",
                                instance=request.url.path)
    except httpx.TransportError as exc:
        log.warning("upstream %s unreachable: %s", service, exc.__class__.__name__)
        return problem_response(503, f"the {service} service is unavailable; retry shortly",
                                headers={"Retry-After": "2"}, instance=request.url.path)
    return StreamingResponse(
        reply.aiter_raw(),
        status_code=reply.status_code,
        headers={k: v for k, v in reply.headers.items() if k.lower() not in _DROP_RESPONSE},
        background=BackgroundTask(reply.aclose),
    )
