"""The hot-path HTTP/1.1 client against tiny servers: bodies by length, chunked and to the end
of the connection; keep-alive reuse; a retry when a service closed an idle connection."""
from __future__ import annotations

import asyncio

import pytest

from tanhui_gateway.upstream import Upstream, UpstreamError, _parse_head
from tanhui_shared.testing.coroutines import run_coroutine


async def serve(answers: list[bytes], close_after_each: bool = False):
    """A server answering its requests with `answers` in turn; returns (server, port, seen)."""
    seen: list[bytes] = []

    async def handle(reader, writer):
        while answers:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            seen.append(head)
            writer.write(answers.pop(0))
            await writer.drain()
            if close_after_each:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


async def body_of(reply) -> bytes:
    if reply.body is not None:
        return reply.body
    return b"".join([chunk async for chunk in reply.stream])


def test_length_and_chunked_bodies_over_one_kept_alive_connection():
    async def scenario():
        server, port, seen = await serve([
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ])
        upstream = Upstream(f"http://127.0.0.1:{port}", 1, 2)
        first = await upstream.request("GET", "/a?x=1", [("x-request-id", "r1")], None)
        assert (first.status, first.body) == (200, b"hello")
        assert (b"content-type", b"text/plain") in first.headers
        second = await upstream.request("POST", "/b", [], b'{"k": 1}')
        assert second.status == 201 and await body_of(second) == b"abcde"
        third = await upstream.request("DELETE", "/c", [], None)
        assert third.status == 204 and third.body == b""
        assert seen[0].startswith(b"GET /a?x=1 HTTP/1.1\r\nhost: 127.0.0.1:")
        assert b"content-length" not in seen[0] and b"x-request-id: r1" in seen[0]
        assert len(seen) == 3  # one connection served all three
        await upstream.close()
        server.close()

    run_coroutine(scenario())


def test_a_connection_the_service_closed_while_idle_is_replaced_transparently():
    async def scenario():
        answers = [b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na",
                   b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"]
        server, port, _ = await serve(answers, close_after_each=True)
        upstream = Upstream(f"http://127.0.0.1:{port}", 1, 2)
        assert (await upstream.request("GET", "/", [], None)).body == b"a"
        await asyncio.sleep(0.05)  # the server has closed the kept connection meanwhile
        assert (await upstream.request("GET", "/", [], None)).body == b"b"
        server.close()

    run_coroutine(scenario())


def test_an_answer_delimited_by_closing_and_failures():
    async def scenario():
        server, port, _ = await serve([b"HTTP/1.0 200 OK\r\n\r\nuntil the end"], close_after_each=True)
        upstream = Upstream(f"http://127.0.0.1:{port}", 1, 2)
        reply = await upstream.request("GET", "/", [], None)
        assert await body_of(reply) == b"until the end"
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamError) as down:
            await Upstream(f"http://127.0.0.1:{port}", 1, 2).request("GET", "/", [], None)
        assert down.value.status == 503

        async def silent(reader, writer):
            await asyncio.sleep(5)

        slow = await asyncio.start_server(silent, "127.0.0.1", 0)
        with pytest.raises(UpstreamError) as late:
            await Upstream(f"http://127.0.0.1:{slow.sockets[0].getsockname()[1]}", 1, 0.2).request(
                "GET", "/", [], None)
        assert late.value.status == 504
        slow.close()

    run_coroutine(scenario())


def test_response_heads():
    status, headers, keep_alive, length, chunked = _parse_head(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
    assert (status, keep_alive, length, chunked) == (404, False, 12, False)
    assert headers[0] == (b"content-length", b"12")
    assert _parse_head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")[2] is True
